/**
 * The close policy against the emulator's state machine, which answers as Daytona's `SandboxService` does: a
 * second delete (409 while the first is under way), a delete during a start (409), a stop of an errored sandbox
 * (400 "Sandbox is in an errored state"), a stop of a stopped one (400 "Sandbox is not in a stoppable state"), and
 * an ephemeral sandbox, which Daytona deletes when it is stopped. The real SDK and HttpClient, on 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { DaytonaClient, SID_LABEL } from "../../src/services/DaytonaClient.js"
import { assertNothingLeaked, closedAction, record, stack } from "./faults-support.js"
import { sdk, call } from "../emulator/support.js"

/** acquire → `whileHeld` (behind the runtime's back) → close; the exit and the close's outcome. */
const holdThenClose = <E, R>(
  options: DaytonaRuntime.RuntimeOptions,
  whileHeld: (runtime: DaytonaRuntime.DaytonaRuntimeHandle) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function* () {
    const recorded = yield* record
    const exit = yield* Effect.exit(Effect.scoped(Effect.flatMap(DaytonaRuntime.acquire(options), whileHeld)))
    const events = yield* recorded.events
    const closed = events.at(-1)
    return {
      exit,
      action: closedAction(events),
      error: closed?._tag === "Closed" ? closed.error : undefined,
      logs: recorded.logs
    }
  }).pipe(Effect.scoped)

describe("close against Daytona's state machine (the emulator)", () => {
  it.live("delete policy, a delete already under way (409 on the second): deleted, once", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const client = yield* DaytonaClient
      yield* control.setLatencies({ delete: "1 second" })
      yield* control.resetRequests
      const closed = yield* holdThenClose({ sid: "c-twice", onClose: "delete" }, (runtime) =>
        Effect.orDie(client.delete(runtime.sandboxId))
      )
      assert.isTrue(Exit.isSuccess(closed.exit), String(closed.exit))
      assert.deepStrictEqual([closed.action, closed.error], ["deleted", undefined])
      const deletes = (yield* control.requests).filter((r) => r.method === "DELETE")
      assert.deepStrictEqual(
        deletes.map((r) => r.status),
        [200, 409],
        "the second delete met Daytona's 409 and was not retried"
      )
      yield* assertNothingLeaked("c-twice", [])
    }).pipe(Effect.provide(stack()))
  )

  it.live("delete policy while the sandbox is starting (409): waits for started, then deletes", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const closed = yield* holdThenClose({ sid: "c-starting", onClose: "delete" }, (runtime) =>
        control.holdState(runtime.sandboxId, "starting", "1500 millis")
      )
      assert.deepStrictEqual([closed.action, closed.error], ["deleted", undefined])
      yield* assertNothingLeaked("c-starting", [])
    }).pipe(Effect.provide(stack()))
  )

  it.live("stop policy on an errored sandbox (400 'in an errored state'): left as it is, already-stopped", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const closed = yield* holdThenClose({ sid: "c-error" }, (runtime) =>
        Effect.orDie(control.setSandboxState(runtime.sandboxId, "error", { errorReason: "disk full" }))
      )
      assert.deepStrictEqual([closed.action, closed.error], ["already-stopped", undefined])
      assert.isTrue(closed.logs.some((line) => /is in error \(disk full\)/.test(line.message)))
      const [sandbox] = (yield* control.sandboxes).filter((s) => s.labels[SID_LABEL] === "c-error")
      assert.strictEqual(sandbox?.state, "error")
      assert.strictEqual(yield* control.liveProcesses, 0)
    }).pipe(Effect.provide(stack()))
  )

  it.live("stop policy on a sandbox stopped behind its back (400 'not in a stoppable state'): already-stopped", () =>
    Effect.gen(function* () {
      const client = yield* DaytonaClient
      const closed = yield* holdThenClose({ sid: "c-stopped" }, (runtime) =>
        Effect.orDie(client.stop(runtime.sandboxId))
      )
      assert.deepStrictEqual([closed.action, closed.error], ["already-stopped", undefined])
      yield* assertNothingLeaked("c-stopped", ["stopped"])
    }).pipe(Effect.provide(stack()))
  )

  it.live("stop policy on a sandbox made ephemeral while held: Daytona deletes it, and the close ends cleanly", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const closed = yield* holdThenClose({ sid: "c-ephemeral" }, (runtime) =>
        // `setAutoDeleteInterval(0)`: deleted as soon as it stops (Daytona's ephemeral sandbox).
        Effect.scoped(
          Effect.flatMap(sdk(control), (daytona) =>
            call(async () => (await daytona.get(runtime.sandboxId)).setAutoDeleteInterval(0))
          )
        ).pipe(Effect.orDie)
      )
      assert.isTrue(Exit.isSuccess(closed.exit), String(closed.exit))
      assert.deepStrictEqual([closed.action, closed.error], ["stopped", undefined])
      yield* assertNothingLeaked("c-ephemeral", [])
    }).pipe(Effect.provide(stack()))
  )
})
