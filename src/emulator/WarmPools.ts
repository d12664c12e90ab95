/**
 * Warm pools (`/api/warm-pools`, the SDK's `daytona.warmPool.*`): per snapshot and region, a number of started
 * sandboxes that belong to no organization until a create claims one. As Daytona's `SandboxWarmPoolService`
 * matches them, a create is served warm only with the pool's snapshot and region, the default resources and OS
 * user, and no custom env vars, volumes or secrets; the claimed sandbox keeps its id and takes the create's
 * name, labels, visibility and intervals. Pools are refilled by the job loop (and right after a claim).
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
 * The warm pools.
 *
 * @since 0.1.0
 */
export interface WarmPools {
  readonly list: Effect.Effect<ReadonlyArray<WarmPoolView>>
  readonly create: (request: {
    readonly snapshot: string
    readonly pool: number
    readonly target?: string | undefined
  }) => Effect.Effect<WarmPoolView, HttpFailure>
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
  readonly createdAt: Date
  readonly updatedAt: Date
}

const DEFAULT_USER = "daytona"

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

  const members = (poolId: string) =>
    [...core.records.values()].filter((record) => record.warmPoolId === poolId && record.desiredState === "started")
  const view = (pool: Pool): WarmPoolView => ({
    id: pool.id,
    organizationId: options.organizationId,
    snapshot: pool.snapshot,
    target: pool.target,
    pool: pool.pool,
    currentSize: members(pool.id).filter((record) => record.state === "started").length,
    cpu: 1,
    mem: 1,
    disk: 3,
    osUser: DEFAULT_USER,
    env: {},
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
        const record = yield* freshRecord(core, { snapshot: pool.snapshot, target: pool.target }, at, {
          warmPoolId: pool.id
        })
        yield* core.insert(record)
        yield* store.transition(record.id, "creating", "started", yield* core.latency("create"))
      }
    }).pipe(Effect.catchAll((failure) => Effect.logWarning(`warm pool ${pool.id} refill failed: ${failure.message}`)))

  const refill = Effect.suspend(() => Effect.forEach([...pools.values()], refillPool, { discard: true }))

  const qualifies = (input: CreateInput) =>
    input.buildInfo === undefined &&
    input.customized !== true &&
    (input.user === undefined || input.user === DEFAULT_USER) &&
    Object.keys(input.env ?? {}).length === 0

  const claim = (input: CreateInput) =>
    Effect.gen(function* () {
      if (!qualifies(input)) return Option.none<SandboxRecord>()
      const snapshot = input.snapshot ?? DEFAULT_SNAPSHOT
      const target = input.target ?? catalog.defaultRegion
      const pool = [...pools.values()].find((p) => p.snapshot === snapshot && p.target === target && p.pool > 0)
      if (pool === undefined) return Option.none<SandboxRecord>()
      const member = members(pool.id).find((record) => record.state === "started" && !isPending(record))
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
