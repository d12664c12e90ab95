/**
 * DAYTONA-FIDELITY.md §2, state machine: each case answered as Daytona's `sandbox.service.ts` and controller do.
 */
import { DaytonaConflictError, DaytonaNotFoundError, DaytonaValidationError } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, http, rejection, sdk, timed, waitUntil } from "./support.js"

const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode
const messageOf = (error: unknown) => (error as Error).message

/** Raw API calls with the emulator's key; the body parsed. */
const api =
  (control: Emulator.EmulatorControlService) =>
  (path: string, init: RequestInit = {}) =>
    Effect.map(
      http(`${control.apiUrl}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${Redacted.value(control.apiKey)}`, "Content-Type": "application/json" }
      }),
      (r) => ({ status: r.status, body: r.text === "" ? undefined : JSON.parse(r.text) })
    )

describe("Daytona fidelity: the sandbox state machine", () => {
  it.scopedLive("stop on stopped: 400 'not in a stoppable state'; stop on error: 400 'in an errored state'", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* call(() => sandbox.stop())
      const again = yield* rejection(() => daytona.stop(sandbox))
      assert.instanceOf(again, DaytonaValidationError)
      assert.strictEqual(messageOf(again), "Sandbox is not in a stoppable state")

      const errored = yield* call(() => daytona.create())
      yield* control.setSandboxState(errored.id, "error", { errorReason: "runner lost" })
      const onError = yield* rejection(() => errored.stop())
      assert.strictEqual(statusOf(onError), 400)
      assert.strictEqual(messageOf(onError), "Sandbox is in an errored state")
      assert.strictEqual(messageOf(yield* rejection(() => errored.start())), "Sandbox is in an errored state")
    })
  )

  it.scopedLive("delete during creating, starting or stopping, and delete twice: 409", () =>
    Effect.gen(function* () {
      // A slow delete, so the second one surely meets the first still under way (not a sandbox already gone).
      const control = yield* Emulator.make({ latencies: { delete: "3 seconds" } })
      const send = api(control)
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      for (const state of ["creating", "starting", "stopping"] as const) {
        yield* control.holdState(sandbox.id, state, "10 seconds")
        const refused = yield* send(`/sandbox/${sandbox.id}`, { method: "DELETE" })
        assert.strictEqual(refused.status, 409, state)
        assert.strictEqual(refused.body.message, "Sandbox state change in progress")
      }
      yield* control.setSandboxState(sandbox.id, "started")
      const first = yield* send(`/sandbox/${sandbox.id}`, { method: "DELETE" })
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.body.desiredState, "destroyed")
      const second = yield* send(`/sandbox/${sandbox.id}`, { method: "DELETE" })
      assert.strictEqual(second.status, 409)
      assert.instanceOf(yield* rejection(() => sandbox.delete()), DaytonaConflictError)
    })
  )

  it.scopedLive(
    "delete renames the sandbox at once: the old name is 404 and free, the id answers until destroyed",
    () =>
      Effect.gen(function* () {
        const control = yield* Emulator.make({ latencies: { delete: "500 millis" } })
        const send = api(control)
        const daytona = yield* sdk(control)
        const sandbox = yield* call(() => daytona.create({ name: "keeper" }))
        const deleted = yield* send(`/sandbox/${sandbox.id}`, { method: "DELETE" })
        assert.match(deleted.body.name, /^DESTROYED_keeper_\d+$/)
        assert.strictEqual(deleted.body.state, "started")
        assert.instanceOf(yield* rejection(() => daytona.get("keeper")), DaytonaNotFoundError)
        assert.strictEqual((yield* send(`/sandbox/${sandbox.id}`)).body.state, "destroying")
        const again = yield* call(() => daytona.create({ name: "keeper" }))
        assert.notStrictEqual(again.id, sandbox.id)
        yield* waitUntil(send(`/sandbox/${sandbox.id}`), (r) => r.status === 404)
      })
  )

  it.scopedLive("recover checks recoverability first, then the state; skipStart leaves it stopped", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const send = api(control)
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const healthy = yield* rejection(() => sandbox.recover())
      assert.strictEqual(messageOf(healthy), "Sandbox is not in a recoverable state")
      // Recoverable but not in error: the state check comes second.
      yield* control.setSandboxState(sandbox.id, "stopped", { recoverable: true })
      const notError = yield* send(`/sandbox/${sandbox.id}/recover`, { method: "POST" })
      assert.strictEqual(notError.status, 400)
      assert.strictEqual(notError.body.message, "Sandbox must be in error state to recover")

      yield* control.setSandboxState(sandbox.id, "error", { errorReason: "disk full", recoverable: true })
      const skipped = yield* send(`/sandbox/${sandbox.id}/recover?skipStart=true`, { method: "POST" })
      assert.strictEqual(skipped.body.state, "stopped")
      yield* control.setSandboxState(sandbox.id, "error", { errorReason: "disk full", recoverable: true })
      const recovered = yield* send(`/sandbox/${sandbox.id}/recover`, { method: "POST" })
      assert.strictEqual(recovered.body.state, "started")
    })
  )

  it.scopedLive("create, start and recover answer once started; an archived start answers at once", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ latencies: { create: "300 millis", start: "300 millis" } })
      const send = api(control)
      const created = yield* timed(send("/sandbox", { method: "POST", body: "{}" }))
      assert.isAtLeast(created.millis, 290)
      // Daytona's controller waits for `started`, then answers with the DTO made at the insert: `creating`.
      assert.deepStrictEqual([created.value.body.state, created.value.body.desiredState], ["creating", "started"])
      const id: string = created.value.body.id
      assert.strictEqual((yield* send(`/sandbox/${id}`)).body.state, "started")
      const stopped = yield* send(`/sandbox/${id}/stop`, { method: "POST" })
      // Stop answers at once, still started, on its way to stopped.
      assert.deepStrictEqual([stopped.body.state, stopped.body.desiredState], ["started", "stopped"])
      yield* waitUntil(send(`/sandbox/${id}`), (r) => r.body.state === "stopped")
      const started = yield* timed(send(`/sandbox/${id}/start`, { method: "POST" }))
      assert.isAtLeast(started.millis, 290)
      assert.strictEqual(started.value.body.state, "started")

      yield* send(`/sandbox/${id}/stop`, { method: "POST" })
      yield* waitUntil(send(`/sandbox/${id}`), (r) => r.body.state === "stopped")
      const archiving = yield* send(`/sandbox/${id}/archive`, { method: "POST" })
      assert.deepStrictEqual([archiving.body.state, archiving.body.desiredState], ["archiving", "archived"])
      yield* waitUntil(send(`/sandbox/${id}`), (r) => r.body.state === "archived")
      const restoring = yield* send(`/sandbox/${id}/start`, { method: "POST" })
      assert.deepStrictEqual([restoring.body.state, restoring.body.desiredState], ["archived", "started"])
      yield* waitUntil(send(`/sandbox/${id}`), (r) => r.body.state === "started")

      yield* control.holdState("next-create", "creating", "1 second")
      yield* control.resetRequests
      const failing = Effect.gen(function* () {
        yield* waitUntil(control.sandboxes, (all) => all.some((s) => s.state === "creating"))
        const pending = (yield* control.sandboxes).find((s) => s.state === "creating")!
        yield* control.setSandboxState(pending.id, "error", { errorReason: "image pull failed" })
      })
      const [refused] = yield* Effect.all([send("/sandbox", { method: "POST", body: "{}" }), failing], {
        concurrency: 2
      })
      assert.strictEqual(refused.status, 400)
      assert.strictEqual(refused.body.message, "Sandbox failed to start: image pull failed")
    })
  )

  it.scopedLive(
    "stopping an ephemeral sandbox (autoDeleteInterval 0) deletes it; ephemeral ones cannot be archived",
    () =>
      Effect.gen(function* () {
        const control = yield* Emulator.make()
        const daytona = yield* sdk(control)
        const ephemeral = yield* call(() => daytona.create({ ephemeral: true }))
        assert.strictEqual(ephemeral.autoDeleteInterval, 0)
        yield* call(() => ephemeral.stop())
        assert.strictEqual(ephemeral.state, "destroyed")
        yield* waitUntil(control.sandboxes, (all) => all.every((s) => s.id !== ephemeral.id))
        assert.instanceOf(yield* rejection(() => daytona.get(ephemeral.id)), DaytonaNotFoundError)
      })
  )
})
