/**
 * Helpers for the in-process reliability suites: the runtime on a fresh embedded emulator, runs bounded by
 * a time limit (reaching it is a failure of its own, so a hang can never pass for an error), the check
 * that a failure is typed (never a defect), and the check that nothing of a SID is left started.
 */
import { assert } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Exit, Layer, Option } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { SID_LABEL } from "../../src/services/DaytonaClient.js"

/** The runtime's layers on a fresh embedded emulator (in-process action servers, a short boot). */
export const emulatorStack = (options: Emulator.EmulatorOptions = {}) =>
  DaytonaRuntime.layer.pipe(
    Layer.provideMerge(
      Emulator.layer({ ...options, actionServer: { bootDelay: "50 millis", ...options.actionServer } })
    )
  )

/** The time limit of a bounded run was reached. */
export class Hung extends Data.TaggedError("Hung")<{ readonly after: Duration.Duration }> {}

/** Runs `effect` to its exit, failing with {@link Hung} when it takes longer than `limit`. */
export const bounded = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  limit: Duration.DurationInput
): Effect.Effect<Exit.Exit<A, E | Hung>, never, R> =>
  Effect.exit(
    Effect.timeoutFail(effect, { duration: limit, onTimeout: () => new Hung({ after: Duration.decode(limit) }) })
  )

/** The typed error of a failed exit: asserts a failure, no defect in the cause, and no {@link Hung}. */
export const typedError = <A, E>(exit: Exit.Exit<A, E | Hung>, label = ""): E => {
  if (Exit.isSuccess(exit)) return assert.fail(`${label}: expected a typed failure, got a success`)
  assert.deepStrictEqual([...Cause.defects(exit.cause)], [], `${label}: no defect: ${Cause.pretty(exit.cause)}`)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return assert.fail(`${label}: expected a typed failure: ${Cause.pretty(exit.cause)}`)
  assert.notStrictEqual((failure.value as { _tag?: unknown })._tag, "Hung", `${label}: it hung`)
  return failure.value as E
}

/** The value of a successful exit (asserting success). */
export const successOf = <A, E>(exit: Exit.Exit<A, E>, label = ""): A => {
  if (Exit.isFailure(exit)) return assert.fail(`${label}: expected a success, got ${Cause.pretty(exit.cause)}`)
  return exit.value
}

const TRANSITIONAL = ["creating", "starting", "stopping", "destroying", "restoring", "pending_build"]

/** The states of the SID's sandboxes in the emulator, once none is in a transition (at most 5 s). */
export const settledStates = (sid: string) =>
  Effect.gen(function* () {
    const control = yield* Emulator.EmulatorControl
    const ofSid = Effect.map(control.sandboxes, (all) =>
      all.filter((sandbox) => sandbox.labels[SID_LABEL] === sid).map((sandbox) => sandbox.state)
    )
    for (let i = 0; i < 100; i++) {
      const states = yield* ofSid
      if (!states.some((state) => TRANSITIONAL.includes(state))) return states
      yield* Effect.sleep("50 millis")
    }
    return yield* ofSid
  })

/**
 * Asserts the SID's sandboxes are in `expected` states (none `started`) and that no sandbox process or
 * action server is left running in the emulator.
 */
export const assertNothingStarted = (sid: string, expected: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const control = yield* Emulator.EmulatorControl
    const states = yield* settledStates(sid)
    assert.deepStrictEqual(states, expected, `the states of the sandboxes of ${sid}`)
    assert.notInclude(states, "started")
    let live = yield* control.liveProcesses
    for (let i = 0; i < 60 && live > 0; i++) {
      yield* Effect.sleep("50 millis")
      live = yield* control.liveProcesses
    }
    assert.strictEqual(live, 0, "no sandbox process or action server left running")
  })
