/**
 * SSH access in the in-memory client, with the semantics of Daytona's API: a new token revokes the sandbox's earlier
 * ones, revoke takes one or all, validation answers `valid: false` once a token has expired (by `TestClock`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, TestClock } from "effect"
import * as Memory from "../../src/layers/DaytonaClientMemory.js"
import type { DaytonaApiError } from "../../src/services/DaytonaClient.js"

const reasonOf = <A>(effect: Effect.Effect<A, DaytonaApiError>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason)

describe("DaytonaClientMemory SSH access", () => {
  it.effect("a token for 60 minutes by default, for a sandbox in any state, and the command that holds it", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const sandbox = yield* control.seed({ state: "stopped" })
      const access = yield* client.createSshAccess(sandbox.id)
      const token = Redacted.value(access.token)
      assert.match(token, /^[A-Za-z0-9]{32}$/)
      assert.strictEqual(Redacted.value(access.sshCommand), `ssh ${token}@ssh.app.daytona.io`)
      assert.strictEqual(access.sandboxId, sandbox.id)
      assert.strictEqual(access.expiresAt.getTime(), 60 * 60_000)
      assert.deepStrictEqual(yield* client.validateSshAccess(sandbox.id, access.token), {
        valid: true,
        sandboxId: Option.some(sandbox.id)
      })
      yield* TestClock.adjust("60 minutes")
      assert.isTrue((yield* client.validateSshAccess(sandbox.id, access.token)).valid)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* client.validateSshAccess(sandbox.id, access.token), {
        valid: false,
        sandboxId: Option.none()
      })
    })
  )

  it.effect("a new token revokes the earlier one; revoke takes one token or all", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      const sandbox = yield* control.seed({ state: "started" })
      const first = yield* client.createSshAccess(sandbox.id, 5)
      const second = yield* client.createSshAccess(sandbox.id, 5)
      assert.isFalse((yield* client.validateSshAccess(sandbox.id, first.token)).valid)
      assert.isTrue((yield* client.validateSshAccess(sandbox.id, second.token)).valid)
      yield* client.revokeSshAccess(sandbox.id, first.token)
      assert.isTrue((yield* client.validateSshAccess(sandbox.id, second.token)).valid, "revoking another token")
      yield* client.revokeSshAccess(sandbox.id, second.token)
      assert.isFalse((yield* client.validateSshAccess(sandbox.id, second.token)).valid)
      const third = yield* client.createSshAccess(sandbox.id)
      yield* client.revokeSshAccess(sandbox.id)
      assert.isFalse((yield* client.validateSshAccess(sandbox.id, third.token)).valid)
    })
  )

  it.effect("an unknown sandbox is NotFound; a lifetime that is not positive is Invalid, with no call recorded", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      assert.strictEqual(yield* reasonOf(client.createSshAccess("nope")), "NotFound")
      assert.strictEqual(yield* reasonOf(client.revokeSshAccess("nope")), "NotFound")
      const sandbox = yield* control.seed({ state: "started" })
      const before = (yield* control.calls).length
      assert.strictEqual(yield* reasonOf(client.createSshAccess(sandbox.id, 0)), "Invalid")
      assert.strictEqual(yield* reasonOf(client.createSshAccess(sandbox.id, -1)), "Invalid")
      assert.strictEqual((yield* control.calls).length, before)
    })
  )
})
