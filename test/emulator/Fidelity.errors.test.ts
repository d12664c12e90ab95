/**
 * DAYTONA-FIDELITY.md §2: error bodies (`all-exceptions.filter.ts`), Daytona's wording, and 429s as its
 * throttlers (`@nestjs/throttler` 6) answer them — injected, and enforced.
 */
import { DaytonaRateLimitError, DaytonaValidationError } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { Fault } from "../../src/emulator/Emulator.js"
import { http, rejection, sdk } from "./support.js"

const raw = (control: Emulator.EmulatorControlService, path: string, init: RequestInit = {}, key?: string) =>
  Effect.map(
    http(`${control.apiUrl}${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${key ?? Redacted.value(control.apiKey)}`,
        "Content-Type": "application/json"
      }
    }),
    (r) => ({ status: r.status, headers: r.headers, body: r.text === "" ? undefined : JSON.parse(r.text) })
  )

describe("Daytona fidelity: errors", () => {
  it.scopedLive("error bodies: {path, timestamp, statusCode, error, message}, message a string, path with query", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const missing = yield* raw(control, "/sandbox/nope?verbose=true")
      assert.deepStrictEqual(Object.keys(missing.body), ["path", "timestamp", "statusCode", "error", "message"])
      assert.strictEqual(missing.body.path, "/api/sandbox/nope?verbose=true")
      assert.strictEqual(missing.body.error, "Not Found")
      assert.strictEqual(missing.body.message, "Sandbox with ID or name nope not found")

      // Several validation messages are joined with ", ", so the SDK shows them (not just "Bad Request").
      const invalid = yield* raw(control, "/sandbox", {
        method: "POST",
        body: JSON.stringify({ name: 5, labels: "x", public: "yes", cpu: -1 })
      })
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual(
        invalid.body.message,
        "name must not contain HTML tags, URLs, or control characters, name must be a string, labels must be an object, " +
          "public must be a boolean value, cpu must not be less than 0"
      )
      const daytona = yield* sdk(control)
      const shown = yield* rejection(() => daytona.create({ name: "<b>x</b>" }))
      assert.instanceOf(shown, DaytonaValidationError)
      assert.strictEqual((shown as Error).message, "name must not contain HTML tags, URLs, or control characters")

      const unknownRoute = yield* raw(control, "/nothing/here?x=1")
      assert.strictEqual(unknownRoute.status, 404)
      assert.strictEqual(unknownRoute.body.message, "Cannot GET /api/nothing/here?x=1")
      const denied = yield* raw(control, "/sandbox", {}, "wrong-key")
      assert.strictEqual(denied.status, 401)
      assert.strictEqual(denied.body.message, "Invalid credentials")
    })
  )

  it.scopedLive("Daytona's wording: labels, cursor, signed expiry, port", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const id: string = (yield* raw(control, "/sandbox", { method: "POST", body: "{}" })).body.id
      assert.strictEqual((yield* raw(control, "/sandbox?labels=%7Bnope")).body.message, "Invalid labels JSON format")
      assert.strictEqual(
        (yield* raw(control, "/sandbox/paginated?labels=%7Bnope")).body.message,
        "Invalid labels JSON format"
      )
      assert.strictEqual((yield* raw(control, "/sandbox?cursor=abc")).body.message, "Invalid cursor provided: abc")
      const expiry = yield* raw(control, `/sandbox/${id}/ports/3000/signed-preview-url?expiresInSeconds=86401`)
      assert.strictEqual(expiry.status, 400)
      assert.strictEqual(expiry.body.message, "expiresInSeconds must be between 1 second and 24 hours")
      const port = yield* raw(control, `/sandbox/${id}/ports/70000/preview-url`)
      assert.strictEqual(port.status, 400)
      assert.strictEqual(port.body.message, "Invalid port")
    })
  )

  it.scopedLive("injected throttling: Retry-After-<throttler>, or a plain Retry-After for failed-auth", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      yield* control.inject("sandbox.create", Fault.RateLimited({ throttler: "sandbox-create", retryAfter: 42 }))
      const limited = (yield* rejection(() => daytona.create())) as DaytonaRateLimitError
      assert.instanceOf(limited, DaytonaRateLimitError)
      assert.strictEqual(limited.message, "ThrottlerException: Too Many Requests")
      assert.strictEqual(String(limited.headers?.["retry-after-sandbox-create"]), "42")
      assert.isUndefined(limited.headers?.["retry-after"])

      yield* control.inject("sandbox.get", Fault.RateLimited({ throttler: "failed-auth", retryAfter: 7, limit: 5 }))
      const failedAuth = yield* raw(control, "/sandbox/x")
      assert.strictEqual(failedAuth.status, 429)
      assert.strictEqual(failedAuth.headers.get("retry-after"), "7")
      assert.strictEqual(failedAuth.headers.get("x-ratelimit-limit-failed-auth"), "5")
      assert.strictEqual(failedAuth.headers.get("x-ratelimit-remaining-failed-auth"), "0")
    })
  )

  it.scopedLive("an enforced create rate: X-RateLimit-* on each create, then 429 until the window ends", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ createsPerMinute: 2 })
      const first = yield* raw(control, "/sandbox", { method: "POST", body: "{}" })
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.headers.get("x-ratelimit-limit-sandbox-create"), "2")
      assert.strictEqual(first.headers.get("x-ratelimit-remaining-sandbox-create"), "1")
      assert.strictEqual(first.headers.get("x-ratelimit-reset-sandbox-create"), "60")
      // Other routes are not counted by the create throttler.
      assert.isNull((yield* raw(control, "/sandbox")).headers.get("x-ratelimit-limit-sandbox-create"))
      const second = yield* raw(control, "/sandbox", { method: "POST", body: "{}" })
      assert.strictEqual(second.headers.get("x-ratelimit-remaining-sandbox-create"), "0")
      const third = yield* raw(control, "/sandbox", { method: "POST", body: "{}" })
      assert.strictEqual(third.status, 429)
      assert.strictEqual(third.body.message, "ThrottlerException: Too Many Requests")
      assert.strictEqual(third.headers.get("retry-after-sandbox-create"), "60")
      assert.strictEqual((yield* control.sandboxes).length, 2)

      yield* control.setRateLimits({ authenticated: { limit: 1, ttlSeconds: 1 } })
      assert.strictEqual((yield* raw(control, "/sandbox")).headers.get("x-ratelimit-remaining-authenticated"), "0")
      const blocked = yield* raw(control, "/sandbox")
      assert.strictEqual(blocked.status, 429)
      assert.strictEqual(blocked.headers.get("retry-after-authenticated"), "1")
      yield* Effect.sleep("1100 millis")
      assert.strictEqual((yield* raw(control, "/sandbox")).status, 200)
    })
  )

  it.scopedLive("failed authentications are throttled per client with a plain Retry-After", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ rateLimits: { "failed-auth": { limit: 2, ttlSeconds: 30 } } })
      const once = yield* raw(control, "/sandbox", {}, "bad")
      assert.strictEqual(once.status, 401)
      assert.strictEqual(once.headers.get("x-ratelimit-remaining-failed-auth"), "1")
      const twice = yield* raw(control, "/sandbox", {}, "bad")
      assert.strictEqual(twice.status, 429)
      assert.strictEqual(twice.headers.get("retry-after"), "30")
      assert.strictEqual((yield* raw(control, "/sandbox")).status, 200)
    })
  )
})
