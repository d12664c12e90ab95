import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as SessionKey from "../../src/programs/SessionKey.js"
import { sessionKeyOf } from "../support/sessionKey.js"

describe("SessionKey", () => {
  it.effect("is HMAC-SHA-256 of the sandbox id under the API key: the same for every holder of the key", () =>
    Effect.gen(function* () {
      const key = Redacted.value(yield* SessionKey.derive(Redacted.make("dtn_api_key"), "sbx-1"))
      assert.match(key, /^[0-9a-f]{64}$/)
      assert.strictEqual(key, sessionKeyOf("dtn_api_key", "sbx-1"))
      assert.strictEqual(Redacted.value(yield* SessionKey.derive(Redacted.make("dtn_api_key"), "sbx-1")), key)
      assert.notStrictEqual(Redacted.value(yield* SessionKey.derive(Redacted.make("dtn_api_key"), "sbx-2")), key)
      assert.notStrictEqual(Redacted.value(yield* SessionKey.derive(Redacted.make("other_key"), "sbx-1")), key)
    })
  )
})
