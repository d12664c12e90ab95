/**
 * Readiness lag: the time from the moment the action server starts to answer (its listening socket is bound) to
 * the moment `DaytonaRuntime.acquire` returns, over runs with a random boot delay. The bind time comes from a hook
 * on `net.Server#listen` in this process (the emulator's action servers run in-process).
 */
import { Effect } from "effect"
import * as Net from "node:net"
import * as DaytonaRuntime from "../src/DaytonaRuntime.js"
import { EmulatorControl } from "../src/emulator/Emulator.js"
import { makeStack } from "./stack.js"
import { type BenchOptions, median, now, quantile, round } from "./support.js"

/** What `results.readiness_lag_ms` holds. */
export interface ReadinessResult {
  readonly runs: number
  readonly p50: number
  readonly max: number
  readonly min: number
  readonly boot_delay_ms: { readonly min: number; readonly max: number }
  readonly connect_p50_ms: number
}

/** Records when every server of this process starts listening. */
const hookListen = (): {
  readonly events: Array<{ readonly port: number; readonly at: number }>
  readonly restore: () => void
} => {
  const events: Array<{ port: number; at: number }> = []
  const original = Net.Server.prototype.listen
  Net.Server.prototype.listen = function (this: Net.Server, ...args: Array<unknown>) {
    this.once("listening", () => {
      const address = this.address()
      events.push({ port: typeof address === "object" && address !== null ? address.port : 0, at: now() })
    })
    return (original as (...args: Array<unknown>) => Net.Server).apply(this, args)
  } as typeof original
  return { events, restore: () => void (Net.Server.prototype.listen = original) }
}

/** A small seeded generator, so every run of the benchmark draws the same boot delays. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Runs the benchmark: 20 runs (quick: 8), boot delays drawn uniformly from 0–3 s. */
export const run = async (options: BenchOptions): Promise<ReadinessResult> => {
  const runs = options.quick ? 8 : 20
  const maxDelay = 3000
  const random = seeded(20_26)
  const hook = hookListen()
  const runtime = makeStack()
  try {
    const control = await runtime.runPromise(EmulatorControl)
    const lags: Array<number> = []
    const connects: Array<number> = []
    const delays: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const bootDelay = Math.round(random() * maxDelay)
      delays.push(bootDelay)
      await runtime.runPromise(control.setActionServer({ bootDelay: `${bootDelay} millis` }))
      const before = hook.events.length
      const start = now()
      const returned = await runtime.runPromise(
        Effect.scoped(Effect.map(DaytonaRuntime.acquire({ sid: `bench-readiness-${i}` }), () => now()))
      )
      // The emulator finds a free host port by listening on port 0 for a moment; the server binds it after.
      const bound = hook.events.slice(before).at(-1)
      if (bound === undefined) throw new Error("no action server started listening")
      lags.push(returned - bound.at)
      connects.push(returned - start)
    }
    const result: ReadinessResult = {
      runs,
      p50: round(quantile(lags, 0.5), 1),
      max: round(Math.max(...lags), 1),
      min: round(Math.min(...lags), 1),
      boot_delay_ms: { min: Math.min(...delays), max: Math.max(...delays) },
      connect_p50_ms: round(median(connects), 1)
    }
    options.log(`readiness: lag p50 ${result.p50} ms, max ${result.max} ms (boot delays ${delays.join(", ")} ms)`)
    return result
  } finally {
    await runtime.dispose()
    hook.restore()
  }
}
