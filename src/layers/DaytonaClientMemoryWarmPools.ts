/**
 * Warm pools in the in-memory `DaytonaClient`, with the API's answers (`/warm-pools`): a pool per snapshot and target
 * (a second one is a `Conflict`, 409), `pool` at least 1 on create and at least 0 on update (else `Invalid`, 400), an
 * unknown id `NotFound` (404). Pools here are always full (`currentSize` = `pool`): a create of the pool's snapshot
 * with no custom env vars is served at once — the sandbox `started`, `claimedFromWarmPool: true` — as long as the pool
 * is above 0; the sandbox it serves is not taken from the count. Creates with env vars, or of another snapshot, are
 * cold (`claimedFromWarmPool: false`).
 *
 * @since 0.2.0
 */
import { Clock, Effect, Option, Random } from "effect"
import type {
  CreateWarmPoolParams,
  DaytonaApiError,
  DaytonaClientService,
  WarmPool
} from "../services/DaytonaClient.js"
import type { ClientMethod, Store } from "./DaytonaClientMemoryStore.js"

/** Runs a client call: records it, consumes a queued failure, retries a 429 (see `DaytonaClientMemory.ts`). */
type Op = <A>(
  method: ClientMethod,
  sandboxId: string | undefined,
  body: Effect.Effect<A, DaytonaApiError>
) => Effect.Effect<A, DaytonaApiError>

interface MemoryPool {
  readonly id: string
  readonly snapshot: string
  readonly target: string
  pool: number
  readonly createdAt: number
  updatedAt: number
}

/**
 * The warm pools of an in-memory client, and the rule its `create` asks: whether a create is served from a pool.
 *
 * @since 0.2.0
 */
export const makeWarmPools = (
  store: Store,
  op: Op
): {
  readonly methods: Pick<DaytonaClientService, "listWarmPools" | "createWarmPool" | "updateWarmPool" | "deleteWarmPool">
  /** Whether a create of `snapshot` with `envVars` is served from a pool. */
  readonly serves: (snapshot: string | undefined, envVars: Readonly<Record<string, string>>) => boolean
} => {
  const pools = new Map<string, MemoryPool>()
  const view = (pool: MemoryPool): WarmPool =>
    Object.freeze({
      id: pool.id,
      organizationId: "memory-organization",
      snapshot: pool.snapshot,
      target: pool.target,
      pool: pool.pool,
      currentSize: pool.pool,
      cpu: 1,
      memoryGiB: 1,
      diskGiB: 3,
      osUser: "daytona",
      env: {},
      errorReason: Option.none(),
      createdAt: Option.some(new Date(pool.createdAt)),
      updatedAt: Option.some(new Date(pool.updatedAt))
    })
  const find = (method: ClientMethod, id: string) => {
    const pool = pools.get(id)
    return pool === undefined
      ? store.fail(method, "NotFound", `Warm pool ${id} not found`, { status: 404 })
      : Effect.succeed(pool)
  }
  const checkSize = (method: ClientMethod, size: number, min: number) =>
    Number.isInteger(size) && size >= min
      ? Effect.void
      : store.fail(method, "Invalid", `pool must not be less than ${min}`, { status: 400 })

  const create = (params: CreateWarmPoolParams) =>
    Effect.gen(function* () {
      yield* checkSize("createWarmPool", params.pool, 1)
      const target = params.target ?? "eu"
      if ([...pools.values()].some((p) => p.snapshot === params.snapshot && p.target === target)) {
        return yield* store.fail(
          "createWarmPool",
          "Conflict",
          `A warm pool for snapshot ${params.snapshot} in region ${target} already exists`,
          { status: 409 }
        )
      }
      const at = yield* Clock.currentTimeMillis
      const id = `pool-${Math.floor((yield* Random.next) * 2 ** 40).toString(16)}`
      const pool: MemoryPool = {
        id,
        snapshot: params.snapshot,
        target,
        pool: params.pool,
        createdAt: at,
        updatedAt: at
      }
      pools.set(id, pool)
      return view(pool)
    })

  return {
    methods: {
      listWarmPools: op(
        "listWarmPools",
        undefined,
        Effect.sync(() => [...pools.values()].map(view))
      ),
      createWarmPool: (params) => op("createWarmPool", undefined, create(params)),
      updateWarmPool: (id, size) =>
        op(
          "updateWarmPool",
          undefined,
          Effect.gen(function* () {
            yield* checkSize("updateWarmPool", size, 0)
            const pool = yield* find("updateWarmPool", id)
            pool.pool = size
            pool.updatedAt = yield* Clock.currentTimeMillis
            return view(pool)
          })
        ),
      deleteWarmPool: (id) =>
        op(
          "deleteWarmPool",
          undefined,
          Effect.map(find("deleteWarmPool", id), () => {
            pools.delete(id)
          })
        )
    },
    serves: (snapshot, envVars) =>
      snapshot !== undefined &&
      Object.keys(envVars).length === 0 &&
      [...pools.values()].some((pool) => pool.snapshot === snapshot && pool.pool > 0)
  }
}
