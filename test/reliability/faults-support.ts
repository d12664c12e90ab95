/**
 * Support for the fault matrix: the runtime's layers on a fresh embedded emulator, a recorder of the
 * runtime events and log lines, and the checks every fault test makes (typed outcome, nothing leaked).
 */
import { assert } from "@effect/vitest"
import { Cause, Effect, Exit, FiberRef, HashSet, Layer, Logger, LogLevel, Option, Stream } from "effect"
import type { Scope } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { SID_LABEL } from "../../src/services/DaytonaClient.js"
import { type RuntimeEvent, RuntimeEvents } from "../../src/services/RuntimeEvents.js"

/** The runtime on a fresh emulator (in-process action servers, short boot). */
export const stack = (options: Emulator.EmulatorOptions = {}) =>
  DaytonaRuntime.layer.pipe(
    Layer.provideMerge(
      Emulator.layer({ ...options, actionServer: { bootDelay: "100 millis", ...options.actionServer } })
    )
  )

/** A log line as the tests see it. */
export interface LogLine {
  readonly level: LogLevel.LogLevel
  readonly message: string
}

/**
 * Starts recording the runtime events and log lines of the scope; returns what was recorded so far.
 * Log lines are recorded instead of printed.
 */
export const record: Effect.Effect<
  { readonly events: Effect.Effect<ReadonlyArray<RuntimeEvent>>; readonly logs: ReadonlyArray<LogLine> },
  never,
  RuntimeEvents | Scope.Scope
> = Effect.gen(function* () {
  const events: Array<RuntimeEvent> = []
  const logs: Array<LogLine> = []
  const stream = yield* (yield* RuntimeEvents).subscribe
  yield* Effect.forkScoped(Stream.runForEach(stream, (event) => Effect.sync(() => events.push(event))))
  const logger = Logger.make(({ logLevel, message }) => {
    logs.push({ level: logLevel, message: Array.isArray(message) ? message.join(" ") : String(message) })
  })
  yield* Effect.locallyScoped(FiberRef.currentLoggers, HashSet.make(logger))
  // Let the collector drain what is queued before answering.
  return { events: Effect.as(Effect.sleep("20 millis"), events), logs }
})

/** The typed error of a failed exit (asserting there is one and no defect). */
export const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  if (Exit.isSuccess(exit)) throw new Error("unreachable")
  assert.deepStrictEqual([...Cause.defects(exit.cause)], [], `no defect: ${Cause.pretty(exit.cause)}`)
  const failure = Cause.failureOption(exit.cause)
  assert.isTrue(Option.isSome(failure), `a typed failure: ${Cause.pretty(exit.cause)}`)
  return Option.getOrThrow(failure)
}

/** The value of a successful exit (asserting success). */
export const success = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) assert.fail(`expected success, got ${Cause.pretty(exit.cause)}`)
  return (exit as Exit.Success<A, E>).value
}

/** The states of the SID's sandboxes, once no transition is in flight. */
export const statesOf = (sid: string) =>
  Effect.gen(function* () {
    const control = yield* Emulator.EmulatorControl
    const ofSid = Effect.map(control.sandboxes, (all) => all.filter((s) => s.labels[SID_LABEL] === sid))
    for (let i = 0; i < 100; i++) {
      const list = yield* ofSid
      if (!list.some((s) => ["creating", "starting", "stopping", "destroying"].includes(s.state))) {
        return list.map((s) => s.state)
      }
      yield* Effect.sleep("50 millis")
    }
    return (yield* ofSid).map((s) => s.state)
  })

/** Asserts nothing of the SID runs and no process is left in the emulator. */
export const assertNothingLeaked = (sid: string, expected: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const control = yield* Emulator.EmulatorControl
    assert.deepStrictEqual(yield* statesOf(sid), expected, "the SID's sandboxes")
    let live = yield* control.liveProcesses
    for (let i = 0; i < 40 && live > 0; i++) {
      yield* Effect.sleep("50 millis")
      live = yield* control.liveProcesses
    }
    assert.strictEqual(live, 0, "no process or action server left")
  })

/** The action of the last event, asserting it is the one `Closed`. */
export const closedAction = (events: ReadonlyArray<RuntimeEvent>) => {
  const last = events.at(-1)
  assert.strictEqual(last?._tag, "Closed", "the events end with Closed")
  assert.strictEqual(events.filter((e) => e._tag === "Closed").length, 1, "exactly one Closed")
  return last?._tag === "Closed" ? last.action : undefined
}
