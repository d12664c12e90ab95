/**
 * `pool list|create|update|delete`: Daytona's warm pools of the organization — ready sandboxes of a snapshot that a
 * create without custom env vars takes at once (the runtime's creates carry none).
 *
 * @since 0.2.0
 */
import { Console, Effect, Option } from "effect"
import { DaytonaClient } from "../services/DaytonaClient.js"
import type { WarmPool } from "../services/DaytonaClient.js"
import * as Env from "./Env.js"
import { table } from "./Manage.js"
import * as Output from "./Output.js"

/**
 * A warm pool as the CLI shows it (`--json`): the env's names only, its values may be secret.
 *
 * @since 0.2.0
 */
export const poolJson = (pool: WarmPool) => ({
  id: pool.id,
  snapshot: pool.snapshot,
  target: pool.target,
  pool: pool.pool,
  currentSize: pool.currentSize,
  cpu: pool.cpu,
  memoryGiB: pool.memoryGiB,
  diskGiB: pool.diskGiB,
  osUser: pool.osUser,
  envNames: Object.keys(pool.env),
  errorReason: Option.getOrNull(pool.errorReason),
  createdAt: Option.getOrNull(Option.map(pool.createdAt, (date) => date.toISOString()))
})

/** One line about a pool, for people. */
const describe = (pool: WarmPool): string =>
  `${pool.id}: snapshot ${pool.snapshot} in ${pool.target}, ${pool.currentSize} of ${pool.pool} ready` +
  Option.match(pool.errorReason, { onNone: () => "", onSome: (reason) => ` (cannot fill: ${reason})` })

/**
 * `pool list`: the organization's warm pools — id, snapshot, region, ready of desired, why one cannot be filled.
 *
 * @since 0.2.0
 */
export const list = (flags: Env.CommonFlags) =>
  Effect.gen(function* () {
    const pools = yield* (yield* DaytonaClient).listWarmPools
    if (flags.json) return yield* Output.printJson({ ok: true, pools: pools.map(poolJson) })
    if (pools.length === 0) return yield* Console.log("No warm pool (create one: effect-daytona pool create).")
    yield* Console.log(
      table([
        ["ID", "SNAPSHOT", "TARGET", "READY", "ERROR"],
        ...pools.map((pool) => [
          pool.id,
          pool.snapshot,
          pool.target,
          `${pool.currentSize}/${pool.pool}`,
          Option.getOrElse(pool.errorReason, () => "")
        ])
      ])
    )
  }).pipe(Effect.provide(Env.clientLayer(flags)))

/**
 * `pool create --snapshot S --size N [--target T]`.
 *
 * @since 0.2.0
 */
export const create = (
  flags: Env.CommonFlags & {
    readonly snapshot: string
    readonly size: number
    readonly target: Option.Option<string>
  }
) =>
  Effect.gen(function* () {
    const pool = yield* (yield* DaytonaClient).createWarmPool({
      snapshot: flags.snapshot,
      pool: flags.size,
      target: Option.getOrUndefined(flags.target)
    })
    if (flags.json) return yield* Output.printJson({ ok: true, pool: poolJson(pool) })
    yield* Console.log(`created warm pool ${describe(pool)}`)
  }).pipe(Effect.provide(Env.clientLayer(flags)))

/**
 * `pool update ID --size N` (`--size 0` drains the pool).
 *
 * @since 0.2.0
 */
export const update = (flags: Env.CommonFlags & { readonly id: string; readonly size: number }) =>
  Effect.gen(function* () {
    const pool = yield* (yield* DaytonaClient).updateWarmPool(flags.id, flags.size)
    if (flags.json) return yield* Output.printJson({ ok: true, pool: poolJson(pool) })
    yield* Console.log(`updated warm pool ${describe(pool)}`)
  }).pipe(Effect.provide(Env.clientLayer(flags)))

/**
 * `pool delete ID`.
 *
 * @since 0.2.0
 */
export const remove = (flags: Env.CommonFlags & { readonly id: string }) =>
  Effect.gen(function* () {
    yield* (yield* DaytonaClient).deleteWarmPool(flags.id)
    if (flags.json) return yield* Output.printJson({ ok: true, id: flags.id, deleted: true })
    yield* Console.log(`deleted warm pool ${flags.id}`)
  }).pipe(Effect.provide(Env.clientLayer(flags)))
