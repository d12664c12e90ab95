/**
 * Fleets under an enforced create rate: the emulator, in a process of its own, enforces Daytona's `sandbox-create`
 * throttler at 300 creates a minute (a 429 with `Retry-After-sandbox-create` past it, and the throttler blocked for
 * the rest of the window), and N runtimes run from client processes:
 *
 * - one process by `DaytonaRuntime.acquire` with the default admission (16 creates at a time, paced to
 *   `DAYTONA_CREATES_PER_MINUTE` = 300);
 * - one process by the raw SDK making the same calls (`raw.ts`), with the same admission written plainly;
 * - the same N split over 4 processes, each its own limiter at a quarter of the rate.
 *
 * Each client process (`run.js --paced-child`) builds its stack and warms up with one runtime, then waits; the
 * emulator's request log and throttler counters are reset (a fresh window), and every client starts at once. The
 * wall time runs from the first client's start to the last one's end; CPU and peak RSS are each client process's
 * own (`process.cpuUsage`, RSS sampled every 20 ms); leaked is the sandboxes not stopped plus the sandbox processes
 * and servers still running once every client ended; throttled is the 429s the emulator answered.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { performance } from "node:perf_hooks"
import { Agent } from "undici"
import { fleetOf, type FleetRun, rawFleetOf } from "./fleet.js"
import * as Profiler from "./profiler.js"
import * as Raw from "./raw.js"
import { type ChildEmulator, makeClientStack, spawnEmulator } from "./stack.js"
import { type BenchOptions, collectGarbage, mainThreadCpuMs, processCpuMs, round, sampleRss } from "./support.js"

/** The create rate the emulator enforces and the clients pace to (Daytona's lowest tier; our default). */
export const CREATES_PER_MINUTE = 300

/** Creates in flight per client process (the default `DAYTONA_MAX_CONCURRENT_CREATES`). */
const MAX_CONCURRENT_CREATES = 16

/** Who drives the lifecycles. */
export type PacedClient = "ours" | "raw-sdk"

/** What one client process asks for (`--paced-child`, then this as the first line of its stdin). */
interface ChildSpec {
  readonly apiUrl: string
  readonly apiKey: string
  readonly client: PacedClient
  readonly n: number
  readonly createsPerMinute: number
  readonly prefix: string
  /** Where to write the fleet's CPU profile and allocation profile (`--profile DIR`). */
  readonly profileDir?: string
}

/** What one client process measured. */
interface ChildResult {
  /** Epoch milliseconds of the fleet's start and end, to merge processes. */
  readonly start: number
  readonly end: number
  readonly cpu_ms: number
  readonly main_thread_cpu_ms: number | null
  readonly peak_rss_mb: number
  readonly failed: number
  readonly errors: ReadonlyArray<string>
}

/** One configuration: N runtimes from one or more client processes. */
export interface PacedRun {
  readonly client: PacedClient
  readonly processes: number
  readonly n: number
  readonly creates_per_minute: number
  readonly wall_ms: number
  /** All client processes' CPU time (user + system) per runtime. */
  readonly cpu_per_runtime_ms: number
  readonly main_thread_cpu_per_runtime_ms: number | null
  /** The emulator process's CPU time per runtime. */
  readonly emulator_cpu_per_runtime_ms: number | null
  /** The highest peak RSS of the client processes. */
  readonly peak_rss_mb: number
  readonly failed: number
  readonly leaked: number
  /** 429s answered by the emulator during the fleet. */
  readonly throttled: number
  readonly errors: ReadonlyArray<string>
}

/** `results.fleet_1000`: one process, ours against the raw SDK (the quick run uses a smaller N and says so). */
export interface Fleet1000 {
  readonly n: number
  readonly creates_per_minute: number
  readonly wall_ratio: number
  readonly cpu_ratio: number
  readonly rss_ratio: number
  /** Ours. */
  readonly failed: number
  readonly leaked: number
  readonly throttled: number
  readonly ours: PacedRun
  readonly raw: PacedRun
}

/** `results.fleet_split`: the same N over several processes, against one. */
export interface FleetSplit {
  readonly processes: number
  readonly n: number
  /** Split wall time ÷ one process's. */
  readonly wall_ratio: number
  readonly run: PacedRun
}

const epoch = (): number => performance.timeOrigin + performance.now()

const distinct = (failures: FleetRun["failures"]): ReadonlyArray<string> =>
  [...new Set(failures.map((failure) => `${failure._tag ?? "Error"}: ${failure.message}`.slice(0, 300)))].slice(0, 3)

/** Reads one line of stdin. */
const nextLine = (() => {
  let lines: AsyncIterator<string> | undefined
  return async (): Promise<string> => {
    lines ??= createInterface({ input: process.stdin })[Symbol.asyncIterator]()
    const line = await lines.next()
    if (line.done === true) throw new Error("stdin closed")
    return line.value
  }
})()

/**
 * The client process: reads its spec, warms up with one runtime, says ready, waits for `go`, runs the fleet and
 * prints what it measured.
 */
export const runChild = async (): Promise<void> => {
  const spec = JSON.parse(await nextLine()) as ChildSpec
  const admission = { maxConcurrentCreates: MAX_CONCURRENT_CREATES, createsPerMinute: spec.createsPerMinute }
  let drive: (n: number, prefix: string) => Promise<FleetRun>
  let dispose: () => Promise<void>
  if (spec.client === "ours") {
    const runtime = makeClientStack(spec, admission)
    drive = (n, prefix) => runtime.runPromise(fleetOf(n, prefix))
    dispose = () => runtime.dispose()
  } else {
    const sdk = await import("@daytonaio/sdk")
    const daytona = new sdk.Daytona({ apiKey: spec.apiKey, apiUrl: spec.apiUrl, target: "us" })
    const agent = new Agent()
    const pacer = Raw.makePacer(MAX_CONCURRENT_CREATES, spec.createsPerMinute)
    drive = (n, prefix) => rawFleetOf(daytona, spec.apiKey, agent, pacer, n, prefix)
    dispose = async () => {
      pacer.close()
      await daytona[Symbol.asyncDispose]()
      await agent.close()
    }
  }
  try {
    const warm = await drive(1, `${spec.prefix}-warm`)
    if (warm.failures.length > 0) throw new Error(`the warm-up failed: ${distinct(warm.failures).join(" | ")}`)
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
    if ((await nextLine()) !== "go") throw new Error("expected go")
    collectGarbage()
    const profiler = spec.profileDir === undefined ? undefined : await Profiler.start()
    const rss = sampleRss()
    const cpu = process.cpuUsage()
    const mainBefore = mainThreadCpuMs()
    const start = epoch()
    const fleet = await drive(spec.n, spec.prefix)
    const end = epoch()
    const used = process.cpuUsage(cpu)
    const mainAfter = mainThreadCpuMs()
    if (profiler !== undefined) await profiler.stop(spec.profileDir!, spec.prefix)
    const result: ChildResult = {
      start,
      end,
      cpu_ms: (used.user + used.system) / 1000,
      main_thread_cpu_ms: mainBefore === undefined || mainAfter === undefined ? null : mainAfter - mainBefore,
      peak_rss_mb: rss.stop(),
      failed: fleet.failures.length,
      errors: distinct(fleet.failures)
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await dispose()
  }
}

/** A client process, started; `ready` resolves once it warmed up, `result` once its fleet ended. */
const startChild = (spec: ChildSpec) => {
  const entry = fileURLToPath(new URL("./run.js", import.meta.url))
  const child = spawn(process.execPath, ["--expose-gc", entry, "--paced-child"], { stdio: ["pipe", "pipe", "inherit"] })
  // The spec (with the emulator's API key) goes through stdin, not the command line.
  child.stdin!.write(`${JSON.stringify(spec)}\n`)
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
  const next = async (what: string): Promise<string> => {
    const line = await lines.next()
    if (line.done === true) throw new Error(`the ${spec.client} client (${spec.prefix}) ended before ${what}`)
    return line.value
  }
  const ready = next("it was ready")
  return {
    ready,
    go: () => child.stdin!.write("go\n"),
    result: ready.then(async () => JSON.parse(await next("its result")) as ChildResult),
    done: async () => {
      child.stdin!.end()
      const code = await exited
      if (code !== 0) throw new Error(`the ${spec.client} client (${spec.prefix}) exited ${code}`)
    }
  }
}

/** N runtimes over `processes` client processes against a fresh emulator enforcing `CREATES_PER_MINUTE`. */
const runConfiguration = async (
  client: PacedClient,
  n: number,
  processes: number,
  profileDir: string | undefined
): Promise<PacedRun> => {
  const emulator: ChildEmulator = await spawnEmulator({ previewMode: "direct", createsPerMinute: CREATES_PER_MINUTE })
  try {
    const share = CREATES_PER_MINUTE / processes
    const children = Array.from({ length: processes }, (_, i) =>
      startChild({
        apiUrl: emulator.apiUrl,
        apiKey: emulator.apiKey,
        client,
        n: Math.floor(n / processes) + (i < n % processes ? 1 : 0),
        createsPerMinute: share,
        prefix: `paced-${client}-${processes}p-${i}`,
        ...(profileDir === undefined ? {} : { profileDir })
      })
    )
    await Promise.all(children.map((child) => child.ready))
    await emulator.ask("reset")
    const emulatorBefore = processCpuMs(emulator.pid)
    for (const child of children) child.go()
    const results = await Promise.all(children.map((child) => child.result))
    const emulatorAfter = processCpuMs(emulator.pid)
    await Promise.all(children.map((child) => child.done()))
    const throttled = await emulator.ask<number>("throttled")
    const sandboxes = await emulator.ask<ReadonlyArray<{ state: string }>>("sandboxes")
    const running = sandboxes.filter((sandbox) => sandbox.state !== "stopped" && sandbox.state !== "destroyed").length
    const live = await emulator.ask<number>("live")
    const mains = results.map((result) => result.main_thread_cpu_ms)
    const sum = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0)
    return {
      client,
      processes,
      n,
      creates_per_minute: CREATES_PER_MINUTE,
      wall_ms: round(Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start)), 1),
      cpu_per_runtime_ms: round(sum(results.map((r) => r.cpu_ms)) / n, 2),
      main_thread_cpu_per_runtime_ms: mains.some((main) => main === null)
        ? null
        : round(sum(mains as ReadonlyArray<number>) / n, 2),
      emulator_cpu_per_runtime_ms:
        emulatorBefore === undefined || emulatorAfter === undefined
          ? null
          : round((emulatorAfter - emulatorBefore) / n, 2),
      peak_rss_mb: round(Math.max(...results.map((r) => r.peak_rss_mb)), 1),
      failed: sum(results.map((r) => r.failed)),
      leaked: running + live,
      throttled,
      errors: [...new Set(results.flatMap((r) => r.errors))].slice(0, 3)
    }
  } finally {
    await emulator.close()
  }
}

const describeRun = (run: PacedRun): string =>
  `${run.n} by ${run.client} over ${run.processes} process(es): ${run.wall_ms} ms; ` +
  `CPU ${run.cpu_per_runtime_ms} ms/runtime (main thread ${run.main_thread_cpu_per_runtime_ms}, emulator ` +
  `${run.emulator_cpu_per_runtime_ms}); peak RSS ${run.peak_rss_mb} MB; failed ${run.failed}; leaked ${run.leaked}; ` +
  `429s ${run.throttled}${run.errors.length > 0 ? `; ${run.errors.join(" | ")}` : ""}`

/**
 * The paced fleets: 1000 runtimes (quick: 100) by ours and by the raw SDK from one process, then ours over 4. With
 * `profileDir`, every client process writes a CPU profile and an allocation profile of its fleet there (the figures
 * then include the profilers' cost: use them to see where the time goes, not as results).
 */
export const run = async (
  options: BenchOptions & { readonly n?: number | undefined; readonly profileDir?: string | undefined }
): Promise<{ readonly fleet_1000: Fleet1000; readonly fleet_split: FleetSplit }> => {
  const n = options.n ?? (options.quick ? 100 : 1000)
  const processes = 4
  const ours = await runConfiguration("ours", n, 1, options.profileDir)
  options.log(`paced fleet: ${describeRun(ours)}`)
  const raw = await runConfiguration("raw-sdk", n, 1, options.profileDir)
  options.log(`paced fleet: ${describeRun(raw)}`)
  const split = await runConfiguration("ours", n, processes, options.profileDir)
  options.log(`paced fleet: ${describeRun(split)}`)
  return {
    fleet_1000: {
      n,
      creates_per_minute: CREATES_PER_MINUTE,
      wall_ratio: round(ours.wall_ms / raw.wall_ms, 3),
      cpu_ratio: round(ours.cpu_per_runtime_ms / raw.cpu_per_runtime_ms, 3),
      rss_ratio: round(ours.peak_rss_mb / raw.peak_rss_mb, 3),
      failed: ours.failed,
      leaked: ours.leaked,
      throttled: ours.throttled,
      ours,
      raw
    },
    fleet_split: { processes, n, wall_ratio: round(split.wall_ms / ours.wall_ms, 3), run: split }
  }
}
