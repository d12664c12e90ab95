/**
 * Maps the errors thrown by `@daytonaio/sdk` to {@link DaytonaApiError}. The mapping is structural (class
 * name, `statusCode`, `headers`, message), so this module never loads the SDK and is unit-testable with
 * constructed error objects.
 *
 * What is kept of an SDK error is a sanitized summary (`name`, `message`, `statusCode`, `code`): never
 * the error itself, its response headers, nor anything that could hold the request configuration (and
 * with it the `Authorization` header carrying the API key).
 *
 * @since 0.1.0
 */
import { Duration, Option, Predicate } from "effect"
import { DaytonaApiError, parseRetryAfter, reasonOfStatus } from "../services/DaytonaClient.js"
import type { DaytonaApiErrorReason } from "../services/DaytonaClient.js"

/**
 * The shape of an SDK error (`DaytonaError` and its subclasses) that the mapping reads.
 *
 * @since 0.1.0
 */
export interface SdkErrorLike {
  readonly name: string
  readonly message: string
  readonly statusCode?: number | undefined
  readonly code?: string | undefined
  readonly headers?: unknown
}

/**
 * What is kept as the `cause` of a mapped error: plain data, free of secrets.
 *
 * @since 0.1.0
 */
export interface SdkErrorSummary {
  readonly name: string
  readonly message: string
  readonly statusCode?: number | undefined
  readonly code?: string | undefined
}

/**
 * Where the error happened.
 *
 * @since 0.1.0
 */
export interface SdkErrorContext {
  /** e.g. `DaytonaClient.start`. */
  readonly operation: string
  readonly sandboxId?: string | undefined
  /** Epoch millis, to resolve a `Retry-After` given as an HTTP date. */
  readonly now: number
  /** Strings that must never appear in the error (the API key); each occurrence is replaced. */
  readonly secrets?: ReadonlyArray<string> | undefined
}

/**
 * Whether a value looks like an SDK error: an `Error` whose name is `Daytona…Error`.
 *
 * @since 0.1.0
 */
export const isSdkErrorLike = (u: unknown): u is SdkErrorLike =>
  u instanceof Error && /^Daytona[A-Za-z0-9]*Error$/.test(u.name)

/** Replaces every occurrence of each secret with `<redacted>`. */
export const scrub = (text: string, secrets: ReadonlyArray<string> | undefined): string =>
  secrets === undefined
    ? text
    : secrets.reduce((acc, secret) => (secret.length === 0 ? acc : acc.split(secret).join("<redacted>")), text)

/** `Sandbox sbx-1 failed to start with status: error, error reason: …` (and the stop/delete variants). */
const FAILED_STATE = /failed to \w+ with (?:status|state): (?:error|build_failed)\b/i
const SANDBOX_ID_IN_MESSAGE = /^Sandbox (\S+) failed to /
const ERRORED_STATE = /^Sandbox is in an errored state$/i

/**
 * Classifies an SDK error into a reason: transport failures and timeouts by class, HTTP responses by
 * status ({@link reasonOfStatus}), state waits that ended in `error`/`build_failed` and Daytona's 400 "Sandbox is in
 * an errored state" as `SandboxFailed`.
 *
 * @since 0.1.0
 */
export const reasonOf = (error: SdkErrorLike): DaytonaApiErrorReason => {
  switch (error.name) {
    case "DaytonaConnectionTimeoutError":
      return "Timeout"
    case "DaytonaConnectionError":
      return "Transient"
  }
  // Daytona's `SandboxError` (400) for a start, stop or archive of a sandbox in `error` or `build_failed`.
  if (error.statusCode === 400 && ERRORED_STATE.test(error.message)) return "SandboxFailed"
  if (error.statusCode !== undefined) return reasonOfStatus(error.statusCode, error.message)
  if (FAILED_STATE.test(error.message)) return "SandboxFailed"
  switch (error.name) {
    case "DaytonaTimeoutError":
    case "DaytonaProcessExecutionTimeoutError":
      return "Timeout"
    case "DaytonaAuthenticationError":
      return "Unauthorized"
    case "DaytonaInvalidArgumentError":
    case "DaytonaValidationError":
    case "DaytonaBadRequestError":
      return "Invalid"
    default:
      return "Unknown"
  }
}

/** The header names and values of axios' `AxiosHeaders` or a plain object, names in lower case. */
const headerEntries = (headers: unknown): ReadonlyArray<readonly [string, string]> => {
  if (headers === null || typeof headers !== "object") return []
  const toJSON = (headers as { toJSON?: unknown }).toJSON
  const plain = typeof toJSON === "function" ? (toJSON as () => unknown).call(headers) : headers
  if (plain === null || typeof plain !== "object") return []
  return Object.entries(plain).flatMap(([name, raw]) => {
    const value = Array.isArray(raw) ? raw[0] : raw
    return Predicate.isString(value) || Predicate.isNumber(value) ? [[name.toLowerCase(), String(value)] as const] : []
  })
}

/**
 * How long a 429 asks to wait, and which throttler sent it. Daytona's API (NestJS throttler) names the throttler in
 * the header (`Retry-After-sandbox-create: 12`); only its failed-auth path sends a plain `Retry-After`. When several
 * are present, the longest wait wins.
 *
 * @since 0.2.0
 */
export const throttleOf = (
  headers: unknown,
  now: number
): { readonly retryAfter: Option.Option<Duration.Duration>; readonly throttler: string | undefined } => {
  let best: { wait: Duration.Duration; throttler: string | undefined } | undefined
  for (const [name, value] of headerEntries(headers)) {
    const match = /^retry-after(?:-(.+))?$/.exec(name)
    if (match === null) continue
    const wait = parseRetryAfter(value, now)
    if (Option.isSome(wait) && (best === undefined || Duration.greaterThan(wait.value, best.wait))) {
      best = { wait: wait.value, throttler: match[1] }
    }
  }
  return best === undefined
    ? { retryAfter: Option.none(), throttler: undefined }
    : { retryAfter: Option.some(best.wait), throttler: best.throttler }
}

/**
 * The sanitized summary of an SDK error.
 *
 * @since 0.1.0
 */
export const summarize = (error: SdkErrorLike, secrets?: ReadonlyArray<string>): SdkErrorSummary => ({
  name: error.name,
  message: scrub(error.message, secrets),
  ...(Predicate.isNumber(error.statusCode) ? { statusCode: error.statusCode } : {}),
  ...(Predicate.isString(error.code) ? { code: scrub(error.code, secrets) } : {})
})

/**
 * Maps an SDK error to a {@link DaytonaApiError}: `reason` from {@link reasonOf}, `status` from
 * `statusCode`, `retryAfter` and `throttler` from the `Retry-After[-<throttler>]` header, `sandboxId` from the context (or from a
 * state-wait message naming it), and a sanitized `cause`.
 *
 * @since 0.1.0
 */
export const fromSdkError = (error: SdkErrorLike, context: SdkErrorContext): DaytonaApiError => {
  const status = Predicate.isNumber(error.statusCode) ? error.statusCode : undefined
  const { retryAfter, throttler } = throttleOf(error.headers, context.now)
  const sandboxId = context.sandboxId ?? SANDBOX_ID_IN_MESSAGE.exec(error.message)?.[1]
  const detail = scrub(error.message, context.secrets).trim()
  return new DaytonaApiError({
    reason: reasonOf(error),
    operation: context.operation,
    detail: detail.length > 0 ? detail : error.name,
    status,
    retryAfter: Option.getOrUndefined(retryAfter),
    throttler,
    sandboxId,
    cause: summarize(error, context.secrets)
  })
}

/**
 * A throwable that is not an SDK error becomes a defect; when it carries what an HTTP client error
 * carries (`config`, `request`, `response`), it is replaced by a plain `Error` with its name and message
 * only, so the request configuration (and the key in it) cannot leak through a defect either.
 *
 * @since 0.1.0
 */
export const sanitizeDefect = (u: unknown, secrets?: ReadonlyArray<string>): unknown => {
  if (!(u instanceof Error)) return u
  const leaky = "config" in u || "request" in u || "response" in u
  const message = scrub(u.message, secrets)
  if (!leaky && message === u.message) return u
  const clean = new Error(message)
  clean.name = u.name
  return clean
}
