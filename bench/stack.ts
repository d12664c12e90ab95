/**
 * The embedded emulator and the runtime stack the lifecycle, fleet and readiness benchmarks run on, and
 * the API-call count of the emulator's request log.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { spawn } from "node:child_process"
import * as NodePath from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import * as DaytonaRuntime from "../src/DaytonaRuntime.js"
import * as Emulator from "../src/emulator/Emulator.js"
import type { RequestLogEntry } from "../src/emulator/Emulator.js"
import { DaytonaConfig } from "../src/services/DaytonaConfig.js"

/** Every lifecycle step of the emulator answers at once. */
export const zeroLatencies = { create: 0, start: 0, stop: 0, delete: 0, recover: 0 } as const

/** How to build a stack. */
export interface StackOptions {
  readonly emulator?: Emulator.EmulatorOptions
  /** `DAYTONA_MAX_CONCURRENT_CREATES` of the runtime's config (default 16). */
  readonly maxConcurrentCreates?: number
  /** `DAYTONA_CREATES_PER_MINUTE` of the runtime's config (default 300; 0 = no pacing). */
  readonly createsPerMinute?: number
}

/**
 * An embedded emulator (zero latencies, action servers in-process booting at once unless overridden) and
 * `DaytonaRuntime.layer` on a `DaytonaConfig` pointing at it.
 */
export const makeStack = (options: StackOptions = {}) => {
  const emulator = Emulator.layer({
    latencies: zeroLatencies,
    actionServerMode: "in-process",
    ...options.emulator,
    actionServer: { bootDelay: 0, ...options.emulator?.actionServer }
  })
  // The emulator's config, with the admission limit the benchmark asks for.
  const config = Layer.effect(
    DaytonaConfig,
    Effect.flatMap(Emulator.EmulatorControl, (control) =>
      Effect.orDie(
        DaytonaConfig.make({
          apiKey: control.apiKey,
          apiUrl: control.apiUrl,
          target: options.emulator?.target ?? "us",
          maxConcurrentCreates: options.maxConcurrentCreates,
          createsPerMinute: options.createsPerMinute
        })
      )
    )
  )
  const layer = DaytonaRuntime.layer.pipe(Layer.provideMerge(config), Layer.provideMerge(Layer.orDie(emulator)))
  return ManagedRuntime.make(layer)
}

/** The requests of the log that are Daytona API or toolbox calls (not action-server traffic). */
export const apiCalls = (log: ReadonlyArray<RequestLogEntry>): number =>
  log.filter((entry) => entry.route.startsWith("sandbox.") || entry.route.startsWith("toolbox.")).length

/** The API calls of the log, by route, for the report. */
export const byRoute = (log: ReadonlyArray<RequestLogEntry>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const entry of log) {
    if (entry.route.startsWith("sandbox.") || entry.route.startsWith("toolbox.")) {
      counts[entry.route] = (counts[entry.route] ?? 0) + 1
    }
  }
  return counts
}

/** The control lines `emulator-child.ts` answers. */
export type ChildCommand = "sandboxes" | "live" | "throttled" | "reset"

/** An emulator running in a child process (see `emulator-child.ts`). */
export interface ChildEmulator {
  readonly apiUrl: string
  readonly apiKey: string
  /** The child's process id (for its CPU time). */
  readonly pid: number
  /**
   * Sends one control line and reads the JSON answer: the sandboxes, the live processes, the 429s answered since the
   * last reset, or a reset (the request log and the throttlers' counters).
   */
  readonly ask: <A>(command: ChildCommand) => Promise<A>
  /** Stops the emulator (every sandbox ends) and waits for the process to exit. */
  readonly close: () => Promise<void>
}

/** Starts the emulator in a child process with the benchmark defaults (zero latencies, boot delay 0). */
export const spawnEmulator = async (options: Emulator.EmulatorOptions = {}): Promise<ChildEmulator> => {
  const script = NodePath.join(NodePath.dirname(fileURLToPath(import.meta.url)), "emulator-child.js")
  const merged: Emulator.EmulatorOptions = {
    latencies: zeroLatencies,
    actionServerMode: "in-process",
    ...options,
    actionServer: { bootDelay: 0, ...options.actionServer }
  }
  const child = spawn(process.execPath, [script, JSON.stringify(merged)], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: child.stdout! })
  const iterator = lines[Symbol.asyncIterator]()
  const next = async (): Promise<string> => {
    const line = await iterator.next()
    if (line.done === true) throw new Error("the emulator process ended")
    return line.value
  }
  const first = JSON.parse(await next()) as { apiUrl: string; apiKey: string }
  let queue = Promise.resolve()
  return {
    ...first,
    pid: child.pid!,
    ask: <A>(command: ChildCommand) => {
      const answer = queue.then(async () => {
        child.stdin!.write(`${command}\n`)
        return JSON.parse(await next()) as A
      })
      queue = answer.then(
        () => undefined,
        () => undefined
      )
      return answer
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.stdin!.end()
      })
  }
}

/** `DaytonaRuntime.layer` on a config pointing at an emulator in another process. */
export const makeClientStack = (
  emulator: { readonly apiUrl: string; readonly apiKey: string },
  admission: Pick<StackOptions, "maxConcurrentCreates" | "createsPerMinute"> = {}
) =>
  ManagedRuntime.make(
    DaytonaRuntime.layer.pipe(
      Layer.provideMerge(
        Layer.orDie(
          DaytonaConfig.layerFrom({
            apiKey: emulator.apiKey,
            apiUrl: emulator.apiUrl,
            target: "us",
            maxConcurrentCreates: admission.maxConcurrentCreates,
            createsPerMinute: admission.createsPerMinute
          })
        )
      )
    )
  )
