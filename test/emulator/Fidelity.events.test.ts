import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { io } from "socket.io-client"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, sdkWithEvents, timed, waitUntil } from "./support.js"

/** The GETs of one sandbox in the request log. */
const gets = (control: Emulator.EmulatorControlService, id: string) =>
  Effect.map(control.requests, (all) => all.filter((e) => e.route === "sandbox.get" && e.path.endsWith(id)).length)

describe("Emulator Socket.IO events (SDK 0.218 default mode)", () => {
  it.scopedLive("the SDK connects, and create/stop/start/delete/list run on events instead of polling", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ latencies: { stop: "300 millis", start: "300 millis" } })
      const daytona = yield* sdkWithEvents(control)
      const sandbox = yield* call(() => daytona.create({ labels: { app: "events" } }))
      assert.strictEqual(sandbox.state, "started")
      const clients = yield* waitUntil(control.socketClients, (stats) => stats.connected >= 1)
      assert.isAtLeast(clients.total, 1)
      assert.strictEqual(clients.refused, 0)

      // A state change made behind the SDK's back reaches its Sandbox by event alone: no GET at all.
      yield* control.resetRequests
      yield* control.holdState(sandbox.id, "stopping", "200 millis")
      yield* waitUntil(
        Effect.sync(() => sandbox.state),
        (state) => state === "stopped"
      )
      assert.strictEqual(yield* gets(control, sandbox.id), 0)

      yield* call(() => sandbox.start())
      assert.strictEqual(sandbox.state, "started")

      // The SDK's stop waits on `sandbox.state.updated`: its safety poll runs every second, the stop takes 300 ms.
      yield* control.resetRequests
      const stop = yield* timed(call(() => sandbox.stop()))
      assert.strictEqual(sandbox.state, "stopped")
      assert.isBelow(yield* gets(control, sandbox.id), 3)
      assert.isBelow(stop.millis, 1000)

      // A held start: the wait ends on the event at 1.2 s, before the SDK's poll at 2 s.
      yield* call(() => sandbox.start())
      yield* control.holdState(sandbox.id, "starting", "1200 millis")
      yield* call(() => sandbox.refreshData())
      yield* control.resetRequests
      yield* call(() => sandbox.waitUntilStarted(10))
      assert.strictEqual(sandbox.state, "started")
      assert.isAtMost(yield* gets(control, sandbox.id), 2)

      const listed: Array<string> = []
      for (const item of yield* call(async () => {
        const all = []
        for await (const s of daytona.list({ labels: { app: "events" } })) all.push(s)
        return all
      })) {
        listed.push(item.id)
      }
      assert.deepStrictEqual(listed, [sandbox.id])

      yield* call(() => sandbox.delete(60, true))
      assert.strictEqual(sandbox.state, "destroyed")
    })
  )

  it.scopedLive("the gateway checks the token and sends Daytona's payloads", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const origin = new URL(control.apiUrl).origin
      const connect = (token: string) => {
        const socket = io(origin, {
          path: "/api/socket.io/",
          transports: ["websocket"],
          auth: { token },
          reconnection: false
        })
        return Effect.acquireRelease(Effect.succeed(socket), (s) => Effect.sync(() => s.disconnect()))
      }
      const refused = yield* connect("wrong")
      const error = yield* Effect.async<Error>((resume) => {
        refused.on("connect_error", (e) => resume(Effect.succeed(e)))
      })
      assert.strictEqual(error.message, "Unauthorized")

      const socket = yield* connect(Redacted.value(control.apiKey))
      yield* Effect.async<void>((resume) => {
        socket.on("connect", () => resume(Effect.void))
      })
      const events: Array<{ readonly name: string; readonly data: any }> = []
      socket.onAny((name: string, data: unknown) => events.push({ name, data }))
      const created = yield* Effect.promise(() =>
        fetch(`${control.apiUrl}/sandbox`, {
          method: "POST",
          headers: { Authorization: `Bearer ${Redacted.value(control.apiKey)}`, "Content-Type": "application/json" },
          body: "{}"
        }).then((r) => r.json() as Promise<{ id: string }>)
      )
      yield* waitUntil(
        Effect.sync(() => events.length),
        (n) => n >= 2
      )
      assert.strictEqual(events[0]!.name, "sandbox.created")
      assert.strictEqual(events[0]!.data.id, created.id)
      // Daytona inserts a sandbox in `unknown`, then its manager moves it on.
      assert.strictEqual(events[0]!.data.state, "unknown")
      const started = events.find((e) => e.name === "sandbox.state.updated" && e.data.newState === "started")
      assert.isDefined(started)
      assert.strictEqual(started!.data.oldState, "creating")
      assert.isDefined(events.find((e) => e.data.oldState === "unknown" && e.data.newState === "creating"))
      assert.strictEqual(started!.data.sandbox.id, created.id)
      assert.strictEqual(started!.data.sandbox.state, "started")

      yield* Effect.promise(() =>
        fetch(`${control.apiUrl}/sandbox/${created.id}/stop`, {
          method: "POST",
          headers: { Authorization: `Bearer ${Redacted.value(control.apiKey)}` }
        })
      )
      const desired = yield* waitUntil(
        Effect.sync(() => events.find((e) => e.name === "sandbox.desired-state.updated")),
        (e) => e !== undefined
      )
      assert.deepStrictEqual([desired!.data.oldDesiredState, desired!.data.newDesiredState], ["started", "stopped"])
    })
  )
})
