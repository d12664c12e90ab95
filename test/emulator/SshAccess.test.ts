/**
 * The emulator's SSH access tokens, against what Daytona's `sandbox.service.ts` does: 32 characters without `_` or
 * `-`, 60 minutes by default, a new token revokes the sandbox's earlier ones, revoke one or all, expiry by the clock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, TestClock } from "effect"
import ssh2 from "ssh2"
import { makeRegistry, sshCommand } from "../../src/emulator/SshAccess.js"
import { makeHostKey } from "../../src/emulator/SshServer.js"

const registry = () => makeRegistry({ host: "127.0.0.1", port: () => 2222 })

describe("SshAccess", () => {
  it.effect("a token is 32 characters of [A-Za-z0-9], valid for 60 minutes by default, and names its command", () =>
    Effect.gen(function* () {
      const tokens = registry()
      const grant = yield* tokens.create("sbx-1")
      const token = Redacted.value(grant.token)
      assert.match(token, /^[A-Za-z0-9]{32}$/)
      assert.strictEqual(grant.sandboxId, "sbx-1")
      assert.strictEqual(grant.expiresAt.getTime() - grant.createdAt.getTime(), 60 * 60_000)
      assert.strictEqual(Redacted.value(grant.sshCommand), `ssh -p 2222 ${token}@127.0.0.1`)
      assert.deepStrictEqual(yield* tokens.validate(token), Option.some({ sandboxId: "sbx-1" }))
      assert.isTrue(Option.isNone(yield* tokens.validate("nope")))
    })
  )

  it.effect("a token is valid until its expiry, then refused", () =>
    Effect.gen(function* () {
      const tokens = registry()
      const token = Redacted.value((yield* tokens.create("sbx-1", 5)).token)
      yield* TestClock.adjust("5 minutes")
      assert.isTrue(Option.isSome(yield* tokens.validate(token)), "valid at its expiry instant, as Daytona's `<`")
      yield* TestClock.adjust("1 millis")
      assert.isTrue(Option.isNone(yield* tokens.validate(token)))
    })
  )

  it.effect("a new token revokes the sandbox's earlier ones, not other sandboxes'", () =>
    Effect.gen(function* () {
      const tokens = registry()
      const first = Redacted.value((yield* tokens.create("sbx-1")).token)
      const other = Redacted.value((yield* tokens.create("sbx-2")).token)
      const second = Redacted.value((yield* tokens.create("sbx-1")).token)
      assert.isTrue(Option.isNone(yield* tokens.validate(first)))
      assert.isTrue(Option.isSome(yield* tokens.validate(second)))
      assert.isTrue(Option.isSome(yield* tokens.validate(other)))
    })
  )

  it.effect("revoke takes one token of the sandbox, or all of them without one", () =>
    Effect.gen(function* () {
      const tokens = registry()
      const one = Redacted.value((yield* tokens.create("sbx-1")).token)
      const other = Redacted.value((yield* tokens.create("sbx-2")).token)
      yield* tokens.revoke("sbx-2", one)
      assert.isTrue(Option.isSome(yield* tokens.validate(one)), "a token of another sandbox is not revoked")
      yield* tokens.revoke("sbx-1", one)
      assert.isTrue(Option.isNone(yield* tokens.validate(one)))
      yield* tokens.revoke("sbx-2")
      assert.isTrue(Option.isNone(yield* tokens.validate(other)))
    })
  )

  it("the command leaves the port out on 22, as Daytona's SshAccessDto does", () => {
    assert.strictEqual(sshCommand("T", "ssh.app.daytona.io", 22), "ssh T@ssh.app.daytona.io")
    assert.strictEqual(sshCommand("T", "127.0.0.1", 2222), "ssh -p 2222 T@127.0.0.1")
  })
})

describe("the SSH host key", () => {
  it("is always a key ssh2 can parse back (its generator alone fails about once in 250 keys)", () => {
    for (let i = 0; i < 600; i++) {
      const key = makeHostKey()
      assert.isFalse(ssh2.utils.parseKey(key.privateKey) instanceof Error)
      assert.match(key.publicKey, /^ssh-ed25519 [A-Za-z0-9+/]+=*$/)
      assert.match(key.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/)
    }
  })
})
