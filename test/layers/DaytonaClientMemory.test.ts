import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Either, Exit, Fiber, Option, Redacted, TestClock } from "effect"
import type { Sandbox } from "../../src/services/DaytonaClient.js"
import { AmbiguousSandbox, DaytonaApiError, DaytonaClient, SID_LABEL } from "../../src/services/DaytonaClient.js"
import * as Memory from "../../src/layers/DaytonaClientMemory.js"

const params = (labels: Record<string, string> = {}, name?: string) => ({
  envVars: { A: "1" },
  labels,
  public: false,
  autoStopInterval: 0,
  ...(name === undefined ? {} : { name })
})

const apiError = (reason: DaytonaApiError["reason"], extra: Partial<DaytonaApiError> = {}) =>
  new DaytonaApiError({ reason, operation: "test", detail: `scripted ${reason}`, ...extra })

/** Fails the test unless `exit` is a DaytonaApiError with `reason`; returns the error. */
const expectApiError = <A>(exit: Exit.Exit<A, unknown>, reason: DaytonaApiError["reason"]): DaytonaApiError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  assert.instanceOf(error, DaytonaApiError)
  assert.strictEqual((error as DaytonaApiError).reason, reason)
  return error as DaytonaApiError
}

const stateOf = (control: Memory.MemoryControl, id: string) =>
  Effect.map(control.sandboxes, (all) => all.find((s) => s.id === id)?.state)

describe("DaytonaClientMemory", () => {
  it.effect("create takes its latency, then the sandbox is started, with the language label", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const fiber = yield* Effect.fork(client.create(params({ [SID_LABEL]: "s1" })))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      assert.strictEqual(yield* stateOf(control, "sbx-1"), "creating")
      yield* TestClock.adjust("1 millis")
      const sandbox = yield* Fiber.join(fiber)
      assert.strictEqual(sandbox.id, "sbx-1")
      assert.strictEqual(sandbox.name, "sbx-1")
      assert.strictEqual(sandbox.state, "started")
      assert.deepStrictEqual(sandbox.labels, { [SID_LABEL]: "s1", "code-toolbox-language": "python" })
      assert.strictEqual(Redacted.value(sandbox.env.A!), "1")
      assert.deepStrictEqual(
        Option.map(sandbox.createdAt, (d) => d.getTime()),
        Option.some(0)
      )
      const second = yield* Effect.fork(client.create(params()))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(second)).id, "sbx-2")
    })
  )

  it.effect("a taken name is a Conflict (409); the name is free again once the sandbox is deleted", () =>
    Effect.gen(function* () {
      const { client } = yield* Memory.make({ latencies: { create: 0 } })
      const first = yield* client.create(params({}, "agent-1"))
      const error = expectApiError(yield* Effect.exit(client.create(params({}, "agent-1"))), "Conflict")
      assert.strictEqual(error.status, 409)
      assert.strictEqual((yield* client.get("agent-1")).id, first.id)
      yield* client.delete(first.id)
      const again = yield* client.create(params({}, "agent-1"))
      assert.notStrictEqual(again.id, first.id)
    })
  )

  it.effect("start: stopped → starting → started after the latency, with a new preview token", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const seeded = yield* control.seed({ state: "stopped" })
      const before = yield* control.previewTokens(seeded.id)
      const fiber = yield* Effect.fork(client.start(seeded.id))
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* stateOf(control, seeded.id), "starting")
      const busy = expectApiError(yield* Effect.exit(client.start(seeded.id)), "StateChangeInProgress")
      assert.strictEqual(busy.status, 409)
      assert.include(busy.message, "Sandbox state change in progress")
      const stopBusy = expectApiError(yield* Effect.exit(client.stop(seeded.id)), "StateChangeInProgress")
      assert.strictEqual(stopBusy.status, 409)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).state, "started")
      const after = yield* control.previewTokens(seeded.id)
      assert.notStrictEqual(after, before)
      const link = yield* client.previewLink(seeded.id, 4444)
      assert.strictEqual(link.url, `http://127.0.0.1:4444-preview/${seeded.id}/4444`)
      assert.strictEqual(Redacted.value(link.token), after)
    })
  )

  it.effect("start on a started sandbox is a no-op; error/build_failed/destroyed/missing fail", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const running = yield* control.seed({ state: "started" })
      const token = yield* control.previewTokens(running.id)
      assert.strictEqual((yield* client.start(running.id)).state, "started")
      assert.strictEqual(yield* control.previewTokens(running.id), token)
      const broken = yield* control.seed({ state: "error", errorReason: "disk full" })
      const failed = expectApiError(yield* Effect.exit(client.start(broken.id)), "SandboxFailed")
      assert.strictEqual(failed.sandboxId, broken.id)
      assert.include(failed.detail, "disk full")
      const unbuilt = yield* control.seed({ state: "build_failed" })
      expectApiError(yield* Effect.exit(client.start(unbuilt.id)), "SandboxFailed")
      const gone = yield* control.seed({ state: "destroyed" })
      assert.strictEqual(expectApiError(yield* Effect.exit(client.start(gone.id)), "NotFound").status, 404)
      assert.strictEqual(expectApiError(yield* Effect.exit(client.start("sbx-404")), "NotFound").status, 404)
    })
  )

  it.effect("stop: started → stopping → stopped (the call waits); missing → NotFound 404", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make({ latencies: { stop: "3 seconds" } })
      const sandbox = yield* control.seed({ state: "started" })
      const fiber = yield* Effect.fork(client.stop(sandbox.id))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* stateOf(control, sandbox.id), "stopping")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* stateOf(control, sandbox.id), "stopped")
      // As Daytona answers: stopping a sandbox that is not started is refused with 400, an errored one too.
      const again = yield* Effect.either(client.stop(sandbox.id))
      assert.isTrue(Either.isLeft(again) && again.left.reason === "Invalid" && again.left.status === 400)
      assert.isTrue(Either.isLeft(again) && again.left.detail === "Sandbox is not in a stoppable state")
      const broken = yield* control.seed({ state: "error", errorReason: "disk full" })
      const errored = expectApiError(yield* Effect.exit(client.stop(broken.id)), "SandboxFailed")
      assert.deepStrictEqual([errored.status, errored.detail], [400, "Sandbox is in an errored state"])
      assert.strictEqual(expectApiError(yield* Effect.exit(client.stop("sbx-9")), "NotFound").status, 404)
    })
  )

  it.effect("delete: gone at once by default, then get → NotFound 404; with a latency it is destroying first", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const sandbox = yield* control.seed({ state: "started" })
      yield* client.delete(sandbox.id)
      assert.strictEqual(expectApiError(yield* Effect.exit(client.get(sandbox.id)), "NotFound").status, 404)
      assert.lengthOf(yield* control.sandboxes, 0)
      expectApiError(yield* Effect.exit(client.delete(sandbox.id)), "NotFound")

      const slow = yield* Memory.make({ latencies: { delete: "5 seconds" } })
      const other = yield* slow.control.seed({ state: "stopped" })
      yield* slow.client.delete(other.id)
      assert.strictEqual((yield* slow.client.get(other.id)).state, "destroying")
      // As Daytona answers: a second delete while the first is under way is refused with 409.
      const twice = expectApiError(yield* Effect.exit(slow.client.delete(other.id)), "StateChangeInProgress")
      assert.strictEqual(twice.status, 409)
      const starting = yield* slow.control.seed({ state: "starting" })
      expectApiError(yield* Effect.exit(slow.client.delete(starting.id)), "StateChangeInProgress")
      yield* TestClock.adjust("5 seconds")
      expectApiError(yield* Effect.exit(slow.client.get(other.id)), "NotFound")
    })
  )

  it.effect("recover: only a recoverable error recovers (→ started after the latency)", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const sick = yield* control.seed({ state: "error", errorReason: "oom", recoverable: true })
      const fiber = yield* Effect.fork(client.recover(sick.id))
      yield* TestClock.adjust("1 second")
      const recovered = yield* Fiber.join(fiber)
      assert.strictEqual(recovered.state, "started")
      assert.isTrue(Option.isNone(recovered.errorReason))
      const dead = yield* control.seed({ state: "error", recoverable: false })
      assert.strictEqual(expectApiError(yield* Effect.exit(client.recover(dead.id)), "Invalid").status, 400)
      expectApiError(yield* Effect.exit(client.recover(recovered.id)), "Invalid")
    })
  )

  it.effect("waitUntilStarted: returns on started, SandboxFailed on error, Timeout after exactly 60 s", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const a = yield* control.seed({ state: "starting" })
      const ok = yield* Effect.fork(client.waitUntilStarted(a.id))
      yield* TestClock.adjust("3 seconds")
      yield* control.setState(a.id, "started")
      yield* TestClock.adjust("100 millis")
      assert.strictEqual((yield* Fiber.join(ok)).state, "started")

      const b = yield* control.seed({ state: "starting" })
      const bad = yield* Effect.fork(Effect.exit(client.waitUntilStarted(b.id)))
      yield* TestClock.adjust("1 second")
      yield* control.setState(b.id, "build_failed", { errorReason: "no image" })
      yield* TestClock.adjust("100 millis")
      const failed = expectApiError(yield* Fiber.join(bad), "SandboxFailed")
      assert.include(failed.detail, "no image")

      const c = yield* control.seed({ state: "starting" })
      const slow = yield* Effect.fork(Effect.exit(client.waitUntilStarted(c.id)))
      yield* TestClock.adjust("59900 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(slow)))
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(expectApiError(yield* Fiber.join(slow), "Timeout").sandboxId, c.id)
      expectApiError(yield* Effect.exit(client.waitUntilStarted("sbx-77")), "NotFound")
    })
  )

  it.effect("waitUntilStopped: returns on stopped, and at once when the sandbox is gone", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const a = yield* control.seed({ state: "stopping" })
      const fiber = yield* Effect.fork(client.waitUntilStopped(a.id))
      yield* TestClock.adjust("2 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* control.setState(a.id, "stopped")
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(fiber)
      yield* client.waitUntilStopped("sbx-missing")
    })
  )

  it.effect("findBySid: none, one, AmbiguousSandbox; destroyed and destroying are ignored", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      assert.isTrue(Option.isNone(yield* client.findBySid("s1")))
      yield* control.seed({ state: "destroyed", labels: { [SID_LABEL]: "s1" } })
      yield* control.seed({ state: "destroying", labels: { [SID_LABEL]: "s1" } })
      yield* control.seed({ state: "started", labels: { [SID_LABEL]: "other" } })
      assert.isTrue(Option.isNone(yield* client.findBySid("s1")))
      const one = yield* control.seed({ state: "stopped", labels: { [SID_LABEL]: "s1" } })
      assert.strictEqual(Option.getOrThrow(yield* client.findBySid("s1")).id, one.id)
      const two = yield* control.seed({ state: "started", labels: { [SID_LABEL]: "s1" } })
      const error = yield* Effect.flip(client.findBySid("s1"))
      assert.instanceOf(error, AmbiguousSandbox)
      assert.deepStrictEqual((error as AmbiguousSandbox).sandboxIds, [one.id, two.id])
      const listed = yield* client.list({ [SID_LABEL]: "s1" })
      assert.sameMembers(
        listed.map((s: Sandbox) => s.state),
        ["destroying", "stopped", "started"]
      )
    })
  )

  it.effect("failNext: the next calls fail in order, before touching state; then calls succeed", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const sandbox = yield* control.seed({ state: "stopped" })
      yield* control.failNext("start", apiError("Transient", { status: 503 }), 2)
      yield* control.failNext("start", apiError("Forbidden", { status: 403 }))
      expectApiError(yield* Effect.exit(client.start(sandbox.id)), "Transient")
      assert.strictEqual(yield* stateOf(control, sandbox.id), "stopped")
      expectApiError(yield* Effect.exit(client.start(sandbox.id)), "Transient")
      expectApiError(yield* Effect.exit(client.start(sandbox.id)), "Forbidden")
      assert.strictEqual(yield* stateOf(control, sandbox.id), "stopped")
      const fiber = yield* Effect.fork(client.start(sandbox.id))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber)).state, "started")
      const calls = yield* control.calls
      assert.deepStrictEqual(
        calls.filter((c) => c.method === "start"),
        Array.from({ length: 4 }, () => ({ method: "start" as const, sandboxId: sandbox.id }))
      )
    })
  )

  it.effect("allocateThenFail: the sandbox exists, labels and all, though create failed", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      yield* control.allocateThenFail(apiError("Timeout"))
      expectApiError(yield* Effect.exit(client.create(params({ [SID_LABEL]: "s9" }))), "Timeout")
      const all = yield* control.sandboxes
      assert.lengthOf(all, 1)
      assert.strictEqual(all[0]!.labels[SID_LABEL], "s9")
      assert.strictEqual(Option.getOrThrow(yield* client.findBySid("s9")).id, all[0]!.id)
    })
  )

  it.effect("stickState: a create stuck in starting times out at 60 s and the sandbox starts later", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      yield* control.stickState("next-create", "starting", "200 seconds")
      const fiber = yield* Effect.fork(Effect.exit(client.create(params())))
      yield* TestClock.adjust("60 seconds")
      expectApiError(yield* Fiber.join(fiber), "Timeout")
      assert.strictEqual(yield* stateOf(control, "sbx-1"), "starting")
      yield* TestClock.adjust("139 seconds")
      assert.strictEqual(yield* stateOf(control, "sbx-1"), "starting")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* stateOf(control, "sbx-1"), "started")

      const other = yield* control.seed({ state: "started" })
      yield* control.stickState(other.id, "stopping", "10 seconds")
      expectApiError(yield* Effect.exit(client.start(other.id)), "StateChangeInProgress")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* stateOf(control, other.id), "stopped")
    })
  )

  it.effect("a 429 is retried after its Retry-After (stretched by at most a quarter), at most 3 times", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const sandbox = yield* control.seed({ state: "started" })
      yield* control.failNext("get", apiError("RateLimited", { status: 429, retryAfter: Duration.seconds(5) }))
      const fiber = yield* Effect.fork(client.get(sandbox.id))
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "never sooner than Daytona asked")
      assert.lengthOf(yield* control.calls, 1)
      yield* TestClock.adjust("1251 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).id, sandbox.id)
      assert.lengthOf(yield* control.calls, 2)

      // Three more tries at most: a fourth 429 surfaces; a Retry-After over 60 s surfaces at once.
      yield* control.failNext("get", apiError("RateLimited", { status: 429, retryAfter: Duration.seconds(1) }), 4)
      const persistent = yield* Effect.fork(Effect.exit(client.get(sandbox.id)))
      yield* TestClock.adjust("4 seconds")
      expectApiError(yield* Fiber.join(persistent), "RateLimited")
      assert.lengthOf(yield* control.calls, 6)
      yield* control.failNext("get", apiError("RateLimited", { status: 429, retryAfter: Duration.seconds(61) }))
      expectApiError(yield* Effect.exit(client.get(sandbox.id)), "RateLimited")
    })
  )

  it.effect("sessions: commands are recorded, async ones return at once, logs return the set output", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const sandbox = yield* control.seed({ state: "started" })
      yield* client.createSession(sandbox.id, "srv")
      expectApiError(yield* Effect.exit(client.createSession(sandbox.id, "srv")), "Conflict")
      const result = yield* client.executeSessionCommand(sandbox.id, "srv", "python -m server", { runAsync: true })
      assert.isTrue(Option.isNone(result.exitCode))
      yield* control.setCommandOutput("booting\n")
      const logs = yield* client.sessionCommandLogs(sandbox.id, "srv", result.cmdId)
      assert.strictEqual(logs.output, "booting\n")
      const sync = yield* client.executeSessionCommand(sandbox.id, "srv", "echo hi")
      assert.deepStrictEqual(sync.exitCode, Option.some(0))
      assert.deepStrictEqual(yield* control.commands, [
        { sandboxId: sandbox.id, sessionId: "srv", command: "python -m server", runAsync: true },
        { sandboxId: sandbox.id, sessionId: "srv", command: "echo hi", runAsync: false }
      ])
      expectApiError(yield* Effect.exit(client.executeSessionCommand(sandbox.id, "nope", "ls")), "NotFound")
      expectApiError(yield* Effect.exit(client.sessionCommandLogs(sandbox.id, "srv", "cmd-99")), "NotFound")
      const stopped = yield* control.seed({ state: "stopped" })
      expectApiError(yield* Effect.exit(client.createSession(stopped.id, "srv")), "Invalid")
    })
  )

  it.effect("signed preview URLs carry a token; refreshActivity moves lastActivityAt", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make({ previewBase: "http://preview.test" })
      const sandbox = yield* control.seed({ state: "started" })
      const signed = yield* client.signedPreviewUrl(sandbox.id, 4445, 600)
      assert.strictEqual(signed.expiresInSeconds, 600)
      assert.match(Redacted.value(signed.url), /^http:\/\/preview\.test\/sbx-1\/4445\?token=signed-/)
      yield* TestClock.adjust("90 seconds")
      yield* client.refreshActivity(sandbox.id)
      const after = yield* client.get(sandbox.id)
      assert.deepStrictEqual(
        Option.map(after.lastActivityAt, (d) => d.getTime()),
        Option.some(90_000)
      )
    })
  )

  it.effect("the layer provides the client and its control", () =>
    Effect.gen(function* () {
      const client = yield* DaytonaClient
      const control = yield* Memory.DaytonaClientMemoryControl
      yield* control.seed({ state: "started", labels: { [SID_LABEL]: "x" } })
      const found = yield* client.findBySid("x")
      assert.isTrue(Option.isSome(found))
      assert.isTrue(Either.isRight(yield* Effect.either(client.get("sbx-1"))))
    }).pipe(Effect.provide(Memory.layer({ latencies: { create: 0 } })))
  )
})
