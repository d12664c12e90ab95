/**
 * The emulator's SSH access tokens, against what Daytona's `sandbox.service.ts` does: 32 characters without `_` or
 * `-`, a new token revokes the sandbox's earlier ones, revoke one or all; and the command and host key of the SSH
 * endpoint. (Expiry and the REST routes are in `Fidelity.routes.test.ts`.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import ssh2 from "ssh2"
import * as Emulator from "../../src/emulator/Emulator.js"
import { sshCommand } from "../../src/emulator/SshAccess.js"
import { makeHostKey } from "../../src/emulator/SshServer.js"
import { call, sdk } from "./support.js"

describe("SshAccess", () => {
  it.scopedLive("a token names the emulator's SSH endpoint; a new one revokes the earlier; revoke one or all", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const one = yield* call(() => daytona.create())
      const two = yield* call(() => daytona.create())
      const grant = yield* control.sshAccess.create(one.id)
      const token = Redacted.value(grant.token)
      assert.match(token, /^[A-Za-z0-9]{32}$/)
      assert.strictEqual(Redacted.value(grant.sshCommand), `ssh -p ${control.sshPort} ${token}@127.0.0.1`)
      assert.isAtLeast(grant.expiresAt.getTime() - grant.createdAt.getTime(), 60 * 60_000 - 1)
      assert.deepStrictEqual(
        yield* control.validateSshToken(token),
        Option.some({ sandboxId: one.id, user: "daytona" })
      )
      assert.isTrue(Option.isNone(yield* control.validateSshToken("nope")))

      const other = Redacted.value((yield* control.sshAccess.create(two.id)).token)
      const second = Redacted.value((yield* control.sshAccess.create(one.id, 5)).token)
      assert.isTrue(Option.isNone(yield* control.validateSshToken(token)), "a new token revokes the earlier ones")
      assert.isTrue(Option.isSome(yield* control.validateSshToken(second)))
      assert.isTrue(Option.isSome(yield* control.validateSshToken(other)), "another sandbox's token stays")

      yield* control.sshAccess.revoke(two.id, second)
      assert.isTrue(Option.isSome(yield* control.validateSshToken(second)), "a token of another sandbox is not revoked")
      yield* control.sshAccess.revoke(one.id, second)
      assert.isTrue(Option.isNone(yield* control.validateSshToken(second)))
      yield* control.sshAccess.revoke(two.id)
      assert.isTrue(Option.isNone(yield* control.validateSshToken(other)))
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
