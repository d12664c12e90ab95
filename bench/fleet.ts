/**
 * Fleet: N runtimes at once in one process (each creates its sandbox, starts its in-process action server,
 * waits until it answers, runs `true` and closes), against one runtime alone: wall time, connect p50/p95,
 * the process's peak RSS and CPU time, and the sandboxes (or sandbox processes) left running after every scope
 * closed.
 *
 * Each size runs in a fresh process (`run.js --fleet-child N`), so the peak RSS is that of a process holding
 * N runtimes and the embedded emulator, not of whatever ran before. The emulator serves previews in `direct`
 * mode: every sandbox's action server is its own origin, as every Daytona sandbox's preview host is, instead of
 * all of them sharing the emulator's one listening socket.
 */
import type * as Sdk from "@daytonaio/sdk"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { Agent } from "undici"
import { fileURLToPath } from "node:url"
import * as DaytonaRuntime from "../src/DaytonaRuntime.js"
import { EmulatorControl } from "../src/emulator/Emulator.js"
import * as Raw from "./raw.js"
import { makeClientStack, makeStack, spawnEmulator } from "./stack.js"
import {
  type BenchOptions,
  collectGarbage,
  mainThreadCpuMs,
  median,
  processCpuMs,
  now,
  quantile,
  round,
  sampleRss
} from "./support.js"

/** One row of `results.fleet`. */
export interface FleetRow {
  readonly n: number
  /** `embedded`: the emulator and its action servers share the process; `separate`: they run in a child. */
  readonly placement: Placement
  /** `ours`: `DaytonaRuntime.acquire`; `raw-sdk`: the same calls with the SDK, undici and async/await. */
  readonly client: Client
  readonly wall_ms: number
  readonly single_ms: number
  readonly wall_ratio: number
  readonly p50_ms: number
  readonly p95_ms: number
  readonly peak_rss_mb: number
  readonly leaked: number
  /** This process's CPU time (runtimes and embedded emulator) during the fleet, per runtime. */
  readonly cpu_per_runtime_ms: number
  /** The main thread's share of it (Linux): N times it is the least wall time one event loop can do N in. */
  readonly main_thread_cpu_per_runtime_ms: number | null
  /** The emulator process's CPU time per runtime, when it runs apart (Linux); `null` when embedded. */
  readonly emulator_cpu_per_runtime_ms: number | null
  readonly failed: number
  /** The first few distinct failures, if any. */
  readonly errors: ReadonlyArray<string>
  readonly max_concurrent_creates: number
}

/**
 * The admission limit the fleet runs with: `DAYTONA_MAX_CONCURRENT_CREATES` when set, else the default (16).
 */
export const MAX_CONCURRENT_CREATES = Number(process.env["DAYTONA_MAX_CONCURRENT_CREATES"] ?? 16)

/** `n` runtimes at once: connect, `run("true")`, close. Returns the wall time and each connect time. */
export const fleetOf = (n: number, prefix: string) =>
  Effect.gen(function* () {
    const start = now()
    const outcomes = yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) =>
        Effect.scoped(
          Effect.gen(function* () {
            const begin = now()
            const handle = yield* DaytonaRuntime.acquire({ sid: `${prefix}-${i}` })
            const connected = now() - begin
            const result = yield* handle.run("true")
            if (result.exitCode !== 0) return yield* Effect.dieMessage(`run("true") exited ${result.exitCode}`)
            return connected
          })
        ).pipe(Effect.either),
      { concurrency: "unbounded" }
    )
    const connects = outcomes.flatMap((outcome) => (outcome._tag === "Right" ? [outcome.right] : []))
    const failures = outcomes.flatMap((outcome) => (outcome._tag === "Left" ? [outcome.left] : []))
    return { wall: now() - start, connects, failures }
  })

/** What one fleet run measured. */
export interface FleetRun {
  readonly wall: number
  readonly connects: ReadonlyArray<number>
  readonly failures: ReadonlyArray<{ readonly _tag?: string; readonly message: string }>
}

/** `n` raw-SDK lifecycles at once (see `raw.ts`), admitted as ours: 16 creates at a time, paced or not. */
export const rawFleetOf = async (
  daytona: Sdk.Daytona,
  apiKey: string,
  agent: Agent,
  pacer: Raw.Pacer,
  n: number,
  prefix: string
): Promise<FleetRun> => {
  const start = now()
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => Raw.lifecycle(daytona, apiKey, agent, pacer, `${prefix}-${i}`))
  )
  return {
    wall: now() - start,
    connects: outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : [])),
    failures: outcomes.flatMap((outcome) =>
      outcome.status === "rejected" ? [{ message: String((outcome.reason as Error)?.message ?? outcome.reason) }] : []
    )
  }
}

/** Where the emulator runs: in the fleet's process, or in a process of its own. */
export type Placement = "embedded" | "separate"

/** Who drives the lifecycles. */
export type Client = "ours" | "raw-sdk"

/** The sandboxes still running and the sandbox processes still alive, as the emulator sees them. */
interface Leaks {
  readonly running: number
  readonly live: number
}

/**
 * These rows measure a burst against an emulator that enforces no rate: no pacing on either side (the paced rows are
 * in `paced.ts`), the default 16 creates at a time on both.
 */
const admission = { maxConcurrentCreates: MAX_CONCURRENT_CREATES, createsPerMinute: 0 } as const

/** One size, in this process. */
export const runSize = async (n: number, placement: Placement, client: Client = "ours"): Promise<FleetRow> => {
  if (client === "raw-sdk" && placement === "embedded")
    throw new Error("the raw-SDK fleet runs with a separate emulator")
  const child = placement === "separate" ? await spawnEmulator({ previewMode: "direct" }) : undefined
  const embedded = child === undefined ? makeStack({ ...admission, emulator: { previewMode: "direct" } }) : undefined
  const runtime = embedded ?? makeClientStack(child!, admission)
  const sdk = client === "raw-sdk" ? await import("@daytonaio/sdk") : undefined
  // The SDK in its default mode (events over Socket.IO), as our client runs it.
  const daytona =
    sdk === undefined ? undefined : new sdk.Daytona({ apiKey: child!.apiKey, apiUrl: child!.apiUrl, target: "us" })
  const agent = new Agent()
  const pacer = Raw.makePacer(MAX_CONCURRENT_CREATES, 0)
  const drive = (size: number, prefix: string): Promise<FleetRun> =>
    daytona === undefined
      ? runtime.runPromise(fleetOf(size, prefix))
      : rawFleetOf(daytona, child!.apiKey, agent, pacer, size, prefix)
  const leaks = async (): Promise<Leaks> => {
    const isRunning = (state: string) => state !== "stopped" && state !== "destroyed"
    if (embedded === undefined) {
      const sandboxes = await child!.ask<ReadonlyArray<{ state: string }>>("sandboxes")
      return { running: sandboxes.filter((sandbox) => isRunning(sandbox.state)).length, live: await child!.ask("live") }
    }
    const control = await embedded.runPromise(EmulatorControl)
    const sandboxes = await embedded.runPromise(control.sandboxes)
    return {
      running: sandboxes.filter((sandbox) => isRunning(sandbox.state)).length,
      live: await embedded.runPromise(control.liveProcesses)
    }
  }
  try {
    // One runtime alone, a few times (the first warms the code paths up); the median is the reference.
    const singles: Array<number> = []
    for (let i = 0; i < 4; i++) {
      const single = await drive(1, `single-${i}`)
      if (single.failures.length > 0) throw single.failures[0]
      if (i > 0) singles.push(single.wall)
    }
    collectGarbage()
    const rss = sampleRss()
    const cpu = process.cpuUsage()
    const mainBefore = mainThreadCpuMs()
    const emulatorBefore = child === undefined ? undefined : processCpuMs(child.pid)
    const fleet = await drive(n, "fleet")
    const used = process.cpuUsage(cpu)
    const mainAfter = mainThreadCpuMs()
    const emulatorAfter = child === undefined ? undefined : processCpuMs(child.pid)
    const peak = rss.stop()
    const left = await leaks()
    const single = median(singles)
    return {
      n,
      placement,
      client,
      wall_ms: round(fleet.wall, 1),
      single_ms: round(single, 1),
      wall_ratio: round(fleet.wall / single, 2),
      p50_ms: round(quantile(fleet.connects, 0.5), 1),
      p95_ms: round(quantile(fleet.connects, 0.95), 1),
      peak_rss_mb: round(peak, 1),
      leaked: left.running + left.live,
      cpu_per_runtime_ms: round((used.user + used.system) / 1000 / n, 1),
      main_thread_cpu_per_runtime_ms:
        mainBefore === undefined || mainAfter === undefined ? null : round((mainAfter - mainBefore) / n, 1),
      emulator_cpu_per_runtime_ms:
        emulatorBefore === undefined || emulatorAfter === undefined
          ? null
          : round((emulatorAfter - emulatorBefore) / n, 1),
      failed: fleet.failures.length,
      errors: [
        ...new Set(fleet.failures.map((failure) => `${failure._tag ?? "Error"}: ${failure.message}`.slice(0, 300)))
      ].slice(0, 3),
      max_concurrent_creates: MAX_CONCURRENT_CREATES
    }
  } finally {
    pacer.close()
    await daytona?.[Symbol.asyncDispose]()
    await agent.close()
    await runtime.dispose()
    await child?.close()
  }
}

/** Runs one size in a fresh process and reads its row. */
const inChild = (n: number, placement: Placement, client: Client): Promise<FleetRow> =>
  new Promise((resolve, reject) => {
    const entry = fileURLToPath(new URL("./run.js", import.meta.url))
    const child = spawn(process.execPath, ["--expose-gc", entry, "--fleet-child", `${n}:${placement}:${client}`], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.on("error", reject)
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? ""
      if (code === 0 && line.startsWith("{")) resolve(JSON.parse(line) as FleetRow)
      else reject(new Error(`the fleet of ${n} exited ${code}: ${out.slice(-500)}`))
    })
  })

/**
 * Runs the benchmark for 50, 100 and 200 runtimes (quick: 50 and 200) with the emulator embedded, then 200 with the
 * emulator in a process of its own (the client process alone), by `acquire` and by the raw SDK.
 */
export const run = async (options: BenchOptions): Promise<ReadonlyArray<FleetRow>> => {
  const sizes = options.quick ? [50, 200] : [50, 100, 200]
  const runs: ReadonlyArray<readonly [number, Placement, Client]> = [
    ...sizes.map((n) => [n, "embedded", "ours"] as const),
    [200, "separate", "ours"],
    [200, "separate", "raw-sdk"]
  ]
  const rows: Array<FleetRow> = []
  for (const [n, placement, client] of runs) {
    const row = await inChild(n, placement, client)
    options.log(
      `fleet ${n} (${client}, ${placement} emulator): ${row.wall_ms} ms vs ${row.single_ms} ms alone ` +
        `(×${row.wall_ratio}); ` +
        `connect p50 ${row.p50_ms} ms, p95 ${row.p95_ms} ms; peak RSS ${row.peak_rss_mb} MB; ` +
        `CPU ${row.cpu_per_runtime_ms} ms/runtime (main thread ${row.main_thread_cpu_per_runtime_ms}); ` +
        `failed ${row.failed}; leaked ${row.leaked}`
    )
    if (row.errors.length > 0) options.log(`fleet ${n}: ${row.errors.join(" | ")}`)
    rows.push(row)
  }
  return rows
}
