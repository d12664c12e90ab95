/**
 * Runtimes shared per SID in one process (`SharedRuntimes`, an `RcMap`): two users of one SID get one handle and one
 * sandbox, their actions go one at a time, the sandbox closes once, when the last user releases it (after
 * `shareIdleTime`); other options for the same SID are refused; a failed make is not kept. Under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import { DaytonaApiError, SID_LABEL } from "../../src/services/DaytonaClient.js"
import { ScriptedActionServerControl, completed } from "../support/ScriptedActionServer.js"
import { harness, RecordedEvents } from "../support/harness.js"

const shared = (options?: Parameters<typeof harness>[0]) =>
  DaytonaRuntime.layerShared.pipe(Layer.provideMerge(harness(options)))

/** Advances the clock until `done` holds (at most a virtual minute). */
const until = <E, R>(done: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 600 && !(yield* done); i++) yield* TestClock.adjust("100 millis")
    assert.isTrue(yield* done, "the condition held within a virtual minute")
  })

const closeClocked = (scope: Scope.CloseableScope) =>
  Effect.gen(function* () {
    const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
    yield* until(Effect.map(Fiber.poll(closing), Option.isSome))
  })

/** Acquires in a scope of its own, advancing the clock until it is done. */
const acquireIn = (scope: Scope.CloseableScope, options: DaytonaRuntime.RuntimeOptions) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(Scope.extend(DaytonaRuntime.acquire(options), scope))
    yield* until(Effect.map(Fiber.poll(fiber), Option.isSome))
    return yield* Fiber.join(fiber)
  })

const stateOf = (id: string) =>
  Effect.map(
    Effect.flatMap(DaytonaClientMemoryControl, (memory) => memory.sandboxes),
    (all) => all.find((s) => s.id === id)?.state
  )

describe("DaytonaRuntime: runtimes shared per SID", () => {
  it.effect("two users of one SID share one handle and one sandbox; it closes once, after the last user", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      const options = { sid: "conversation", attachToExisting: true, onClose: "stop" } as const
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      // Both ask at once: one make, one sandbox.
      const [a, b] = yield* Effect.all([acquireIn(first, options), acquireIn(second, options)], {
        concurrency: 2
      })
      assert.strictEqual(a, b, "the same handle")
      const sandboxes = yield* memory.sandboxes
      assert.strictEqual(sandboxes.length, 1)
      assert.strictEqual(sandboxes[0]!.labels[SID_LABEL], "conversation")
      assert.strictEqual((yield* memory.calls).filter((c) => c.method === "create").length, 1)

      // Their actions go one at a time: the second waits for the first.
      yield* scripted.queueExecute(
        Effect.delay(Effect.succeed(completed("slow", "slow")), "1 second"),
        Effect.succeed(completed("quick", "quick"))
      )
      const slow = yield* Effect.fork(a.run("slow"))
      yield* TestClock.adjust("10 millis")
      const quick = yield* Effect.fork(b.run("quick"))
      yield* TestClock.adjust("500 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(quick)), "the second action waits for the first")
      yield* TestClock.adjust("600 millis")
      assert.strictEqual((yield* Fiber.join(slow)).output, "slow")
      assert.strictEqual((yield* Fiber.join(quick)).output, "quick")

      // The first user leaves: the sandbox stays for the second; it closes when the second leaves.
      yield* closeClocked(first)
      assert.strictEqual(yield* stateOf(a.sandboxId), "started")
      assert.strictEqual((yield* a.run("still here")).exitCode, 0)
      yield* closeClocked(second)
      assert.strictEqual(yield* stateOf(a.sandboxId), "stopped")
      const closes = (yield* RecordedEvents.all).filter((e) => e._tag === "Closed")
      assert.strictEqual(closes.length, 1, "closed once")
    }).pipe(Effect.provide(shared()))
  )

  it.effect("with shareIdleTime the runtime outlives its last user; a user coming back gets it", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const options = { sid: "idle", share: true, shareIdleTime: "30 seconds", onClose: "delete" } as const
      const first = yield* Scope.make()
      const runtime = yield* acquireIn(first, options)
      yield* closeClocked(first)
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual(yield* stateOf(runtime.sandboxId), "started")
      const again = yield* Scope.make()
      assert.strictEqual(yield* acquireIn(again, options), runtime, "the same runtime, no new make")
      yield* closeClocked(again)
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(yield* stateOf(runtime.sandboxId), "started")
      yield* TestClock.adjust("2 seconds")
      yield* until(Effect.map(stateOf(runtime.sandboxId), (state) => state === undefined))
      assert.strictEqual((yield* memory.calls).filter((c) => c.method === "create").length, 1)
    }).pipe(Effect.provide(shared()))
  )

  it.effect("other options for a held SID are refused; without share, or without the service, no sharing", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const held = yield* Scope.make()
      const runtime = yield* acquireIn(held, { sid: "strict", attachToExisting: true })
      const other = yield* Scope.make()
      const refused = yield* Effect.flip(
        acquireIn(other, { sid: "strict", attachToExisting: true, snapshot: "another-image" })
      )
      assert.strictEqual(refused._tag, "SharedRuntimeConflict")
      assert.include(refused.message, "snapshot")
      // A plain create (share defaults to false without attachToExisting) makes its own sandbox.
      const own = yield* acquireIn(other, { sid: "strict", onClose: "delete" })
      assert.notStrictEqual(own.sandboxId, runtime.sandboxId)
      yield* closeClocked(other)
      yield* closeClocked(held)
      assert.strictEqual((yield* memory.calls).filter((c) => c.method === "create").length, 2)
    }).pipe(Effect.provide(shared()))
  )

  it.effect("a failed make is not kept: the next acquire of the SID tries again", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      yield* memory.failNext(
        "create",
        new DaytonaApiError({ reason: "Forbidden", operation: "DaytonaClient.create", detail: "quota", status: 403 })
      )
      const options = { sid: "retry", share: true, shareIdleTime: "10 seconds" } as const
      const first = yield* Scope.make()
      const failed = yield* Effect.flip(acquireIn(first, options))
      assert.strictEqual(failed._tag, "DaytonaApiError")
      yield* closeClocked(first)
      const second = yield* Scope.make()
      const runtime = yield* acquireIn(second, options)
      assert.strictEqual(yield* runtime.status, "READY")
      yield* closeClocked(second)
      // Closed (stopped) once its idle time is over.
      yield* until(Effect.map(stateOf(runtime.sandboxId), (state) => state === "stopped"))
    }).pipe(Effect.provide(shared()))
  )
})
