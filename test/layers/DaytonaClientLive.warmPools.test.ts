/**
 * The live client's warm pools against the emulator (whose claim rules follow Daytona's source): list, create,
 * update, delete through the real SDK, and `claimedFromWarmPool` on what `create` returns — read from the state the
 * create was answered with, in both of the SDK's modes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as DaytonaClientLive from "../../src/layers/DaytonaClientLive.js"
import { watchCreateAnswers } from "../../src/layers/WarmPoolRecords.js"
import { DaytonaClient } from "../../src/services/DaytonaClient.js"

const live = (options: Emulator.EmulatorOptions = {}) =>
  DaytonaClientLive.layer.pipe(Layer.provideMerge(Emulator.layer({ snapshots: ["pooled", "plain"], ...options })))

const params = (snapshot: string, envVars: Record<string, string> = {}) => ({
  snapshot,
  envVars,
  labels: { app: "warm-pool-test" },
  public: false,
  autoStopInterval: 0
})

describe("DaytonaClientLive warm pools", () => {
  it.scopedLive("list, create (409 for a second on one snapshot), update, delete", () =>
    Effect.gen(function* () {
      const client = yield* DaytonaClient
      assert.deepStrictEqual(yield* client.listWarmPools, [])
      const pool = yield* client.createWarmPool({ snapshot: "pooled", pool: 2 })
      assert.deepStrictEqual([pool.snapshot, pool.target, pool.pool, pool.osUser], ["pooled", "us", 2, "daytona"])
      assert.deepStrictEqual(pool.env, {})
      const again = yield* Effect.either(client.createWarmPool({ snapshot: "pooled", pool: 1 }))
      assert.isTrue(Either.isLeft(again) && again.left.reason === "Conflict")
      const resized = yield* client.updateWarmPool(pool.id, 3)
      assert.strictEqual(resized.pool, 3)
      assert.deepStrictEqual(
        (yield* client.listWarmPools).map((p) => [p.id, p.pool]),
        [[pool.id, 3]]
      )
      yield* client.deleteWarmPool(pool.id)
      assert.deepStrictEqual(yield* client.listWarmPools, [])
      const missing = yield* Effect.either(client.deleteWarmPool(pool.id))
      assert.isTrue(Either.isLeft(missing) && missing.left.reason === "NotFound")
    }).pipe(Effect.provide(live()))
  )

  it.scopedLive("an organization without warm pools answers 404 to them", () =>
    Effect.gen(function* () {
      const client = yield* DaytonaClient
      const listed = yield* Effect.either(client.listWarmPools)
      assert.isTrue(Either.isLeft(listed) && listed.left.reason === "NotFound" && listed.left.status === 404)
    }).pipe(Effect.provide(live({ warmPools: false })))
  )

  for (const mode of ["events", "polling"] as const) {
    it.scopedLive(`create says whether it was claimed (SDK ${mode} mode)`, () =>
      Effect.gen(function* () {
        const control = yield* Emulator.EmulatorControl
        const client = yield* DaytonaClient
        yield* control.createWarmPool({ snapshot: "pooled", pool: 1 })
        // The member is started after the create latency.
        yield* Effect.sleep("200 millis")

        const claimed = yield* client.create(params("pooled"))
        assert.strictEqual(claimed.state, "started")
        assert.strictEqual(claimed.claimedFromWarmPool, true)
        const emulated = (yield* control.sandboxes).find((s) => s.id === claimed.id)
        assert.isDefined(emulated?.claimedFromWarmPool)

        const cold = yield* client.create(params("plain"))
        assert.strictEqual(cold.state, "started")
        assert.strictEqual(cold.claimedFromWarmPool, false)
        // A get says nothing about it: only a create's answer does.
        assert.isUndefined((yield* client.get(claimed.id)).claimedFromWarmPool)
      }).pipe(
        Effect.provide(live({ latencies: { create: "50 millis" } })),
        // The SDK reads its switch when the client is made, i.e. when the layer is built.
        (test) =>
          Effect.zipRight(
            Effect.acquireRelease(
              Effect.sync(() => {
                if (mode === "polling") process.env["DAYTONA_USE_DEPRECATED_POLLING"] = "true"
              }),
              () => Effect.sync(() => delete process.env["DAYTONA_USE_DEPRECATED_POLLING"])
            ),
            test
          )
      )
    )
  }

  it.scopedLive("a create with env vars is cold, even on a pool's snapshot", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const client = yield* DaytonaClient
      yield* control.createWarmPool({ snapshot: "pooled", pool: 1 })
      yield* Effect.sleep("200 millis")
      const withEnv = yield* client.create(params("pooled", { SESSION_API_KEY: "k" }))
      assert.strictEqual(withEnv.claimedFromWarmPool, false)
      assert.isUndefined((yield* control.sandboxes).find((s) => s.id === withEnv.id)?.claimedFromWarmPool)
    }).pipe(Effect.provide(live({ latencies: { create: "50 millis" } })))
  )

  it("the hook reads only create answers, and says when the SDK's shape is not there", () => {
    assert.isFalse(watchCreateAnswers({}).watching)
    assert.isFalse(watchCreateAnswers(undefined).watching)
    let handler: ((response: unknown) => unknown) | undefined
    const fake = {
      sandboxApi: { axios: { interceptors: { response: { use: (f: typeof handler) => (handler = f) } } } }
    }
    const answers = watchCreateAnswers(fake)
    assert.isTrue(answers.watching)
    const response = (method: string, url: string, data: unknown) => handler!({ config: { method, url }, data })
    response("post", "http://api/sandbox", { id: "a", state: "started" })
    response("post", "http://api/sandbox/b/start", { id: "b", state: "started" })
    response("get", "http://api/sandbox", { id: "c", state: "started" })
    response("post", "http://api/sandbox/", { id: "d", state: "creating" })
    assert.deepStrictEqual(answers.take("a"), Option.some("started"))
    assert.strictEqual(answers.take("a")._tag, "None", "an answer is read once")
    assert.strictEqual(answers.take("b")._tag, "None")
    assert.strictEqual(answers.take("c")._tag, "None")
    assert.deepStrictEqual(answers.take("d"), Option.some("creating"))
  })
})
