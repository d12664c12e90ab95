/**
 * The emulator's warm pools against Daytona's claim rules (`sandbox-warm-pool.service.ts` `fetchWarmPoolSandbox` and
 * `sandbox.service.ts` `createFromSnapshot`/`assignWarmPoolSandbox`, daytonaio/daytona v0.190.0): which creates a
 * pool serves, what the claimed sandbox becomes, what the create answers and what the event gateway announces.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, sdk, waitUntil, watchEvents } from "./support.js"

const SNAPSHOTS = ["snap-a", "snap-b", "snap-c", "snap-d", "snap-e"]

/** A raw create: the body as given, the answer's status and body. */
const createRaw = (control: Emulator.EmulatorControlService, body: Record<string, unknown>) =>
  call(async () => {
    const response = await fetch(`${control.apiUrl}/sandbox`, {
      method: "POST",
      headers: { Authorization: `Bearer ${Redacted.value(control.apiKey)}`, "Content-Type": "application/json" },
      body: JSON.stringify(body)
    })
    return { status: response.status, body: (await response.json()) as Record<string, any> }
  })

/** A pool of `size` on `snapshot`, once its members are started. */
const readyPool = (control: Emulator.EmulatorControlService, request: Emulator.WarmPoolRequest) =>
  Effect.gen(function* () {
    const pool = yield* control.createWarmPool(request)
    const daytona = yield* sdk(control)
    yield* waitUntil(
      call(() => daytona.warmPool.list()),
      (all) => all.some((p) => p.id === pool.id && p.currentSize === request.pool)
    )
    return pool
  })

const claimedFrom = (control: Emulator.EmulatorControlService, id: string) =>
  Effect.map(control.sandboxes, (all) => all.find((s) => s.id === id)?.claimedFromWarmPool)

describe("Emulator warm pools (Daytona's claim rules)", () => {
  it.scopedLive("an env-free create is claimed: answered started, with the create's labels, name and visibility", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ snapshots: SNAPSHOTS, latencies: { create: "200 millis" } })
      const pool = yield* readyPool(control, { snapshot: "snap-a", pool: 2 })
      const before = yield* control.sandboxes
      assert.strictEqual(before.length, 0, "pool members belong to no organization")

      // What the SDK sends for `create({ snapshot, envVars: {} })`: `env: {}`.
      const claimed = yield* createRaw(control, {
        snapshot: "snap-a",
        env: {},
        labels: { app: "warm" },
        name: "warm-one",
        public: true,
        autoStopInterval: 0
      })
      assert.strictEqual(claimed.status, 200)
      assert.strictEqual(claimed.body["state"], "started")
      assert.deepStrictEqual(claimed.body["labels"], { app: "warm" })
      assert.strictEqual(claimed.body["name"], "warm-one")
      assert.strictEqual(claimed.body["public"], true)
      assert.strictEqual(claimed.body["autoStopInterval"], 0)
      assert.isBelow(Date.now() - Date.parse(claimed.body["createdAt"]), 5_000)
      assert.strictEqual(yield* claimedFrom(control, claimed.body["id"]), pool.id)

      // Without a body env the column is not compared: a pool serves it too.
      const bare = yield* createRaw(control, { snapshot: "snap-a" })
      assert.strictEqual(bare.body["state"], "started")
      assert.strictEqual(yield* claimedFrom(control, bare.body["id"]), pool.id)

      // The pool tops itself up after the claims.
      const daytona = yield* sdk(control)
      yield* waitUntil(
        call(() => daytona.warmPool.list()),
        (all) => all.some((p) => p.id === pool.id && p.currentSize === 2)
      )
      // A pool on another snapshot does not serve this one: a cold create, answered `creating` once started.
      const cold = yield* createRaw(control, { snapshot: "snap-b", env: {} })
      assert.strictEqual(cold.body["state"], "creating")
      assert.isUndefined(yield* claimedFrom(control, cold.body["id"]))
    })
  )

  it.scopedLive("a create with env is served only by a pool with that very env", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ snapshots: SNAPSHOTS })
      yield* readyPool(control, { snapshot: "snap-a", pool: 1 })
      const withEnv = yield* readyPool(control, { snapshot: "snap-b", pool: 1, env: { MODE: "agent" } })

      const refused = yield* createRaw(control, { snapshot: "snap-a", env: { SESSION_API_KEY: "k" } })
      assert.strictEqual(refused.body["state"], "creating")
      assert.isUndefined(yield* claimedFrom(control, refused.body["id"]))

      const served = yield* createRaw(control, { snapshot: "snap-b", env: { MODE: "agent" } })
      assert.strictEqual(served.body["state"], "started")
      assert.strictEqual(yield* claimedFrom(control, served.body["id"]), withEnv.id)
      // The claimed sandbox keeps the pool's env.
      assert.deepStrictEqual(served.body["env"], { MODE: "agent" })
    })
  )

  it.scopedLive("a snapshot whose create found no matching pool is not served for 60 s, even env-free", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ snapshots: SNAPSHOTS })
      yield* readyPool(control, { snapshot: "snap-c", pool: 2 })
      const withEnv = yield* createRaw(control, { snapshot: "snap-c", env: { A: "1" } })
      assert.isUndefined(yield* claimedFrom(control, withEnv.body["id"]))
      // Daytona's `warm-pool:skip:<snapshot>` mark, set by the create above, holds for 60 s.
      const after = yield* createRaw(control, { snapshot: "snap-c", env: {} })
      assert.strictEqual(after.body["state"], "creating")
      assert.isUndefined(yield* claimedFrom(control, after.body["id"]))
    })
  )

  it.scopedLive("the OS user must be the pool's, a drained pool serves nothing, a taken name is a 409", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ snapshots: SNAPSHOTS })
      yield* readyPool(control, { snapshot: "snap-d", pool: 1 })
      const asDaytona = yield* createRaw(control, { snapshot: "snap-d", env: {}, user: "daytona", name: "taken" })
      assert.strictEqual(asDaytona.body["state"], "started")
      const nameClash = yield* createRaw(control, { snapshot: "snap-d", env: {}, name: "taken" })
      assert.strictEqual(nameClash.status, 409)

      const drained = yield* readyPool(control, { snapshot: "snap-e", pool: 1 })
      const daytona = yield* sdk(control)
      yield* call(() => daytona.warmPool.update(drained.id, { pool: 0 }))
      const none = yield* createRaw(control, { snapshot: "snap-e", env: {} })
      assert.isUndefined(yield* claimedFrom(control, none.body["id"]))

      const root = yield* Emulator.make({ snapshots: SNAPSHOTS })
      yield* readyPool(root, { snapshot: "snap-a", pool: 1 })
      const asRoot = yield* createRaw(root, { snapshot: "snap-a", env: {}, user: "root" })
      assert.strictEqual(asRoot.body["state"], "creating")
      assert.strictEqual(asRoot.body["user"], "root")
    })
  )

  it.scopedLive("a claim is announced as started → started, never as sandbox.created", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ snapshots: SNAPSHOTS })
      yield* readyPool(control, { snapshot: "snap-a", pool: 1 })
      const events = yield* watchEvents(control)
      const claimed = yield* createRaw(control, { snapshot: "snap-a", env: {} })
      const mine = yield* waitUntil(
        Effect.sync(() => events.filter((e) => (e.data.sandbox?.id ?? e.data.id) === claimed.body["id"])),
        (list) => list.length >= 1
      )
      assert.deepStrictEqual(
        mine.map((e) => [e.name, e.data.oldState, e.data.newState]),
        [["sandbox.state.updated", "started", "started"]]
      )
    })
  )
})
