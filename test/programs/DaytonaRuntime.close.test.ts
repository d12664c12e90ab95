import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, TestClock } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import { DaytonaApiError, SID_LABEL } from "../../src/services/DaytonaClient.js"
import { ConnectionRefused } from "../../src/services/ActionServer.js"
import type { CloseAction } from "../../src/services/RuntimeEvents.js"
import { completed, ScriptedActionServerControl } from "../support/ScriptedActionServer.js"
import { clocked, harness, type HarnessOptions, RecordedEvents } from "../support/harness.js"

const lastClose = Effect.map(RecordedEvents.all, (events) => {
  const last = events.at(-1)
  assert.strictEqual(last?._tag, "Closed", "the last event is Closed")
  return last?._tag === "Closed" ? last.action : undefined
})

/**
 * The close matrix: attach (found / created) × DAYTONA_DELETE_ON_CLOSE × the state at close.
 * Expected: keep when attaching; delete with delete-on-close; else stop only if running.
 */
const matrix: ReadonlyArray<{
  readonly attach: "no" | "found" | "created"
  readonly deleteOnClose: boolean
  readonly stateAtClose: "started" | "stopped" | "gone"
  readonly action: CloseAction
  readonly after: "started" | "stopped" | "absent"
}> = [
  { attach: "no", deleteOnClose: false, stateAtClose: "started", action: "stopped", after: "stopped" },
  { attach: "no", deleteOnClose: false, stateAtClose: "stopped", action: "already-stopped", after: "stopped" },
  { attach: "no", deleteOnClose: false, stateAtClose: "gone", action: "already-gone", after: "absent" },
  { attach: "no", deleteOnClose: true, stateAtClose: "started", action: "deleted", after: "absent" },
  { attach: "no", deleteOnClose: true, stateAtClose: "stopped", action: "deleted", after: "absent" },
  { attach: "no", deleteOnClose: true, stateAtClose: "gone", action: "already-gone", after: "absent" },
  { attach: "found", deleteOnClose: false, stateAtClose: "started", action: "kept", after: "started" },
  { attach: "found", deleteOnClose: true, stateAtClose: "started", action: "kept", after: "started" },
  { attach: "found", deleteOnClose: true, stateAtClose: "stopped", action: "kept", after: "stopped" },
  { attach: "created", deleteOnClose: false, stateAtClose: "started", action: "kept", after: "started" },
  { attach: "created", deleteOnClose: true, stateAtClose: "started", action: "kept", after: "started" }
]

describe("close matrix", () => {
  for (const row of matrix) {
    const name = `attach=${row.attach} deleteOnClose=${row.deleteOnClose} state=${row.stateAtClose} → ${row.action}`
    it.effect(name, () =>
      Effect.gen(function* () {
        const memory = yield* DaytonaClientMemoryControl
        if (row.attach === "found") yield* memory.seed({ state: "started", labels: { [SID_LABEL]: "m" } })
        const exit = yield* clocked(
          Effect.scoped(
            Effect.gen(function* () {
              const runtime = yield* DaytonaRuntime.acquire({ sid: "m", attachToExisting: row.attach !== "no" })
              // Something outside the runtime changed the sandbox while it was held.
              if (row.stateAtClose === "stopped") yield* memory.setState(runtime.sandboxId, "stopped")
              if (row.stateAtClose === "gone") yield* memory.setState(runtime.sandboxId, "destroyed")
            })
          )
        )
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        assert.strictEqual(yield* lastClose, row.action)
        const sandboxes = yield* memory.sandboxes
        if (row.after === "absent") assert.deepStrictEqual(sandboxes, [])
        else assert.strictEqual(sandboxes[0]?.state, row.after)
      }).pipe(Effect.provide(harness({ config: { deleteOnClose: row.deleteOnClose } })))
    )
  }

  it.effect("an explicit onClose wins over the derived policy", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      yield* memory.seed({ state: "started", labels: { [SID_LABEL]: "m" } })
      const exit = yield* clocked(
        Effect.scoped(DaytonaRuntime.acquire({ sid: "m", attachToExisting: true, onClose: "delete" }))
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(yield* lastClose, "deleted")
      assert.deepStrictEqual(yield* memory.sandboxes, [])
    }).pipe(Effect.provide(harness()))
  )

  it.effect("transient stop failures are retried; a final failure is reported, not swallowed", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const transient = new DaytonaApiError({
        reason: "Transient",
        operation: "DaytonaClient.stop",
        detail: "503",
        status: 503
      })
      yield* memory.failNext("stop", transient, 2)
      const ok = yield* clocked(Effect.scoped(DaytonaRuntime.acquire({ sid: "a" })))
      assert.isTrue(Exit.isSuccess(ok))
      assert.strictEqual(yield* lastClose, "stopped", "two 503s, then stopped")

      yield* memory.failNext("stop", transient, 50)
      const bad = yield* clocked(Effect.scoped(DaytonaRuntime.acquire({ sid: "b" })))
      assert.isTrue(Exit.isSuccess(bad), "a failed close does not fail the program")
      const events = yield* RecordedEvents.all
      const last = events.at(-1)!
      assert.isTrue(last._tag === "Closed" && last.action === "failed" && last.error !== undefined)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("the keep-alive refreshes activity while held and stops with the scope", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const exit = yield* clocked(
        Effect.scoped(
          Effect.gen(function* () {
            yield* DaytonaRuntime.acquire({ keepAliveInterval: "1 minute" })
            yield* Effect.sleep(Duration.seconds(330))
          })
        ),
        { step: "10 seconds", limit: "20 minutes" }
      )
      assert.isTrue(Exit.isSuccess(exit))
      const refreshes = (yield* memory.calls).filter((c) => c.method === "refreshActivity").length
      assert.strictEqual(refreshes, 5)
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* memory.calls).filter((c) => c.method === "refreshActivity").length, 5)
    }).pipe(Effect.provide(harness()))
  )
})

describe("interruption in each phase cleans up per policy", () => {
  const phases: ReadonlyArray<{
    readonly phase: string
    readonly at: Duration.DurationInput
    readonly options?: HarnessOptions
    readonly arrange?: Effect.Effect<void, never, ScriptedActionServerControl>
    readonly initialCommands?: ReadonlyArray<string>
  }> = [
    { phase: "creating", at: "1 second" },
    { phase: "starting the server", at: "2500 millis", options: { delays: { executeSessionCommand: "3 seconds" } } },
    {
      phase: "waiting for alive",
      at: "10 seconds",
      arrange: Effect.flatMap(ScriptedActionServerControl, (s) =>
        s.setAliveDefault(new ConnectionRefused({ url: "x" }))
      )
    },
    {
      phase: "setup",
      at: "5 seconds",
      initialCommands: ["git clone big-repo"],
      arrange: Effect.flatMap(ScriptedActionServerControl, (s) =>
        s.queueExecute(Effect.as(Effect.sleep("1 minute"), completed("git clone", "")))
      )
    },
    { phase: "ready", at: "1 minute" }
  ]

  for (const { arrange, at, initialCommands, options, phase } of phases) {
    for (const deleteOnClose of [false, true]) {
      it.effect(`${phase} (deleteOnClose=${deleteOnClose})`, () =>
        Effect.gen(function* () {
          const memory = yield* DaytonaClientMemoryControl
          if (arrange !== undefined) yield* arrange
          const fiber = yield* Effect.fork(
            Effect.scoped(
              Effect.zipRight(
                DaytonaRuntime.acquire(initialCommands === undefined ? {} : { initialCommands }),
                Effect.never
              )
            )
          )
          yield* TestClock.adjust(at)
          const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
          yield* clocked(Fiber.join(interrupting))
          const sandboxes = yield* memory.sandboxes
          if (deleteOnClose) assert.deepStrictEqual(sandboxes, [], "deleted")
          else {
            assert.strictEqual(sandboxes.length, 1, "the sandbox was created before the interruption")
            assert.strictEqual(sandboxes[0]!.state, "stopped")
          }
          assert.strictEqual((yield* RecordedEvents.all).at(-1)?._tag, "Closed")
        }).pipe(Effect.provide(harness({ ...options, config: { deleteOnClose } })))
      )
    }
  }
})
