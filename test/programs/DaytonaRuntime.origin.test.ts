/**
 * A runtime says where its sandbox came from: a Daytona warm pool (the create was answered with the sandbox already
 * started), a fresh create, or an attach — on the handle (`origin`), in the `SandboxCreated` event and in the
 * `effect_daytona_sandbox_creates_total` metric.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric, MetricState } from "effect"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import * as Metrics from "../../src/programs/Metrics.js"
import { DaytonaClient } from "../../src/services/DaytonaClient.js"
import { clockedScoped, harness, RecordedEvents } from "../support/harness.js"

const creates = (source: string) =>
  Effect.map(
    Metric.value(Metric.tagged(Metrics.sandboxCreates, "source", source)),
    (state: MetricState.MetricState.Counter<number>) => state.count
  )

describe("DaytonaRuntime: the origin of the sandbox", () => {
  it.effect("a create served by a warm pool, a cold one, and an attach", () =>
    Effect.gen(function* () {
      const client = yield* DaytonaClient
      yield* client.createWarmPool({ snapshot: "agent-image", pool: 1 })
      const warmBefore = yield* creates("warm-pool")
      const coldBefore = yield* creates("cold")

      const origins = yield* clockedScoped(
        Effect.gen(function* () {
          const warm = yield* DaytonaRuntime.acquire({ sid: "warm", snapshot: "agent-image" })
          const cold = yield* DaytonaRuntime.acquire({ sid: "cold", snapshot: "other-image" })
          return [warm.origin, cold.origin]
        })
      )
      assert.isTrue(Exit.isSuccess(origins), String(origins))
      assert.deepStrictEqual(Exit.isSuccess(origins) ? origins.value : [], [
        { sandbox: "warm-pool", runtimePool: false },
        { sandbox: "cold", runtimePool: false }
      ])
      assert.strictEqual((yield* creates("warm-pool")) - warmBefore, 1)
      assert.strictEqual((yield* creates("cold")) - coldBefore, 1)
      const created = (yield* RecordedEvents.all).flatMap((e) =>
        e._tag === "SandboxCreated" ? [[e.sid, e.warmPool]] : []
      )
      assert.deepStrictEqual(created, [
        ["warm", true],
        ["cold", false]
      ])

      const attached = yield* clockedScoped(
        Effect.map(DaytonaRuntime.acquire({ sid: "warm", attachToExisting: true }), (handle) => handle.origin)
      )
      assert.deepStrictEqual(Exit.isSuccess(attached) ? attached.value : undefined, {
        sandbox: "attached",
        runtimePool: false
      })
    }).pipe(Effect.provide(harness()))
  )
})
