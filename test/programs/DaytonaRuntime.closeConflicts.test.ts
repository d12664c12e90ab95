/**
 * The close policy against what Daytona answers during a state change (the in-memory client answers as Daytona's
 * `SandboxService` does): a delete refused with 409 because a delete is already under way, or a start or stop is;
 * a stop refused with 400 because the sandbox is errored or not started, or with 409 because it is changing state;
 * and a sandbox that reads `started` while Daytona already drives it toward `stopped` or `destroyed`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, TestClock } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import { DaytonaApiError, DaytonaClient, type DaytonaClientService } from "../../src/services/DaytonaClient.js"
import type { CloseAction } from "../../src/services/RuntimeEvents.js"
import { clocked, harness, RecordedEvents } from "../support/harness.js"

const closed = Effect.map(RecordedEvents.all, (events) => {
  const last = events.at(-1)
  assert.strictEqual(last?._tag, "Closed", "the last event is Closed")
  return last?._tag === "Closed" ? { action: last.action, error: last.error } : undefined
})

/** Holds a runtime, lets `whileHeld` change the sandbox behind its back, then closes it (under the clock). */
const holdThenClose = <E, R>(
  options: DaytonaRuntime.RuntimeOptions,
  whileHeld: (sandboxId: string) => Effect.Effect<void, E, R>
) =>
  clocked(Effect.scoped(Effect.flatMap(DaytonaRuntime.acquire(options), (runtime) => whileHeld(runtime.sandboxId))), {
    limit: "5 minutes"
  })

const expectClosed = (action: CloseAction) =>
  Effect.map(closed, (last) => {
    assert.strictEqual(last?.action, action, last?.error)
    assert.isUndefined(last?.error)
  })

describe("close: the delete policy meets a 409", () => {
  it.effect("a delete already under way (a second delete) counts as deleted; the sandbox goes", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const client = yield* DaytonaClient
      const exit = yield* holdThenClose({ onClose: "delete" }, (id) => client.delete(id).pipe(Effect.orDie))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      yield* expectClosed("deleted")
      const deletes = (yield* memory.calls).filter((call) => call.method === "delete")
      assert.strictEqual(deletes.length, 2, "no retry loop against a delete under way")
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* memory.sandboxes, [], "gone once the first delete is done")
    }).pipe(Effect.provide(harness({ memory: { latencies: { delete: "5 seconds" } } })))
  )

  for (const state of ["starting", "stopping"] as const) {
    it.effect(`a delete while the sandbox is ${state}: waits the change out, then deletes`, () =>
      Effect.gen(function* () {
        const memory = yield* DaytonaClientMemoryControl
        const exit = yield* holdThenClose({ onClose: "delete" }, (id) => memory.stickState(id, state, "20 seconds"))
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        yield* expectClosed("deleted")
        const calls = (yield* memory.calls).map((call) => call.method)
        assert.strictEqual(calls.filter((method) => method === "delete").length, 2, "refused once, then deleted")
        assert.isAtLeast(calls.filter((method) => method === "get").length, 15, "read the state while it changed")
        assert.deepStrictEqual(yield* memory.sandboxes, [])
      }).pipe(Effect.provide(harness()))
    )
  }
})

describe("close: the stop policy meets a 400 or a 409", () => {
  it.effect("an errored sandbox (400 'in an errored state') is left as it is: already-stopped", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const exit = yield* holdThenClose({}, (id) => memory.setState(id, "error", { errorReason: "disk full" }))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      yield* expectClosed("already-stopped")
      assert.strictEqual((yield* memory.sandboxes)[0]?.state, "error")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a sandbox already stopping (409): waits until it is stopped", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const exit = yield* holdThenClose({}, (id) => memory.stickState(id, "stopping", "10 seconds"))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      yield* expectClosed("stopped")
      assert.strictEqual((yield* memory.sandboxes)[0]?.state, "stopped")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a sandbox restarting (409): waits until it is started, then stops it", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const exit = yield* holdThenClose({}, (id) => memory.stickState(id, "starting", "10 seconds"))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      yield* expectClosed("stopped")
      assert.strictEqual((yield* memory.sandboxes)[0]?.state, "stopped")
      assert.strictEqual((yield* memory.calls).filter((call) => call.method === "stop").length, 2)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a sandbox deleted behind the runtime's back while it is destroying: already-gone", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const client = yield* DaytonaClient
      const exit = yield* holdThenClose({}, (id) => client.delete(id).pipe(Effect.orDie))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      yield* expectClosed("already-gone")
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* memory.sandboxes, [])
    }).pipe(Effect.provide(harness({ memory: { latencies: { delete: "5 seconds" } } })))
  )

  it.effect("a refusal the state does not explain is reported as a failed close, not retried", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const refused = new DaytonaApiError({
        reason: "Invalid",
        operation: "DaytonaClient.stop",
        detail: "no",
        status: 400
      })
      const exit = yield* holdThenClose({}, () => memory.failNext("stop", refused, 10))
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const last = yield* closed
      assert.strictEqual(last?.action, "failed")
      assert.include(last?.error, "HTTP 400")
      assert.strictEqual((yield* memory.calls).filter((call) => call.method === "stop").length, 1)
    }).pipe(Effect.provide(harness()))
  )
})

/**
 * Daytona answers a stop or a delete before it carries it out: the sandbox reads `started` with `desiredState`
 * `stopped` or `destroyed` until its runner acts. The in-memory client has no desired state; these tests add one to
 * what `get` answers.
 */
const withDesiredState =
  (desired: () => string | undefined) =>
  (client: DaytonaClientService): DaytonaClientService => ({
    ...client,
    get: (id) =>
      Effect.map(client.get(id), (sandbox) => {
        const desiredState = desired()
        return desiredState === undefined ? sandbox : { ...sandbox, desiredState }
      })
  })

describe("close and settle read desiredState", () => {
  let desired: string | undefined
  const refusedStop = new DaytonaApiError({
    reason: "StateChangeInProgress",
    operation: "DaytonaClient.stop",
    detail: "Sandbox state change in progress",
    status: 409
  })

  it.effect("stop refused (409) while the sandbox reads started but is being deleted: already-gone", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      desired = undefined
      const exit = yield* holdThenClose({}, () =>
        Effect.zipRight(
          memory.failNext("stop", refusedStop),
          Effect.sync(() => {
            desired = "destroyed"
          })
        )
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      yield* expectClosed("already-gone")
    }).pipe(Effect.provide(harness({ wrap: withDesiredState(() => desired) })))
  )

  it.effect("attach to a sandbox that reads started but is being stopped: waits until stopped, then starts it", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const seeded = yield* memory.seed({ state: "started", labels: { OpenHands_SID: "going" } })
      desired = "stopped"
      yield* memory.stickState(seeded.id, "started", "3 seconds")
      // The runner acts: the sandbox stops after 3 s, and then nothing drives it anywhere.
      const exit = yield* clocked(
        Effect.scoped(
          Effect.gen(function* () {
            yield* Effect.fork(
              Effect.zipRight(
                Effect.sleep("3 seconds"),
                Effect.zipRight(
                  memory.setState(seeded.id, "stopped"),
                  Effect.sync(() => {
                    desired = undefined
                  })
                )
              )
            )
            return yield* DaytonaRuntime.acquire({ sid: "going", attachToExisting: true })
          })
        )
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const calls = (yield* memory.calls).map((call) => call.method)
      assert.include(calls, "waitUntilStopped")
      assert.include(calls, "start", "started again after the stop, rather than used while stopping")
    }).pipe(Effect.provide(harness({ wrap: withDesiredState(() => desired) })))
  )

  it.effect("attach to a sandbox deleted while the runtime waited for its stop: SandboxUnusable destroyed", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const seeded = yield* memory.seed({ state: "stopping", labels: { OpenHands_SID: "vanishing" } })
      yield* memory.stickState(seeded.id, "stopping", "2 seconds")
      const exit = yield* clocked(Effect.scoped(DaytonaRuntime.acquire({ sid: "vanishing", attachToExisting: true })))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "SandboxUnusable", Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success")
      if (error?._tag === "SandboxUnusable") {
        assert.strictEqual(error.state, "destroyed")
        assert.include(error.message, "connect again to create a new one")
      }
    }).pipe(
      Effect.provide(
        harness({
          // An ephemeral sandbox: Daytona deletes it when it stops, so the read after the stop finds nothing.
          wrap: (client) => {
            let stopped = false
            return {
              ...client,
              waitUntilStopped: (id) =>
                Effect.tap(client.waitUntilStopped(id), () => Effect.sync(() => (stopped = true))),
              get: (id) =>
                Effect.suspend(() =>
                  stopped
                    ? Effect.fail(
                        new DaytonaApiError({
                          reason: "NotFound",
                          operation: "DaytonaClient.get",
                          detail: `Sandbox with ID or name ${id} not found`,
                          status: 404
                        })
                      )
                    : client.get(id)
                )
            }
          }
        })
      )
    )
  )
})
