import { assert, describe, it } from "@effect/vitest"
import {
  DaytonaAuthenticationError,
  DaytonaBadGatewayError,
  DaytonaConflictError,
  DaytonaConnectionError,
  DaytonaConnectionTimeoutError,
  DaytonaError,
  DaytonaForbiddenError,
  DaytonaGoneError,
  DaytonaInternalServerError,
  DaytonaInvalidArgumentError,
  DaytonaNotFoundError,
  DaytonaProcessNotFoundError,
  DaytonaRateLimitError,
  DaytonaServiceUnavailableError,
  DaytonaTimeoutError,
  DaytonaUnprocessableEntityError,
  DaytonaValidationError
} from "@daytonaio/sdk"
import { AxiosHeaders } from "axios"
import { Duration } from "effect"
import { fromSdkError, isSdkErrorLike, reasonOf, sanitizeDefect, summarize } from "../../src/layers/SdkErrors.js"

const context = { operation: "DaytonaClient.start", sandboxId: "sbx-1", now: Date.UTC(2030, 0, 1) }
type Headers = ConstructorParameters<typeof DaytonaError>[2]
const headers = (values: Record<string, string>) => values as unknown as Headers

describe("SdkErrors", () => {
  it("HTTP statuses map through reasonOfStatus", () => {
    const cases: ReadonlyArray<[DaytonaError, string]> = [
      [new DaytonaValidationError("bad", 400), "Invalid"],
      [new DaytonaAuthenticationError("Unauthorized", 401), "Unauthorized"],
      [new DaytonaForbiddenError("no", 403), "Forbidden"],
      [new DaytonaNotFoundError("Sandbox with ID or name sbx-1 not found", 404), "NotFound"],
      [new DaytonaProcessNotFoundError("session not found", 404, undefined, "PROCESS_NOT_FOUND"), "NotFound"],
      [new DaytonaTimeoutError("Gateway Timeout", 504), "Timeout"],
      [new DaytonaConflictError("Sandbox with name x already exists", 409), "Conflict"],
      [new DaytonaGoneError("gone", 410), "NotFound"],
      [new DaytonaUnprocessableEntityError("nope", 422), "Invalid"],
      [new DaytonaRateLimitError("ThrottlerException: Too Many Requests", 429), "RateLimited"],
      [new DaytonaInternalServerError("boom", 500), "Transient"],
      [new DaytonaBadGatewayError("Bad Gateway", 502), "Transient"],
      [new DaytonaServiceUnavailableError("busy", 503), "Transient"],
      [new DaytonaError("teapot", 418), "Invalid"]
    ]
    for (const [error, reason] of cases) {
      const mapped = fromSdkError(error, context)
      assert.strictEqual(mapped.reason, reason, `${error.name} ${error.statusCode}`)
      assert.strictEqual(mapped.status, error.statusCode)
      assert.strictEqual(mapped.operation, "DaytonaClient.start")
      assert.strictEqual(mapped.sandboxId, "sbx-1")
      assert.strictEqual(mapped.detail, error.message)
    }
  })

  it("'State change in progress' on 400 or 409 is StateChangeInProgress", () => {
    assert.strictEqual(reasonOf(new DaytonaConflictError("State change in progress", 409)), "StateChangeInProgress")
    assert.strictEqual(reasonOf(new DaytonaValidationError("State change in progress.", 400)), "StateChangeInProgress")
    // Daytona's SandboxError for a stop (start, archive) of an errored sandbox; any other 400 stays Invalid.
    assert.strictEqual(reasonOf(new DaytonaValidationError("Sandbox is in an errored state", 400)), "SandboxFailed")
    assert.strictEqual(reasonOf(new DaytonaValidationError("Sandbox is not in a stoppable state", 400)), "Invalid")
  })

  it("transport failures and timeouts: Transient and Timeout", () => {
    assert.strictEqual(reasonOf(new DaytonaConnectionError("connect ECONNREFUSED 127.0.0.1:1")), "Transient")
    assert.strictEqual(reasonOf(new DaytonaConnectionTimeoutError("HTTP request timed out after 30000ms")), "Timeout")
    assert.strictEqual(
      reasonOf(new DaytonaTimeoutError("Sandbox failed to become ready within the timeout period")),
      "Timeout"
    )
  })

  it("a state wait that ended in error/build_failed is SandboxFailed, with the sandbox id from the message", () => {
    const started = fromSdkError(
      new DaytonaError("Sandbox sbx-7 failed to start with status: build_failed, error reason: no image"),
      { operation: "DaytonaClient.create", now: 0 }
    )
    assert.strictEqual(started.reason, "SandboxFailed")
    assert.strictEqual(started.sandboxId, "sbx-7")
    assert.isUndefined(started.status)
    const stopped = fromSdkError(
      new DaytonaError("Sandbox failed to stop with status: error, error reason: x"),
      context
    )
    assert.strictEqual(stopped.reason, "SandboxFailed")
    assert.strictEqual(stopped.sandboxId, "sbx-1")
  })

  it("local errors: missing credentials → Unauthorized, bad arguments → Invalid, anything else → Unknown", () => {
    assert.strictEqual(
      reasonOf(new DaytonaAuthenticationError("Authentication credentials not found.")),
      "Unauthorized"
    )
    assert.strictEqual(reasonOf(new DaytonaInvalidArgumentError("Timeout must be a non-negative number")), "Invalid")
    assert.strictEqual(reasonOf(new DaytonaError("something odd")), "Unknown")
  })

  it("Retry-After in seconds or as an HTTP date becomes retryAfter, from a plain object or AxiosHeaders", () => {
    const seconds = fromSdkError(new DaytonaRateLimitError("slow down", 429, headers({ "retry-after": "7" })), context)
    assert.deepStrictEqual(seconds.retryAfter, Duration.seconds(7))
    const date = new Date(context.now + 12_000).toUTCString()
    const dated = fromSdkError(new DaytonaRateLimitError("slow down", 429, headers({ "Retry-After": date })), context)
    assert.deepStrictEqual(dated.retryAfter, Duration.millis(12_000))
    const axios = new AxiosHeaders({ "Retry-After": "3" }) as unknown as Headers
    assert.deepStrictEqual(
      fromSdkError(new DaytonaRateLimitError("x", 429, axios), context).retryAfter,
      Duration.seconds(3)
    )
    assert.isUndefined(fromSdkError(new DaytonaRateLimitError("x", 429), context).retryAfter)
  })

  it("Daytona's throttler headers: the wait of Retry-After-<throttler> and the throttler's name", () => {
    // As Daytona's API (NestJS throttler) answers a create over the organization's rate.
    const throttled = new AxiosHeaders({
      "X-RateLimit-Limit-sandbox-create": "300",
      "X-RateLimit-Remaining-sandbox-create": "0",
      "X-RateLimit-Reset-sandbox-create": "41",
      "Retry-After-sandbox-create": "41",
      "X-RateLimit-Limit-authenticated": "10000",
      "X-RateLimit-Remaining-authenticated": "9990"
    }) as unknown as Headers
    const error = fromSdkError(
      new DaytonaRateLimitError("ThrottlerException: Too Many Requests", 429, throttled),
      context
    )
    assert.strictEqual(error.reason, "RateLimited")
    assert.deepStrictEqual(error.retryAfter, Duration.seconds(41))
    assert.strictEqual(error.throttler, "sandbox-create")
    // Several refusals at once: the longest wait wins; the plain header (failed auth) has no throttler name.
    const both = headers({ "retry-after-authenticated": "2", "retry-after-sandbox-lifecycle": "9" })
    const longest = fromSdkError(new DaytonaRateLimitError("x", 429, both), context)
    assert.deepStrictEqual(longest.retryAfter, Duration.seconds(9))
    assert.strictEqual(longest.throttler, "sandbox-lifecycle")
    const plain = fromSdkError(new DaytonaRateLimitError("x", 429, headers({ "retry-after": "5" })), context)
    assert.isUndefined(plain.throttler)
  })

  it("the cause is a sanitized summary; the key never appears in message, JSON or cause", () => {
    const key = "dtn_canary_1234567890"
    const error = new DaytonaAuthenticationError(
      `Invalid API key ${key}`,
      401,
      headers({ "www-authenticate": `Bearer ${key}` }),
      "UNAUTHORIZED"
    )
    const mapped = fromSdkError(error, { ...context, secrets: [key] })
    assert.deepStrictEqual(mapped.cause, {
      name: "DaytonaAuthenticationError",
      message: "Invalid API key <redacted>",
      statusCode: 401,
      code: "UNAUTHORIZED"
    })
    for (const text of [
      mapped.message,
      mapped.detail,
      JSON.stringify(mapped),
      String(mapped),
      JSON.stringify(mapped.cause)
    ]) {
      assert.notInclude(text, key)
    }
    assert.deepStrictEqual(summarize(new DaytonaError("plain")), { name: "DaytonaError", message: "plain" })
  })

  it("isSdkErrorLike and sanitizeDefect", () => {
    assert.isTrue(isSdkErrorLike(new DaytonaNotFoundError("x", 404)))
    assert.isFalse(isSdkErrorLike(new TypeError("x")))
    assert.isFalse(isSdkErrorLike({ name: "DaytonaError", message: "not an Error" }))
    const plain = new TypeError("undefined is not a function")
    assert.strictEqual(sanitizeDefect(plain), plain)
    const axiosLike = Object.assign(new Error("Request failed"), {
      config: { headers: { Authorization: "Bearer dtn_secret" } }
    })
    const clean = sanitizeDefect(axiosLike, ["dtn_secret"])
    assert.instanceOf(clean, Error)
    assert.notStrictEqual(clean, axiosLike)
    assert.notInclude(JSON.stringify(clean) + String(clean) + Object.keys(clean as object).join(), "dtn_secret")
    assert.isFalse("config" in (clean as object))
    const leakyMessage = sanitizeDefect(new Error("key dtn_secret rejected"), ["dtn_secret"]) as Error
    assert.strictEqual(leakyMessage.message, "key <redacted> rejected")
  })
})
