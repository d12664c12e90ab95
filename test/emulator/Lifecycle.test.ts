import type { Sandbox } from "@daytonaio/sdk"
import { DaytonaAuthenticationError, DaytonaConflictError, DaytonaNotFoundError } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import { DaytonaConfig } from "../../src/services/DaytonaConfig.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, rejection, sdk, timed, waitUntil } from "./support.js"

const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode

const collect = (iterator: AsyncIterableIterator<Sandbox>) =>
  call(async () => {
    const ids: Array<string> = []
    for await (const sandbox of iterator) ids.push(sandbox.id)
    return ids
  })

describe("Emulator lifecycle (real SDK)", () => {
  it.scopedLive("create, get by id and name, list by labels in pages, stop, start, delete", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const a = yield* call(() => daytona.create({ labels: { app: "lc" }, envVars: { A: "1" } }))
      const b = yield* call(() => daytona.create({ labels: { app: "lc" }, name: "named-one" }))
      yield* call(() => daytona.create({ labels: { app: "other" } }))
      assert.strictEqual(a.state, "started")
      assert.match(a.toolboxProxyUrl, /^http:\/\/127\.0\.0\.1:\d+\/toolbox$/)

      const got = yield* call(() => daytona.get(a.id))
      assert.deepStrictEqual(got.env, { A: "1" })
      assert.deepStrictEqual(got.labels, { app: "lc", "code-toolbox-language": "python" })
      assert.strictEqual(got.target, "us")
      assert.strictEqual(got.autoStopInterval, 15)
      assert.strictEqual((yield* call(() => daytona.get("named-one"))).id, b.id)

      yield* control.resetRequests
      const ids = yield* collect(daytona.list({ labels: { app: "lc" }, limit: 1 }))
      assert.deepStrictEqual([...ids].sort(), [a.id, b.id].sort())
      const pages = (yield* control.requests).filter((entry) => entry.route === "sandbox.list")
      assert.strictEqual(pages.length, 2)

      yield* call(() => a.stop())
      assert.strictEqual(a.state, "stopped")
      assert.strictEqual((yield* control.sandboxes).find((s) => s.id === a.id)?.state, "stopped")
      yield* call(() => a.start())
      assert.strictEqual(a.state, "started")

      yield* call(() => a.delete())
      yield* waitUntil(control.sandboxes, (all) => all.every((s) => s.id !== a.id))
      const gone = yield* rejection(() => daytona.get(a.id))
      assert.instanceOf(gone, DaytonaNotFoundError)
      assert.include((gone as Error).message, a.id)
      assert.strictEqual((yield* control.sandboxes).length, 2)
    })
  )

  it.scopedLive("a taken name is a 409 until its sandbox is destroyed; concurrent creates of one name: one wins", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const first = yield* call(() => daytona.create({ name: "dup" }))
      const conflict = yield* rejection(() => daytona.create({ name: "dup" }))
      assert.instanceOf(conflict, DaytonaConflictError)
      assert.strictEqual((conflict as Error).message, "Sandbox with name dup already exists")

      yield* call(() => first.delete())
      yield* waitUntil(control.sandboxes, (all) => all.length === 0)
      const again = yield* call(() => daytona.create({ name: "dup" }))
      assert.notStrictEqual(again.id, first.id)

      const race = yield* call(() =>
        Promise.allSettled([daytona.create({ name: "race" }), daytona.create({ name: "race" })])
      )
      assert.deepStrictEqual(race.map((r) => r.status).sort(), ["fulfilled", "rejected"])
      assert.strictEqual((yield* control.sandboxes).filter((s) => s.name === "race").length, 1)
    })
  )

  it.scopedLive("a wrong or revoked API key gets 401 on the API and the toolbox", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ apiKey: "emu_first" })
      const wrong = yield* sdk(control, "emu_wrong")
      const denied = yield* rejection(() => wrong.get("anything"))
      assert.instanceOf(denied, DaytonaAuthenticationError)
      assert.strictEqual(statusOf(denied), 401)

      const old = yield* sdk(control)
      const sandbox = yield* call(() => old.create())
      yield* control.setApiKey("emu_second")
      assert.strictEqual(statusOf(yield* rejection(() => old.get(sandbox.id))), 401)
      assert.strictEqual(statusOf(yield* rejection(() => sandbox.process.createSession("s"))), 401)

      const fresh = yield* sdk(control)
      assert.strictEqual((yield* call(() => fresh.get(sandbox.id))).id, sandbox.id)
    })
  )

  it.scopedLive("start or stop during a state change is a 409; a held create is answered once started", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* control.holdState(sandbox.id, "starting", "600 millis")
      const onStart = yield* rejection(() => daytona.start(sandbox))
      assert.instanceOf(onStart, DaytonaConflictError)
      assert.strictEqual((onStart as Error).message, "Sandbox state change in progress")
      assert.strictEqual(statusOf(yield* rejection(() => sandbox.stop())), 409)
      yield* call(() => sandbox.waitUntilStarted(5))

      yield* control.holdState(sandbox.id, "stopping", "300 millis")
      assert.strictEqual(statusOf(yield* rejection(() => sandbox.start())), 409)
      yield* call(() => sandbox.waitUntilStopped(5))
      assert.strictEqual(sandbox.state, "stopped")

      // As Daytona's controller does, the create is answered once the sandbox is started, with the DTO made at the
      // insert (`creating`): the SDK reads the sandbox once and finds it started.
      yield* control.holdState("next-create", "creating", "400 millis")
      yield* control.resetRequests
      const slow = yield* timed(call(() => daytona.create()))
      assert.isAtLeast(slow.millis, 350)
      assert.strictEqual(slow.value.state, "started")
      const polls = (yield* control.requests).filter((entry) => entry.route === "sandbox.get")
      assert.strictEqual(polls.length, 1)
    })
  )

  it.scopedLive("recover: a recoverable error starts again, a non-recoverable one is a 400", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* control.setSandboxState(sandbox.id, "error", { errorReason: "disk full", recoverable: true })
      yield* call(() => sandbox.refreshData())
      assert.strictEqual(sandbox.state, "error")
      assert.strictEqual(sandbox.errorReason, "disk full")
      assert.strictEqual(sandbox.recoverable, true)
      assert.strictEqual(statusOf(yield* rejection(() => sandbox.start())), 400)

      yield* call(() => sandbox.recover())
      assert.strictEqual(sandbox.state, "started")
      assert.isUndefined(sandbox.errorReason)

      yield* control.setSandboxState(sandbox.id, "error", { errorReason: "corrupt", recoverable: false })
      const refused = yield* rejection(() => sandbox.recover())
      assert.strictEqual(statusOf(refused), 400)
      assert.strictEqual((refused as Error).message, "Sandbox is not in a recoverable state")

      const missing = yield* Effect.exit(control.setSandboxState("nope", "error"))
      assert.isTrue(Exit.isFailure(missing))
    })
  )

  it.scopedLive("auto-stop stops idle sandboxes; activity and interval 0 keep them running", () =>
    Effect.gen(function* () {
      // One minute is 300 ms here.
      const control = yield* Emulator.make({ autoStopTimeScale: 0.005 })
      const daytona = yield* sdk(control)
      const idle = yield* call(() => daytona.create({ autoStopInterval: 1 }))
      const busy = yield* call(() => daytona.create({ autoStopInterval: 1 }))
      const never = yield* call(() => daytona.create({ autoStopInterval: 0 }))
      for (let i = 0; i < 8; i++) {
        yield* call(() => busy.refreshActivity())
        yield* Effect.sleep("100 millis")
      }
      const states = new Map((yield* control.sandboxes).map((s) => [s.id, s.state]))
      assert.strictEqual(states.get(idle.id), "stopped")
      assert.strictEqual(states.get(busy.id), "started")
      yield* waitUntil(control.sandboxes, (all) => all.find((s) => s.id === busy.id)?.state === "stopped")
      assert.strictEqual((yield* control.sandboxes).find((s) => s.id === never.id)?.state, "started")
    })
  )

  it.live("layer: provides the control and a DaytonaConfig pointing at the emulator", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const config = yield* DaytonaConfig
      assert.strictEqual(config.apiUrl, control.apiUrl)
      assert.strictEqual(Redacted.value(config.apiKey), "emu_layer")
      assert.strictEqual(config.target, "eu")
      assert.isTrue(config.public)
      assert.isTrue(config.deleteOnClose)
      assert.strictEqual(config.autoStopIntervalMinutes, 0)
      const response = yield* Effect.promise(() =>
        fetch(`${config.apiUrl}/sandbox`, { headers: { Authorization: "Bearer emu_layer" } })
      )
      assert.strictEqual(response.status, 200)
    }).pipe(
      Effect.provide(
        Emulator.layer({ apiKey: "emu_layer", target: "eu", public: true, deleteOnClose: true, disableAutoStop: true })
      )
    )
  )

  it.scopedLive("make refuses bad options with an EmulatorError that says what to fix", () =>
    Effect.gen(function* () {
      const port = yield* Effect.flip(Emulator.make({ port: 70000 }))
      assert.strictEqual(port._tag, "EmulatorError")
      assert.include(port.message, "port must be")
      const scale = yield* Effect.flip(Emulator.make({ autoStopTimeScale: 0 }))
      assert.include(scale.message, "autoStopTimeScale")
      const first = yield* Emulator.make()
      const taken = Number(new URL(first.apiUrl).port)
      const busy = yield* Effect.flip(Emulator.make({ port: taken }))
      assert.include(busy.message, `cannot listen on 127.0.0.1:${taken}`)
    })
  )
})
