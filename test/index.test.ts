import { assert, describe, it } from "@effect/vitest"
import { Schedule } from "effect"
import * as Api from "../src/index.js"

describe("the package root", () => {
  it("exports the public API", () => {
    assert.isTrue(Schedule.isSchedule(Api.Retry.actionRequest))
    assert.isTrue(Schedule.isSchedule(Api.Retry.untilAlive))
    const url = "http://127.0.0.1:1"
    assert.strictEqual(new Api.ConnectionRefused({ url })._tag, "ConnectionRefused")
    assert.strictEqual(new Api.HttpStatusError({ url, status: 502, detail: "x" }).status, 502)
    assert.strictEqual(new Api.RequestTimeout({ url })._tag, "RequestTimeout")
    assert.strictEqual(new Api.TransportError({ url })._tag, "TransportError")
    assert.strictEqual(new Api.DecodeError({ url })._tag, "DecodeError")
    assert.strictEqual(typeof Api.DaytonaConfig.layer, "object")
    assert.strictEqual(Api.DaytonaConfig.key, "effect-daytona/DaytonaConfig")
    assert.strictEqual(Api.DaytonaClient.key, "effect-daytona/DaytonaClient")
    assert.strictEqual(Api.ActionServer.key, "effect-daytona/ActionServer")
    assert.strictEqual(Api.RuntimeEvents.key, "effect-daytona/RuntimeEvents")
    assert.strictEqual(typeof Api.Logging.layer, "object")
  })
})

describe("the package root: runtime and emulator", () => {
  it("exports DaytonaRuntime, Emulator and EmulatorControl", () => {
    assert.strictEqual(typeof Api.DaytonaRuntime.acquire, "function")
    assert.strictEqual(typeof Api.DaytonaRuntime.layer, "object")
    assert.strictEqual(typeof Api.Emulator.layer, "function")
    assert.strictEqual(Api.EmulatorControl.key, "effect-daytona/EmulatorControl")
  })

  it("exports the leases and the reaper", () => {
    assert.strictEqual(new Api.RuntimeFenced({ sandboxId: "s", holder: "h", generation: 2 })._tag, "RuntimeFenced")
    assert.strictEqual(new Api.LeaseHeld({ sandboxId: "s", holder: "h", expires: new Date(0) })._tag, "LeaseHeld")
    assert.strictEqual(typeof Api.Lease.read, "function")
    assert.strictEqual(typeof Api.Reaper.plan, "function")
  })
})
