/**
 * Instant runtimes: how long `acquire` takes, against the embedded emulator with a realistic action server boot (3 s,
 * the emulator's `actionServer.bootDelay`) and sandbox creation (400 ms, within Daytona's measured 0.1–0.7 s):
 *
 * - from our runtime pool (`DaytonaRuntime.pool`), a ready runtime handed out (liveness check, relabel), p50 and p99;
 * - cold (`DaytonaRuntime.acquire`, no warm pool): create, boot, wait until the server answers;
 * - against an emulator warm pool that matches the runtime's env-free create (claimed: no create wait, the boot stays);
 * - against one that does not (its env differs, as OpenHands Cloud's did): unclaimed, a cold create.
 */
import { Effect, Exit, Scope } from "effect"
import * as DaytonaRuntime from "../src/DaytonaRuntime.js"
import { EmulatorControl } from "../src/emulator/Emulator.js"
import { makeStack } from "./stack.js"
import { type BenchOptions, median, now, quantile, round, sleep } from "./support.js"

/** What `results.warm_pool` holds. */
export interface WarmPoolResult {
  readonly boot_delay_ms: number
  readonly create_latency_ms: number
  readonly pool_runs: number
  readonly cold_runs: number
  /** Hand-out from our runtime pool (a ready runtime), ms. */
  readonly pool_p50_ms: number
  readonly pool_p99_ms: number
  /** `acquire` with no warm pool, ms. */
  readonly cold_p50_ms: number
  /** `acquire` served by a matching emulator warm pool, ms. */
  readonly claimed_p50_ms: number
  /** `acquire` with a warm pool that does not match (another env), ms. */
  readonly unclaimed_p50_ms: number
  /** How many of the claimed runs the runtime reported as served by the warm pool (should be all). */
  readonly claimed_seen: number
  /** How many of the unclaimed runs it reported cold (should be all). */
  readonly unclaimed_seen: number
}

const BOOT_MS = 3000
const CREATE_MS = 400

const stackOptions = {
  emulator: {
    latencies: { create: `${CREATE_MS} millis`, start: 0, stop: 0, delete: 0, recover: 0 },
    actionServer: { bootDelay: `${BOOT_MS} millis` }
  }
} as const

/** Times `runs` cold acquires (each closed, deleted, untimed), with an emulator warm pool made by `prepare`. */
const acquires = async (
  runs: number,
  label: string,
  prepare: Effect.Effect<void, unknown, EmulatorControl>
): Promise<{ readonly samples: ReadonlyArray<number>; readonly origins: ReadonlyArray<string> }> => {
  const runtime = makeStack(stackOptions)
  try {
    await runtime.runPromise(prepare)
    const samples: Array<number> = []
    const origins: Array<string> = []
    for (let i = 0; i < runs; i++) {
      const scope = await runtime.runPromise(Scope.make())
      const start = now()
      const handle = await runtime.runPromise(
        Scope.extend(DaytonaRuntime.acquire({ sid: `bench-${label}-${i}`, onClose: "delete" }), scope)
      )
      samples.push(now() - start)
      origins.push(handle.origin.sandbox)
      await runtime.runPromise(Scope.close(scope, Exit.void))
      // Let the emulator's pool refill (its create latency) before the next run.
      await sleep(CREATE_MS + 200)
    }
    return { samples, origins }
  } finally {
    await runtime.dispose()
  }
}

/** Times hand-outs from our runtime pool, each once a runtime is ready. */
const handOuts = async (runs: number, log: (line: string) => void): Promise<ReadonlyArray<number>> => {
  const runtime = makeStack(stackOptions)
  try {
    const poolScope = await runtime.runPromise(Scope.make())
    const pool = await runtime.runPromise(Scope.extend(DaytonaRuntime.pool({ size: 4 }), poolScope))
    const samples: Array<number> = []
    for (let i = 0; i < runs; i++) {
      while ((await runtime.runPromise(pool.stats)).ready === 0) await sleep(50)
      const scope = await runtime.runPromise(Scope.make())
      const start = now()
      await runtime.runPromise(Scope.extend(pool.acquire({ sid: `bench-pool-${i}`, onClose: "delete" }), scope))
      samples.push(now() - start)
      await runtime.runPromise(Scope.close(scope, Exit.void))
      if ((i + 1) % 10 === 0) log(`warm_pool: ${i + 1}/${runs} hand-outs`)
    }
    await runtime.runPromise(Scope.close(poolScope, Exit.void))
    return samples
  } finally {
    await runtime.dispose()
  }
}

/** Runs the benchmark: 40 hand-outs and 8 acquires of each kind (quick: 10 and 3). */
export const run = async (options: BenchOptions): Promise<WarmPoolResult> => {
  const poolRuns = options.quick ? 10 : 40
  const coldRuns = options.quick ? 3 : 8
  const pooled = await handOuts(poolRuns, options.log)
  options.log(`warm_pool: pool hand-out p50 ${round(median(pooled))} ms`)
  const cold = await acquires(coldRuns, "cold", Effect.void)
  options.log(`warm_pool: cold acquire p50 ${round(median(cold.samples))} ms`)
  const claimed = await acquires(
    coldRuns,
    "claimed",
    Effect.flatMap(EmulatorControl, (control) =>
      Effect.zipRight(
        control.createWarmPool({ snapshot: "daytonaio/sandbox:emulator", pool: 2 }),
        Effect.sleep(`${CREATE_MS + 200} millis`)
      )
    )
  )
  const unclaimed = await acquires(
    coldRuns,
    "unclaimed",
    Effect.flatMap(EmulatorControl, (control) =>
      Effect.zipRight(
        control.createWarmPool({ snapshot: "daytonaio/sandbox:emulator", pool: 2, env: { MODE: "agent" } }),
        Effect.sleep(`${CREATE_MS + 200} millis`)
      )
    )
  )
  const result: WarmPoolResult = {
    boot_delay_ms: BOOT_MS,
    create_latency_ms: CREATE_MS,
    pool_runs: poolRuns,
    cold_runs: coldRuns,
    pool_p50_ms: round(quantile(pooled, 0.5)),
    pool_p99_ms: round(quantile(pooled, 0.99)),
    cold_p50_ms: round(median(cold.samples)),
    claimed_p50_ms: round(median(claimed.samples)),
    unclaimed_p50_ms: round(median(unclaimed.samples)),
    claimed_seen: claimed.origins.filter((origin) => origin === "warm-pool").length,
    unclaimed_seen: unclaimed.origins.filter((origin) => origin === "cold").length
  }
  options.log(
    `warm_pool: pool p50 ${result.pool_p50_ms} ms (p99 ${result.pool_p99_ms}); cold ${result.cold_p50_ms} ms; ` +
      `claimed ${result.claimed_p50_ms} ms (${result.claimed_seen}/${coldRuns} seen); ` +
      `unclaimed ${result.unclaimed_p50_ms} ms (${result.unclaimed_seen}/${coldRuns} cold)`
  )
  return result
}
