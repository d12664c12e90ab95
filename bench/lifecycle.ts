/**
 * Lifecycle overhead: connect → `run("true")` → close against a started sandbox whose action server is
 * already alive, by `DaytonaRuntime.acquire` and by a baseline written with the raw SDK (in its default mode, events
 * over Socket.IO, as our client runs it) and
 * plain async/await making the same calls: find the sandbox by its SID label, read it (its env holds the
 * session key), the preview link of port 4444, `GET /alive`, `POST /execute_action`, stop.
 */
import type * as Sdk from "@daytonaio/sdk"
import { Effect, Redacted } from "effect"
import { Agent } from "undici"
import { labelsFor, runTrue, sessionKeyOf, waitAlive } from "./raw.js"
import * as DaytonaRuntime from "../src/DaytonaRuntime.js"
import { EmulatorControl } from "../src/emulator/Emulator.js"
import { SID_LABEL } from "../src/services/DaytonaClient.js"
import { apiCalls, byRoute, makeStack } from "./stack.js"
import { type BenchOptions, collectGarbage, median, now, round, sleep } from "./support.js"

/** What `results.lifecycle` holds. */
export interface LifecycleResult {
  readonly runs: number
  readonly ours_ms: number
  readonly baseline_ms: number
  readonly ratio: number
  /** CPU time of this process (client and embedded emulator) per lifecycle, medians. */
  readonly ours_cpu_ms: number
  readonly baseline_cpu_ms: number
  readonly cpu_ratio: number
  readonly api_calls_ours: number
  readonly api_calls_baseline: number
  readonly calls_ours: Record<string, number>
  readonly calls_baseline: Record<string, number>
}

/**
 * The raw-SDK baseline: what a user writes with the SDK and `await`, making the runtime's calls when it attaches:
 * find by SID, read the sandbox, write the lease into its labels, the preview link, `/alive`, `run("true")`, stop.
 */
const baseline = async (daytona: Sdk.Daytona, apiKey: string, agent: Agent, sid: string): Promise<void> => {
  let found: Sdk.Sandbox | undefined
  for await (const sandbox of daytona.list({ labels: { [SID_LABEL]: sid } })) {
    found = sandbox
    break
  }
  if (found === undefined) throw new Error(`no sandbox for ${sid}`)
  // The list items carry no labels' latest state to rely on: read the sandbox, then take the lease (generation + 1).
  const sandbox = await daytona.get(found.id)
  const lease = labelsFor(sid, Date.now())
  const generation = Number(sandbox.labels["effect-daytona/lease-generation"] ?? "0") + 1
  await sandbox.setLabels({
    ...sandbox.labels,
    "effect-daytona/holder": lease["effect-daytona/holder"]!,
    "effect-daytona/lease-generation": String(generation),
    "effect-daytona/heartbeat": lease["effect-daytona/heartbeat"]!,
    "effect-daytona/lease-expires": lease["effect-daytona/lease-expires"]!
  })
  const sessionKey = sessionKeyOf(apiKey, sandbox.id)
  const link = await sandbox.getPreviewLink(4444)
  const headers = { "x-session-api-key": sessionKey, "x-daytona-preview-token": link.token }
  const base = link.url.replace(/\/+$/, "")
  await waitAlive(base, agent, headers)
  await runTrue(base, agent, headers)
  await sandbox.stop()
}

/** Runs the benchmark: `runs` timed runs each (30 full, 6 quick) after warm-up runs, interleaved. */
export const run = async (options: BenchOptions): Promise<LifecycleResult> => {
  const runs = options.quick ? 6 : 30
  const warmup = options.quick ? 1 : 2
  const runtime = makeStack()
  const agent = new Agent()
  const sdk = await import("@daytonaio/sdk")
  try {
    const control = await runtime.runPromise(EmulatorControl)
    const daytona = new sdk.Daytona({
      apiKey: Redacted.value(control.apiKey),
      apiUrl: control.apiUrl,
      target: "us"
    })
    // A started sandbox with its action server up, left running (untimed).
    const prepare = (sid: string) =>
      runtime.runPromise(Effect.scoped(DaytonaRuntime.acquire({ sid, attachToExisting: true, onClose: "keep" })))
    const ours = (sid: string) =>
      runtime.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const handle = yield* DaytonaRuntime.acquire({ sid, attachToExisting: true, onClose: "stop" })
            const result = yield* handle.run("true")
            if (result.exitCode !== 0) return yield* Effect.dieMessage(`run("true") exited ${result.exitCode}`)
          })
        )
      )
    const measure = async (which: "ours" | "baseline", sid: string) => {
      await prepare(sid)
      await runtime.runPromise(control.resetRequests)
      // Let the untimed part's leftovers (process exits, garbage) settle first.
      collectGarbage()
      await sleep(20)
      const cpu = process.cpuUsage()
      const start = now()
      if (which === "ours") await ours(sid)
      else await baseline(daytona, Redacted.value(control.apiKey), agent, sid)
      const ms = now() - start
      const used = process.cpuUsage(cpu)
      const log = await runtime.runPromise(control.requests)
      const state = (await runtime.runPromise(control.sandboxes)).find((sandbox) => sandbox.labels[SID_LABEL] === sid)
      if (state?.state !== "stopped") throw new Error(`${which} left ${sid} ${state?.state ?? "missing"}`)
      return { ms, cpuMs: (used.user + used.system) / 1000, calls: apiCalls(log), routes: byRoute(log) }
    }

    const samples = { ours: [] as Array<number>, baseline: [] as Array<number> }
    const cpu = { ours: [] as Array<number>, baseline: [] as Array<number> }
    const calls = { ours: [] as Array<number>, baseline: [] as Array<number> }
    const routes: { ours: Record<string, number>; baseline: Record<string, number> } = { ours: {}, baseline: {} }
    for (let i = 0; i < warmup + runs; i++) {
      const order = i % 2 === 0 ? (["ours", "baseline"] as const) : (["baseline", "ours"] as const)
      for (const which of order) {
        const measured = await measure(which, `bench-lifecycle-${which}`)
        if (i < warmup) continue
        samples[which].push(measured.ms)
        cpu[which].push(measured.cpuMs)
        calls[which].push(measured.calls)
        routes[which] = measured.routes
      }
    }
    await daytona[Symbol.asyncDispose]()
    const result: LifecycleResult = {
      runs,
      ours_ms: round(median(samples.ours)),
      baseline_ms: round(median(samples.baseline)),
      ratio: round(median(samples.ours) / median(samples.baseline), 3),
      ours_cpu_ms: round(median(cpu.ours)),
      baseline_cpu_ms: round(median(cpu.baseline)),
      cpu_ratio: round(median(cpu.ours) / median(cpu.baseline), 3),
      api_calls_ours: median(calls.ours),
      api_calls_baseline: median(calls.baseline),
      calls_ours: routes.ours,
      calls_baseline: routes.baseline
    }
    options.log(
      `lifecycle: ours ${result.ours_ms} ms, baseline ${result.baseline_ms} ms (×${result.ratio}); ` +
        `CPU ${result.ours_cpu_ms} vs ${result.baseline_cpu_ms} ms; ` +
        `API calls ${result.api_calls_ours} vs ${result.api_calls_baseline}`
    )
    return result
  } finally {
    await agent.close()
    await runtime.dispose()
  }
}
