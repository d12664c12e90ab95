import { DaytonaConnectionError, DaytonaInternalServerError, DaytonaRateLimitError } from "@daytonaio/sdk"
import type { Daytona } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { Fault } from "../../src/emulator/Emulator.js"
import { call, http, rejection, sdk, timed, transportCode, waitUntil } from "./support.js"

const LAUNCH = "python -m openhands.runtime.action_execution_server 4444 --working-dir /workspace"

const auth = (control: Emulator.EmulatorControlService) => ({
  Authorization: `Bearer ${Redacted.value(control.apiKey)}`
})

/** A public sandbox whose action server answers; returns its proxied URL and the command id. */
const withServer = (daytona: Daytona) =>
  Effect.gen(function* () {
    const sandbox = yield* call(() => daytona.create({ public: true }))
    yield* call(() => sandbox.process.createSession("a"))
    const { cmdId } = yield* call(() => sandbox.process.executeSessionCommand("a", { command: LAUNCH, runAsync: true }))
    const { url } = yield* call(() => sandbox.getPreviewLink(4444))
    yield* waitUntil(http(`${url}/alive`), (r) => r.status === 200)
    return { sandbox, url, cmdId: cmdId! }
  })

describe("Emulator fault injection", () => {
  it.scopedLive("Status (with Retry-After), repeated `times`, then normal answers; clearFaults drops the rest", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* control.resetRequests
      yield* control.inject("sandbox.get", Fault.Status({ status: 429, retryAfter: 7, message: "slow down" }), 2)
      for (let i = 0; i < 2; i++) {
        const limited = (yield* rejection(() => daytona.get(sandbox.id))) as DaytonaRateLimitError
        assert.instanceOf(limited, DaytonaRateLimitError)
        assert.strictEqual(limited.message, "slow down")
        assert.strictEqual(String(limited.headers?.["retry-after"]), "7")
      }
      assert.strictEqual((yield* call(() => daytona.get(sandbox.id))).id, sandbox.id)

      yield* control.inject("toolbox.createSession", Fault.Status({ status: 500 }))
      const body = JSON.parse(
        (yield* http(`${sandbox.toolboxProxyUrl}/${sandbox.id}/process/session`, {
          method: "POST",
          headers: { ...auth(control), "Content-Type": "application/json" },
          body: JSON.stringify({ sessionId: "s" })
        })).text
      )
      assert.strictEqual(body.source, "DAYTONA_DAEMON")
      assert.strictEqual(body.code, "INTERNAL_SERVER_ERROR")

      yield* control.inject("sandbox.get", Fault.Status({ status: 503 }), 5)
      yield* control.clearFaults
      assert.strictEqual((yield* call(() => daytona.get(sandbox.id))).id, sandbox.id)
      const statuses = (yield* control.requests).filter((e) => e.route === "sandbox.get").map((e) => e.status)
      assert.deepStrictEqual(statuses, [429, 429, 200, 200])
    })
  )

  it.scopedLive("Latency, Malformed, Drop and SlowLoris", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const url = `${control.apiUrl}/sandbox/${sandbox.id}`

      yield* control.inject("sandbox.get", Fault.Latency({ duration: "300 millis" }))
      const slow = yield* timed(http(url, { headers: auth(control) }))
      assert.isAtLeast(slow.millis, 290)
      assert.strictEqual(slow.value.status, 200)

      yield* control.inject("sandbox.get", Fault.Malformed())
      const malformed = yield* http(url, { headers: auth(control) })
      assert.strictEqual(malformed.status, 200)
      assert.throws(() => JSON.parse(malformed.text))

      yield* control.inject("sandbox.get", Fault.Drop())
      const dropped = yield* Effect.flip(http(url, { headers: auth(control) }))
      assert.notStrictEqual(transportCode(dropped), "ECONNREFUSED")
      // The SDK retries a dropped GET twice, then gives up with a connection error.
      yield* control.inject("sandbox.get", Fault.Drop(), 3)
      assert.instanceOf(yield* rejection(() => daytona.get(sandbox.id)), DaytonaConnectionError)
      assert.strictEqual((yield* control.requests).filter((e) => e.status === 0).length, 4)

      yield* control.inject("sandbox.get", Fault.SlowLoris({ duration: "400 millis" }))
      const trickle = yield* timed(
        call(async () => {
          const started = Date.now()
          const response = await fetch(url, { headers: auth(control) })
          const headersAfter = Date.now() - started
          const body = JSON.parse(await response.text())
          return { headersAfter, body }
        })
      )
      assert.isBelow(trickle.value.headersAfter, 300)
      assert.isAtLeast(trickle.millis, 390)
      assert.strictEqual(trickle.value.body.id, sandbox.id)
    })
  )

  it.scopedLive("AllocateThenFail: the create fails but the sandbox exists and starts", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      yield* control.inject("sandbox.create", Fault.AllocateThenFail({ status: 500 }))
      const failed = yield* rejection(() => daytona.create({ labels: { owner: "leak-test" } }))
      assert.instanceOf(failed, DaytonaInternalServerError)
      const all = yield* waitUntil(control.sandboxes, (s) => s.length === 1 && s[0]!.state === "started")
      assert.deepStrictEqual(all[0]!.labels, { owner: "leak-test", "code-toolbox-language": "python" })
    })
  )

  it.scopedLive("action server faults: Status, SlowLoris and Crash reach the in-process server", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ actionServer: { bootDelay: "0 millis" } })
      const daytona = yield* sdk(control)
      const { cmdId, sandbox, url } = yield* withServer(daytona)

      yield* control.inject("action.alive", Fault.Status({ status: 503, message: "warming up" }))
      const unavailable = yield* http(`${url}/alive`)
      assert.strictEqual(unavailable.status, 503)
      assert.include(unavailable.text, "warming up")

      yield* control.inject("action.alive", Fault.SlowLoris({ duration: "300 millis" }))
      const trickled = yield* timed(http(`${url}/alive`))
      assert.isAtLeast(trickled.millis, 290)
      assert.strictEqual(trickled.value.status, 200)

      yield* control.inject("preview", Fault.SlowLoris({ duration: "300 millis" }))
      const proxiedSlowly = yield* timed(http(`${url}/alive`))
      assert.isAtLeast(proxiedSlowly.millis, 290)
      assert.deepStrictEqual(JSON.parse(proxiedSlowly.value.text), { status: "ok" })

      yield* control.inject("preview", Fault.Status({ status: 504 }))
      assert.strictEqual((yield* http(`${url}/alive`)).status, 504)

      assert.strictEqual(yield* control.liveProcesses, 1)
      yield* control.inject("action.alive", Fault.Crash())
      const crashed = yield* http(`${url}/alive`)
      assert.strictEqual(crashed.status, 502)
      assert.strictEqual((yield* http(`${url}/alive`)).status, 502)
      assert.strictEqual(yield* control.liveProcesses, 0)
      const command = yield* call(() => sandbox.process.getSessionCommand("a", cmdId))
      assert.strictEqual(command.exitCode, 1)
    })
  )
})
