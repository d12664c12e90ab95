/**
 * DAYTONA-FIDELITY.md §2, the API routes the emulator lacked: settings, archive, SSH access, snapshots and warm
 * pools, driven through the real SDK where it has a call for them.
 */
import { DaytonaForbiddenError, DaytonaNotFoundError } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, http, rejection, sdk, waitUntil } from "./support.js"

const raw = (control: Emulator.EmulatorControlService, path: string, init: RequestInit = {}, key?: string) =>
  Effect.map(
    http(`${control.apiUrl}${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${key ?? Redacted.value(control.apiKey)}`,
        "Content-Type": "application/json"
      }
    }),
    (r) => ({ status: r.status, body: r.text === "" ? undefined : JSON.parse(r.text) })
  )

describe("Daytona fidelity: settings, SSH access, snapshots, warm pools", () => {
  it.scopedLive("labels, public, intervals and archive through the SDK", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create({ labels: { a: "1" } }))
      assert.deepStrictEqual(yield* call(() => sandbox.setLabels({ b: "2" })), { b: "2" })
      yield* call(() => sandbox.setAutostopInterval(30))
      yield* call(() => sandbox.setAutoArchiveInterval(60))
      const turnedPublic = yield* raw(control, `/sandbox/${sandbox.id}/public/true`, { method: "POST" })
      assert.strictEqual(turnedPublic.status, 201)
      assert.isTrue(turnedPublic.body.public)
      yield* call(() => sandbox.refreshData())
      assert.deepStrictEqual(
        [sandbox.labels, sandbox.autoStopInterval, sandbox.autoArchiveInterval, sandbox.public],
        [{ b: "2" }, 30, 60, true]
      )
      const notStopped = yield* rejection(() => sandbox.archive())
      assert.strictEqual((notStopped as Error).message, "Sandbox is not stopped")
      yield* call(() => sandbox.stop())
      yield* call(() => sandbox.archive())
      yield* waitUntil(
        call(() => sandbox.refreshData().then(() => sandbox.state)),
        (state) => state === "archived"
      )
      yield* call(() => sandbox.start())
      assert.strictEqual(sandbox.state, "started")
    })
  )

  it.scopedLive("SSH access: create (one live token per sandbox), validate (the gateway's key only), revoke", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ sshGatewayUrl: "127.0.0.1:2222" })
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const access = yield* call(() => sandbox.createSshAccess(30))
      assert.match(access.token, /^[A-Za-z0-9]{32}$/)
      assert.strictEqual(access.sandboxId, sandbox.id)
      assert.strictEqual(access.sshCommand, `ssh -p 2222 ${access.token}@127.0.0.1`)
      const minutes = (new Date(access.expiresAt).getTime() - new Date(access.createdAt).getTime()) / 60_000
      assert.strictEqual(minutes, 30)
      assert.deepStrictEqual(
        yield* control.validateSshToken(access.token),
        Option.some({ sandboxId: sandbox.id, user: "daytona" })
      )

      // The validation route is the SSH gateway's: a user's API key is refused as Daytona refuses it.
      assert.instanceOf(yield* rejection(() => sandbox.validateSshAccess(access.token)), DaytonaForbiddenError)
      const gateway = Redacted.value(control.sshGatewayApiKey)
      const valid = yield* raw(control, `/sandbox/ssh-access/validate?token=${access.token}`, {}, gateway)
      assert.deepStrictEqual(valid.body, { valid: true, sandboxId: sandbox.id })

      const newer = yield* call(() => sandbox.createSshAccess())
      assert.isTrue(Option.isNone(yield* control.validateSshToken(access.token)))
      yield* call(() => sandbox.revokeSshAccess(newer.token))
      const revoked = yield* raw(control, `/sandbox/ssh-access/validate?token=${newer.token}`, {}, gateway)
      assert.deepStrictEqual(revoked.body, { valid: false, sandboxId: null })
      const expired = yield* call(() => sandbox.createSshAccess(-1))
      assert.isTrue(Option.isNone(yield* control.validateSshToken(expired.token)))
    })
  )

  it.scopedLive("snapshots: the default one is listed and found by name; an unknown one is 404", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ snapshots: ["team-image"] })
      const daytona = yield* sdk(control)
      const page = yield* call(() => daytona.snapshot.list())
      assert.deepStrictEqual(
        page.items.map((s) => [s.name, s.general]),
        [
          ["team-image", false],
          ["daytonaio/sandbox:emulator", true]
        ]
      )
      assert.strictEqual(page.total, 2)
      const found = yield* call(() => daytona.snapshot.get("daytonaio/sandbox:emulator"))
      assert.strictEqual(found.state, "active")
      assert.strictEqual((yield* call(() => daytona.snapshot.get(found.id))).name, found.name)
      const missing = yield* rejection(() => daytona.snapshot.get("nope"))
      assert.instanceOf(missing, DaytonaNotFoundError)
      assert.strictEqual((missing as Error).message, "Snapshot nope not found")
    })
  )

  it.scopedLive("warm pools: filled in the background; a plain create is claimed, one with env vars is not", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const pool = yield* call(() => daytona.warmPool.create({ snapshot: "daytonaio/sandbox:emulator", pool: 2 }))
      assert.strictEqual(pool.target, "us")
      yield* waitUntil(
        call(() => daytona.warmPool.list()),
        (all) => all.length === 1 && all[0]!.currentSize === 2
      )
      // Pool members belong to no organization: not listed.
      assert.strictEqual((yield* control.sandboxes).length, 0)

      // The plain create first: a create that finds no matching pool marks the snapshot "no warm pool" for 60 s,
      // as Daytona does, and no create of it is claimed meanwhile.
      const claimed = yield* call(() => daytona.create({ labels: { app: "warm" }, name: "warm-one" }))
      const withEnv = yield* call(() => daytona.create({ envVars: { SESSION_API_KEY: "k" } }))
      const withUser = yield* call(() => daytona.create({ user: "root" }))
      const byId = new Map((yield* control.sandboxes).map((s) => [s.id, s]))
      assert.isUndefined(byId.get(withEnv.id)!.claimedFromWarmPool)
      assert.strictEqual(byId.get(claimed.id)!.claimedFromWarmPool, pool.id)
      assert.isUndefined(byId.get(withUser.id)!.claimedFromWarmPool)
      assert.strictEqual(claimed.name, "warm-one")
      assert.deepStrictEqual(claimed.labels, { app: "warm", "code-toolbox-language": "python" })
      assert.strictEqual(claimed.state, "started")
      // Daytona does not show the pool of a claimed sandbox.
      assert.isUndefined((yield* raw(control, `/sandbox/${claimed.id}`)).body.warmPoolId)
      yield* waitUntil(
        call(() => daytona.warmPool.list()),
        (all) => all[0]!.currentSize === 2
      )

      const updated = yield* call(() => daytona.warmPool.update(pool.id, { pool: 0 }))
      assert.strictEqual(updated.pool, 0)
      yield* waitUntil(
        call(() => daytona.warmPool.list()),
        (all) => all[0]!.currentSize === 0
      )
      yield* call(() => daytona.warmPool.delete(pool.id))
      assert.deepStrictEqual(yield* call(() => daytona.warmPool.list()), [])
      assert.strictEqual((yield* raw(control, `/warm-pools/${pool.id}`, { method: "DELETE" })).status, 404)
    })
  )

  it.scopedLive("an organization without warm pools answers 404 'Cannot GET /api/warm-pools'", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ warmPools: false })
      const listed = yield* raw(control, "/warm-pools")
      assert.strictEqual(listed.status, 404)
      assert.strictEqual(listed.body.message, "Cannot GET /api/warm-pools")
      assert.strictEqual((yield* raw(control, "/warm-pools", {}, "wrong")).status, 401)
    })
  )
})
