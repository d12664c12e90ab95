/**
 * `DaytonaRuntime.pool`: a pool of ready runtimes over the in-memory client and the scripted action server, under
 * TestClock — filled in the background, handed out without a create, relabelled with the caller's SID (the lease kept),
 * refilled, a dead runtime discarded and never handed out, idle ones deleted when the pool closes, handed-out ones
 * closed by their caller's policy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, TestClock } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as Lease from "../../src/programs/Lease.js"
import * as RuntimePool from "../../src/programs/RuntimePool.js"
import { ConnectionRefused, DaytonaApiError, SID_LABEL } from "../../src/index.js"
import { ScriptedActionServerControl } from "../support/ScriptedActionServer.js"
import { harness } from "../support/harness.js"

/** Advances the clock until `done` holds (at most a virtual minute). */
const until = <E, R>(done: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 600 && !(yield* done); i++) yield* TestClock.adjust("100 millis")
    assert.isTrue(yield* done, "the condition held within a virtual minute")
  })

/** Closes a scope while advancing the clock (stops, deletes and makes in flight take virtual time). */
const closeClocked = (scope: Scope.CloseableScope) =>
  Effect.gen(function* () {
    const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
    yield* until(Effect.map(Fiber.poll(closing), Option.isSome))
  })

const readyCount = (pool: RuntimePool.RuntimePoolService, n: number) =>
  Effect.map(pool.stats, (stats) => stats.ready === n && stats.filling === 0)

const creates = Effect.map(
  Effect.flatMap(DaytonaClientMemoryControl, (memory) => memory.calls),
  (calls) => calls.filter((call) => call.method === "create").length
)

describe("DaytonaRuntime.pool", () => {
  it.effect("hands out a ready runtime without a create, relabelled with the caller's SID, and refills", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const poolScope = yield* Scope.make()
      const pool = yield* Scope.extend(RuntimePool.make({ size: 2, snapshot: "agent-image" }), poolScope)
      yield* until(readyCount(pool, 2))
      const made = yield* memory.sandboxes
      assert.strictEqual(made.length, 2)
      assert.isTrue(made.every((s) => s.state === "started" && /^pooled-[0-9a-f]{12}$/.test(s.labels[SID_LABEL]!)))
      const createsBefore = yield* creates

      const callerScope = yield* Scope.make()
      const handle = yield* Scope.extend(pool.acquire({ sid: "conversation-1" }), callerScope)
      assert.include(
        made.map((s) => s.id),
        handle.sandboxId,
        "a runtime made before the acquire"
      )
      assert.strictEqual(handle.sid, "conversation-1")
      assert.deepStrictEqual(handle.origin, { sandbox: "cold", runtimePool: true })
      assert.strictEqual(yield* handle.status, "READY")
      const labelled = (yield* memory.sandboxes).find((s) => s.id === handle.sandboxId)!
      assert.strictEqual(labelled.labels[SID_LABEL], "conversation-1")
      const lease = Lease.read(labelled.labels)
      assert.isTrue(Option.isSome(lease) && lease.value.generation === 1, "the lease labels are kept")
      assert.strictEqual(labelled.labels["code-toolbox-language"], "python", "the other labels are kept")
      const result = yield* handle.run("echo hi")
      assert.strictEqual(result._tag, "Completed")

      // The slot makes the next one at once.
      yield* until(readyCount(pool, 2))
      assert.strictEqual((yield* creates) - createsBefore, 1)
      assert.deepStrictEqual((yield* pool.stats).handedOut, 1)

      // The caller's scope closes its runtime by its own policy (stop); the pool's close deletes the idle ones.
      yield* closeClocked(callerScope)
      yield* until(
        Effect.map(memory.sandboxes, (all) => all.find((s) => s.id === handle.sandboxId)?.state === "stopped")
      )
      yield* closeClocked(poolScope)
      const left = yield* memory.sandboxes
      assert.deepStrictEqual(
        left.map((s) => [s.id, s.state]),
        [[handle.sandboxId, "stopped"]]
      )
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a pooled runtime that fails its check is deleted and the next one handed out", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      const poolScope = yield* Scope.make()
      const pool = yield* Scope.extend(RuntimePool.make({ size: 2 }), poolScope)
      yield* until(readyCount(pool, 2))
      const [first, second] = yield* memory.sandboxes
      // The first one's server is gone: its check fails.
      yield* scripted.queueAlive(new ConnectionRefused({ url: "x" }))
      const callerScope = yield* Scope.make()
      const handle = yield* Scope.extend(pool.acquire({ sid: "after-a-dead-one" }), callerScope)
      assert.strictEqual(handle.sandboxId, second!.id)
      yield* until(Effect.map(memory.sandboxes, (all) => !all.some((s) => s.id === first!.id)))
      assert.strictEqual((yield* pool.stats).discarded, 1)
      yield* closeClocked(callerScope)
      yield* closeClocked(poolScope)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("an acquire waits for a ready runtime; closing the pool ends the wait with RuntimePoolClosed", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const poolScope = yield* Scope.make()
      const pool = yield* Scope.extend(RuntimePool.make({ size: 1 }), poolScope)
      // Nothing is ready yet: the acquire waits for the first make (create 2 s, start of the server).
      const early = yield* Effect.fork(Effect.scoped(pool.acquire({ sid: "early" })))
      yield* until(Effect.map(Fiber.poll(early), Option.isSome))
      assert.isTrue(Exit.isSuccess(Option.getOrThrow(yield* Fiber.poll(early))))

      const waiting = yield* Effect.fork(Effect.scoped(pool.acquire({ sid: "late" })))
      yield* TestClock.adjust("100 millis")
      yield* closeClocked(poolScope)
      const exit = yield* Fiber.await(waiting)
      assert.isTrue(
        Exit.isFailure(exit) &&
          Exit.causeOption(exit).pipe(Option.exists((c) => String(c).includes("RuntimePoolClosed")))
      )
      const closedAcquire = yield* Effect.flip(Effect.scoped(pool.acquire()))
      assert.strictEqual(closedAcquire._tag, "RuntimePoolClosed")
      // The runtime being made when the pool closed is not left running.
      yield* until(Effect.map(memory.sandboxes, (all) => all.every((s) => s.state !== "started")))
    }).pipe(Effect.provide(harness()))
  )

  it.effect("bad options fail before anything is made; a failed make is tried again and reported in stats", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const badSize = yield* Effect.flip(Effect.scoped(RuntimePool.make({ size: 0 })))
      assert.strictEqual(badSize._tag, "InvalidRuntimeOptions")
      const badSid = yield* Effect.flip(
        Effect.scoped(Effect.flatMap(RuntimePool.make({ size: 1 }), (pool) => pool.acquire({ sid: "no spaces" })))
      )
      assert.strictEqual(badSid._tag, "InvalidRuntimeOptions")

      yield* memory.failNext(
        "create",
        new DaytonaApiError({ reason: "Forbidden", operation: "DaytonaClient.create", detail: "quota", status: 403 }),
        2
      )
      const poolScope = yield* Scope.make()
      const pool = yield* Scope.extend(RuntimePool.make({ size: 1 }), poolScope)
      yield* TestClock.adjust("500 millis")
      assert.match(
        Option.getOrElse((yield* pool.stats).lastFailure, () => ""),
        /quota/
      )
      yield* until(readyCount(pool, 1))
      yield* closeClocked(poolScope)
    }).pipe(Effect.scoped, Effect.provide(harness()))
  )
})
