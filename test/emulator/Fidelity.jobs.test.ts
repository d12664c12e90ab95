/**
 * DAYTONA-FIDELITY.md §2: the interval jobs of Daytona's sandbox manager (auto-stop, auto-archive, auto-delete,
 * one loop every 10 s scaled) and preview traffic as activity.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { dueJob, jobTick } from "../../src/emulator/Jobs.js"
import { call, http, sdk, waitUntil } from "./support.js"

const stateOf = (control: Emulator.EmulatorControlService, id: string) =>
  Effect.map(control.sandboxes, (all) => all.find((s) => s.id === id)?.state ?? "gone")

const LAUNCH = "python -m openhands.runtime.action_execution_server 4444 --working-dir /workspace"

describe("Daytona fidelity: interval jobs and activity", () => {
  it("the job each sandbox is due for, and the tick", () => {
    const base = {
      state: "started",
      desiredState: "started",
      autoStopInterval: 15,
      autoArchiveInterval: 10080,
      autoDeleteInterval: -1,
      warmPoolId: undefined
    } as unknown as Parameters<typeof dueJob>[0]
    assert.strictEqual(dueJob(base, 16), "stop")
    assert.strictEqual(dueJob(base, 14), "none")
    assert.strictEqual(dueJob({ ...base, autoStopInterval: 0 }, 1e9), "none")
    assert.strictEqual(dueJob({ ...base, desiredState: "stopped" }, 1e9), "none")
    const stopped = { ...base, state: "stopped", desiredState: "stopped" }
    assert.strictEqual(dueJob(stopped, 10081), "archive")
    assert.strictEqual(dueJob({ ...stopped, autoDeleteInterval: 60 }, 61), "delete")
    assert.strictEqual(dueJob({ ...stopped, autoDeleteInterval: 0 }, 0.01), "delete")
    assert.strictEqual(dueJob({ ...base, warmPoolId: "pool" }, 1e9), "none")
    assert.strictEqual(Duration.toMillis(jobTick(1)), 10_000)
    assert.strictEqual(Duration.toMillis(jobTick(0.001)), 20)
  })

  it.scopedLive("auto-archive and auto-delete stopped sandboxes; auto-stop deletes an ephemeral one", () =>
    Effect.gen(function* () {
      // One minute is 200 ms here; the loop ticks every 33 ms.
      const control = yield* Emulator.make({ autoStopTimeScale: 1 / 300 })
      const daytona = yield* sdk(control)
      const archived = yield* call(() => daytona.create({ autoArchiveInterval: 1, autoStopInterval: 0 }))
      const deleted = yield* call(() => daytona.create({ autoDeleteInterval: 1, autoStopInterval: 0 }))
      const ephemeral = yield* call(() => daytona.create({ ephemeral: true, autoStopInterval: 1 }))
      yield* call(() => archived.stop())
      yield* call(() => deleted.stop())
      yield* waitUntil(stateOf(control, archived.id), (s) => s === "archived")
      yield* waitUntil(stateOf(control, deleted.id), (s) => s === "gone")
      yield* waitUntil(stateOf(control, ephemeral.id), (s) => s === "gone")
    })
  )

  it.scopedLive("preview traffic is activity; an open preview connection keeps the sandbox started", () =>
    Effect.gen(function* () {
      // One minute is 300 ms; the loop ticks every 50 ms.
      const control = yield* Emulator.make({ autoStopTimeScale: 0.005, actionServer: { bootDelay: "0 millis" } })
      const daytona = yield* sdk(control)
      const busy = yield* call(() =>
        daytona.create({ autoStopInterval: 1, public: true, envVars: { SESSION_API_KEY: "k" } })
      )
      const idle = yield* call(() => daytona.create({ autoStopInterval: 1 }))
      yield* call(() => busy.process.createSession("s"))
      yield* call(() => busy.process.executeSessionCommand("s", { command: LAUNCH, runAsync: true }))
      const link = yield* call(() => busy.getPreviewLink(4444))
      const alive = new URL("/alive", link.url).toString()
      const headers = { "X-Session-API-Key": "k" }
      yield* waitUntil(http(alive, { headers }), (r) => r.status === 200)
      for (let i = 0; i < 6; i++) {
        assert.strictEqual((yield* http(alive, { headers })).status, 200)
        yield* Effect.sleep("100 millis")
      }
      assert.strictEqual(yield* stateOf(control, busy.id), "started")
      yield* waitUntil(stateOf(control, idle.id), (s) => s === "stopped")

      // One long request (a command of 0.8 s) keeps it active beyond its interval.
      const long = yield* Effect.fork(
        http(new URL("/execute_action", link.url).toString(), {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/json" },
          body: JSON.stringify({ action: { action: "run", args: { command: "sleep 0.8; echo done" } } })
        })
      )
      yield* Effect.sleep("700 millis")
      assert.strictEqual(yield* stateOf(control, busy.id), "started")
      const answer = yield* long.await
      assert.strictEqual(answer._tag, "Success")
      yield* waitUntil(stateOf(control, busy.id), (s) => s === "stopped")
    })
  )
})
