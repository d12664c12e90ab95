/**
 * Warm pools in the in-memory client: the API's answers (409 for a second pool of a snapshot, 400 for a bad size, 404
 * for an unknown id) and `claimedFromWarmPool` on a create — served at once only for the pool's snapshot without env.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import * as Memory from "../../src/layers/DaytonaClientMemory.js"
import type { DaytonaApiError } from "../../src/services/DaytonaClient.js"

const reasonOf = <A>(effect: Effect.Effect<A, DaytonaApiError>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason)

const params = (snapshot: string, envVars: Record<string, string> = {}) => ({
  snapshot,
  envVars,
  labels: {},
  public: false,
  autoStopInterval: 0
})

describe("DaytonaClientMemory warm pools", () => {
  it.effect("list, create, update, delete, with the API's refusals", () =>
    Effect.gen(function* () {
      const { client } = yield* Memory.make()
      const pool = yield* client.createWarmPool({ snapshot: "agent", pool: 2, target: "us" })
      assert.deepStrictEqual([pool.snapshot, pool.target, pool.pool, pool.currentSize], ["agent", "us", 2, 2])
      assert.strictEqual(
        yield* reasonOf(client.createWarmPool({ snapshot: "agent", pool: 1, target: "us" })),
        "Conflict"
      )
      assert.strictEqual(yield* reasonOf(client.createWarmPool({ snapshot: "other", pool: 0 })), "Invalid")
      assert.strictEqual((yield* client.updateWarmPool(pool.id, 0)).pool, 0)
      assert.strictEqual(yield* reasonOf(client.updateWarmPool(pool.id, -1)), "Invalid")
      assert.deepStrictEqual(
        (yield* client.listWarmPools).map((p) => p.id),
        [pool.id]
      )
      yield* client.deleteWarmPool(pool.id)
      assert.strictEqual(yield* reasonOf(client.deleteWarmPool(pool.id)), "NotFound")
      assert.deepStrictEqual(yield* client.listWarmPools, [])
    })
  )

  it.effect("a create of the pool's snapshot without env is served at once; others take the create latency", () =>
    Effect.gen(function* () {
      const { client } = yield* Memory.make({ latencies: { create: "2 seconds" } })
      const pool = yield* client.createWarmPool({ snapshot: "agent", pool: 1 })
      const warm = yield* client.create(params("agent"))
      assert.deepStrictEqual([warm.state, warm.claimedFromWarmPool], ["started", true])

      const withEnv = yield* Effect.fork(client.create(params("agent", { A: "1" })))
      const other = yield* Effect.fork(client.create(params("other")))
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* Fiber.join(withEnv)).claimedFromWarmPool, false)
      assert.strictEqual((yield* Fiber.join(other)).claimedFromWarmPool, false)

      yield* client.updateWarmPool(pool.id, 0)
      const drained = yield* Effect.fork(client.create(params("agent")))
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* Fiber.join(drained)).claimedFromWarmPool, false)
    })
  )
})
