/**
 * A lane of the chaos run: one embedded emulator per preview mode (in-process action servers), each
 * with the runtime's layers on top, and a recorder of the runtime events and log lines of every SID.
 * A lane runs one trial at a time, so the faults a trial injects cannot reach another trial.
 *
 * @since 0.1.0
 */
import { Context, Effect, FiberRef, HashMap, HashSet, Layer, Logger, Stream } from "effect"
import type { Scope } from "effect"
import * as DaytonaRuntime from "../src/DaytonaRuntime.js"
import * as Emulator from "../src/emulator/Emulator.js"
import type { Coordinator } from "../src/programs/Coordinator.js"
import type { ActionServer } from "../src/services/ActionServer.js"
import type { DaytonaClient } from "../src/services/DaytonaClient.js"
import type { DaytonaConfig } from "../src/services/DaytonaConfig.js"
import { type RuntimeEvent, RuntimeEvents } from "../src/services/RuntimeEvents.js"

/** The default action-server behaviour of every chaos emulator (a trial's changes are undone after it). */
export const DEFAULT_BEHAVIOUR = { bootDelay: "200 millis", badGatewayBurst: 0 } as const

/** The lifecycle latencies of a lane's emulator (a trial that changes them puts these back). */
export const LANE_LATENCIES = {
  create: "30 millis",
  start: "30 millis",
  stop: "20 millis",
  delete: "20 millis"
} as const

/**
 * Everything one emulator of a lane offers a trial.
 *
 * @since 0.1.0
 */
export interface LaneEnv {
  readonly context: Context.Context<
    DaytonaClient | ActionServer | RuntimeEvents | Coordinator | DaytonaConfig | Emulator.EmulatorControl
  >
  readonly control: Emulator.EmulatorControlService
  /** The events of each SID, in order. */
  readonly events: Map<string, Array<RuntimeEvent>>
}

/**
 * A lane: an emulator per preview mode.
 *
 * @since 0.1.0
 */
export interface Lane {
  readonly id: number
  readonly proxy: LaneEnv
  readonly direct: LaneEnv
}

/**
 * Log lines by SID (`_` for lines without one), kept for the report of failing trials.
 *
 * @since 0.1.0
 */
export const logLines = new Map<string, Array<string>>()

const MAX_LINES_PER_SID = 200

/**
 * A logger that records every line under the `sid` log annotation instead of printing it.
 *
 * @since 0.1.0
 */
export const recordingLogger: Logger.Logger<unknown, void> = Logger.make((options) => {
  const sid = HashMap.get(options.annotations, "sid")
  const key = sid._tag === "Some" ? String(sid.value) : "_"
  const lines = logLines.get(key) ?? []
  if (lines.length < MAX_LINES_PER_SID) lines.push(Logger.logfmtLogger.log(options))
  logLines.set(key, lines)
})

/** Makes {@link recordingLogger} the only logger (whatever the caller installed, e.g. a pretty one). */
export const recordingLoggerLayer = Layer.locallyScoped(FiberRef.currentLoggers, HashSet.make(recordingLogger))

const makeEnv = (previewMode: "proxy" | "direct"): Effect.Effect<LaneEnv, Emulator.EmulatorError, Scope.Scope> =>
  Effect.gen(function* () {
    const layer = DaytonaRuntime.layer.pipe(
      Layer.provideMerge(
        Emulator.layer({
          previewMode,
          latencies: LANE_LATENCIES,
          actionServer: DEFAULT_BEHAVIOUR
        })
      )
    )
    const context = yield* Layer.build(layer)
    const control = Context.get(context, Emulator.EmulatorControl)
    const events = new Map<string, Array<RuntimeEvent>>()
    const stream = yield* Context.get(context, RuntimeEvents).subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(stream, (event) =>
        Effect.sync(() => {
          const list = events.get(event.sid) ?? []
          list.push(event)
          events.set(event.sid, list)
        })
      )
    )
    return { context, control, events }
  })

/**
 * Builds a lane; its emulators stop when the scope closes.
 *
 * @since 0.1.0
 */
export const makeLane = (id: number): Effect.Effect<Lane, Emulator.EmulatorError, Scope.Scope> =>
  Effect.map(Effect.all([makeEnv("proxy"), makeEnv("direct")]), ([proxy, direct]) => ({ id, proxy, direct }))
