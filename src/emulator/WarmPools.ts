/**
 * Warm pools (`/api/warm-pools`, the SDK's `daytona.warmPool.*`): per snapshot and region, a number of started
 * sandboxes that belong to no organization until a create claims one. The claim follows Daytona's own
 * `SandboxWarmPoolService.fetchWarmPoolSandbox` and `SandboxService.assignWarmPoolSandbox` (daytonaio/daytona
 * v0.190.0, `apps/api/src/sandbox/services/`):
 *
 * - no claim for a declarative build, a GPU snapshot, a linked sandbox or volumes (and, as the API's 0.205
 *   `CreateWarmPool` documents, secrets);
 * - no claim while the snapshot is marked "no warm pool" — for 60 s after a create of it found no pool that
 *   matched (Daytona caches that in Redis under `warm-pool:skip:<snapshot id>`, for every create of the snapshot);
 * - a pool matches on snapshot, target, the snapshot's cpu, mem, disk and gpu, the OS user and the env — where the
 *   create's `user` or `env` is absent, that column is not compared (TypeORM drops `undefined` from a `where`), and
 *   the env is compared as the pool's JSON text (`{}` for every pool the API creates); and its `pool` is above 0;
 * - a candidate is a started member that is not changing state, picked in random order;
 * - the claimed sandbox keeps its id, env and OS user, and takes the create's visibility, labels, name (when given)
 *   and intervals; its `createdAt` (and last activity) become now. Daytona announces it as a state update `started`
 *   → `started` (no `sandbox.created`), answers the create with it already `started`, and tops the pool up.
 *
 * Pools are refilled by the job loop (Daytona: every 10 s) and right after a claim.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import type { Catalog } from "./Catalog.js"
import { DEFAULT_SNAPSHOT, HttpFailure } from "./Dto.js"
import type { CreateInput, SandboxRecord } from "./Dto.js"
import { coreOf, freshRecord, isErrored, isPending } from "./Store.js"
import type { Store } from "./Store.js"

/**
 * A pool as `WarmPool` shows it.
 *
 * @since 0.1.0
 */
export interface WarmPoolView {
  readonly id: string
  readonly organizationId: string
  readonly snapshot: string
  readonly target: string
  readonly pool: number
  readonly currentSize: number
  readonly cpu: number
  readonly mem: number
  readonly disk: number
  readonly osUser: string
  readonly env: Readonly<Record<string, string>>
  readonly errorReason: string | null
  readonly createdAt: string
  readonly updatedAt: string
}

/**
 * What a pool is created with. The API's `CreateWarmPool` carries only `snapshot`, `pool` and `target`; `env` and
 * `osUser` (Daytona's admin-made pools have both columns) are for the emulator's control.
 *
 * @since 0.2.0
 */
export interface WarmPoolRequest {
  readonly snapshot: string
  readonly pool: number
  readonly target?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly osUser?: string | undefined
}

/**
 * The warm pools.
 *
 * @since 0.1.0
 */
export interface WarmPools {
  readonly list: Effect.Effect<ReadonlyArray<WarmPoolView>>
  readonly create: (request: WarmPoolRequest) => Effect.Effect<WarmPoolView, HttpFailure>
  readonly update: (id: string, pool: number) => Effect.Effect<WarmPoolView, HttpFailure>
  readonly remove: (id: string) => Effect.Effect<void, HttpFailure>
  /** A pooled sandbox for a create that qualifies (already validated), or none. */
  readonly claim: (input: CreateInput) => Effect.Effect<Option.Option<SandboxRecord>, HttpFailure>
  /** Starts the members a pool misses and removes those beyond its size. */
  readonly refill: Effect.Effect<void>
}

interface Pool {
  readonly id: string
  readonly snapshot: string
  readonly target: string
  readonly pool: number
  readonly osUser: string
  readonly env: Readonly<Record<string, string>>
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** Every pooled sandbox runs as Daytona's default OS user (`createForWarmPool`). */
const DEFAULT_USER = "daytona"
/** The emulator's snapshots and sandboxes: 1 CPU, 1 GiB, 3 GiB disk, no GPU (see `Catalog.toSnapshotDto`). */
const RESOURCES = { cpu: 1, mem: 1, disk: 3, gpu: 0 } as const
/** How long Daytona remembers that a snapshot has no matching pool (`warm-pool:skip:<id>`, `EX 60`). */
const SKIP_MILLIS = 60_000

/** An env as Daytona's `simple-json` column holds it: its JSON text. */
const envText = (env: Readonly<Record<string, string>>): string => JSON.stringify(env)

/**
 * Makes the warm pools of the emulator's organization.
 *
 * @since 0.1.0
 */
export const makeWarmPools = (options: {
  readonly store: Store
  readonly catalog: Catalog
  readonly organizationId: string
}): WarmPools => {
  const { catalog, store } = options
  const core = coreOf(store)
  const pools = new Map<string, Pool>()
  /** Snapshot id → when its "no warm pool" mark lapses (epoch millis). */
  const skips = new Map<string, number>()

  const members = (poolId: string) =>
    [...core.records.values()].filter((record) => record.warmPoolId === poolId && record.desiredState === "started")
  const view = (pool: Pool): WarmPoolView => ({
    id: pool.id,
    organizationId: options.organizationId,
    snapshot: pool.snapshot,
    target: pool.target,
    pool: pool.pool,
    currentSize: members(pool.id).filter((record) => record.state === "started").length,
    // The entity has a gpu column too, but the API's `WarmPool` does not show it.
    cpu: RESOURCES.cpu,
    mem: RESOURCES.mem,
    disk: RESOURCES.disk,
    osUser: pool.osUser,
    env: { ...pool.env },
    errorReason: null,
    createdAt: pool.createdAt.toISOString(),
    updatedAt: pool.updatedAt.toISOString()
  })
  const findPool = (id: string) =>
    Option.match(Option.fromNullable(pools.get(id)), {
      onNone: () => Effect.fail(new HttpFailure({ status: 404, detail: `Warm pool ${id} not found` })),
      onSome: Effect.succeed
    })

  const refillPool = (pool: Pool) =>
    Effect.gen(function* () {
      const live = members(pool.id).filter((record) => !isErrored(record))
      for (const extra of live.slice(pool.pool)) yield* store.destroy(extra.id)
      for (let missing = pool.pool - live.length; missing > 0; missing--) {
        const at = yield* core.now
        const record = yield* freshRecord(
          core,
          // `createForWarmPool` always makes members as the default user (a "TODO" in Daytona's source).
          { snapshot: pool.snapshot, target: pool.target, env: pool.env, user: DEFAULT_USER },
          at,
          { warmPoolId: pool.id }
        )
        yield* core.insert(record)
        yield* store.transition(record.id, "creating", "started", yield* core.latency("create"))
      }
    }).pipe(Effect.catchAll((failure) => Effect.logWarning(`warm pool ${pool.id} refill failed: ${failure.message}`)))

  const refill = Effect.suspend(() => Effect.forEach([...pools.values()], refillPool, { discard: true }))

  /** The pool that serves a create (`fetchWarmPoolSandbox`'s `warmPoolRepository.findOne`). */
  const matching = (input: CreateInput, snapshot: string, target: string) =>
    [...pools.values()].find(
      (pool) =>
        pool.snapshot === snapshot &&
        pool.target === target &&
        (input.user === undefined || pool.osUser === input.user) &&
        (input.env === undefined || envText(pool.env) === envText(input.env)) &&
        pool.pool > 0
    )

  const claim = (input: CreateInput) =>
    Effect.gen(function* () {
      // `createFromSnapshot` tries a pool only for a snapshot without GPU, no linked sandbox and no volumes.
      if (input.buildInfo !== undefined || input.customized === true) return Option.none<SandboxRecord>()
      const snapshot = catalog.findSnapshot(input.snapshot ?? DEFAULT_SNAPSHOT)
      if (Option.isNone(snapshot)) return Option.none<SandboxRecord>()
      const now = (yield* core.now).getTime()
      const skipUntil = skips.get(snapshot.value.id)
      if (skipUntil !== undefined && skipUntil > now) return Option.none<SandboxRecord>()
      const pool = matching(input, snapshot.value.name, input.target ?? catalog.defaultRegion)
      if (pool === undefined) {
        skips.set(snapshot.value.id, now + SKIP_MILLIS)
        return Option.none<SandboxRecord>()
      }
      const candidates = members(pool.id).filter(
        (record) =>
          record.state === "started" &&
          !isPending(record) &&
          record.user === pool.osUser &&
          envText(record.env) === envText(pool.env)
      )
      const member = candidates[Math.floor(Math.random() * candidates.length)]
      if (member === undefined) return Option.none<SandboxRecord>()
      if (input.name !== undefined && core.nameTaken(input.name)) {
        return yield* new HttpFailure({ status: 409, detail: `Sandbox with name ${input.name} already exists` })
      }
      const claimed = yield* core.change(member.id, (record, at) => ({
        ...record,
        warmPoolId: undefined,
        claimedFromPool: pool.id,
        name: input.name ?? record.name,
        labels: { ...input.labels },
        public: input.public ?? false,
        createdAt: at,
        updatedAt: at,
        // The organization changed: Daytona's repository writes the last activity anew.
        lastActivityAt: at,
        ...(input.autoStopInterval === undefined ? {} : { autoStopInterval: input.autoStopInterval }),
        ...(input.autoArchiveInterval === undefined ? {} : { autoArchiveInterval: input.autoArchiveInterval }),
        ...(input.autoDeleteInterval === undefined ? {} : { autoDeleteInterval: input.autoDeleteInterval })
      }))
      if (Option.isNone(claimed)) return Option.none<SandboxRecord>()
      // Daytona announces a claim as a state update `started` → `started`.
      core.announce({ _tag: "StateUpdated", record: claimed.value, oldState: "started", newState: "started" })
      yield* Effect.forkDaemon(refillPool(pool))
      return claimed
    })

  return {
    list: Effect.sync(() => [...pools.values()].map(view)),
    create: (request) =>
      Effect.gen(function* () {
        const snapshot = catalog.findSnapshot(request.snapshot)
        if (Option.isNone(snapshot)) {
          return yield* new HttpFailure({
            status: 400,
            detail: `Snapshot ${request.snapshot} not found. Did you add it through the Daytona Dashboard?`
          })
        }
        const target = request.target ?? catalog.defaultRegion
        if (!catalog.regions.includes(target))
          return yield* new HttpFailure({ status: 404, detail: "Region not found" })
        const name = snapshot.value.name
        if ([...pools.values()].some((p) => p.snapshot === name && p.target === target)) {
          return yield* new HttpFailure({
            status: 409,
            detail: `A warm pool for snapshot ${name} in region ${target} already exists`
          })
        }
        const at = yield* core.now
        const pool: Pool = {
          id: randomUUID(),
          snapshot: name,
          target,
          pool: request.pool,
          osUser: request.osUser ?? DEFAULT_USER,
          env: { ...request.env },
          createdAt: at,
          updatedAt: at
        }
        pools.set(pool.id, pool)
        yield* refillPool(pool)
        return view(pool)
      }),
    update: (id, size) =>
      Effect.gen(function* () {
        const pool = yield* findPool(id)
        const updated: Pool = { ...pool, pool: size, updatedAt: yield* core.now }
        pools.set(id, updated)
        yield* refillPool(updated)
        return view(updated)
      }),
    remove: (id) =>
      Effect.gen(function* () {
        const pool = yield* findPool(id)
        pools.delete(id)
        for (const member of members(pool.id)) yield* store.destroy(member.id)
      }),
    claim,
    refill
  }
}
