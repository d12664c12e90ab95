/**
 * The checks of Daytona's API on request bodies and queries, with its wording: NestJS's `ValidationPipe` with
 * class-validator (the DTOs of `apps/api/src/sandbox/dto/`), whose messages the exception filter joins with
 * ", ", and the checks its services make before anything changes (intervals, labels, cursors).
 *
 * @since 0.1.0
 */
import { Either } from "effect"
import { HttpFailure } from "./Dto.js"

/**
 * Every sandbox state a list may filter by (Daytona's enum order, without `destroyed`).
 *
 * @since 0.1.0
 */
export const LISTABLE_STATES: ReadonlyArray<string> = [
  "creating",
  "restoring",
  "destroying",
  "started",
  "stopped",
  "starting",
  "stopping",
  "error",
  "build_failed",
  "pending_build",
  "building_snapshot",
  "unknown",
  "pulling_snapshot",
  "archived",
  "archiving",
  "resizing",
  "snapshotting",
  "forking",
  "pausing",
  "paused",
  "resuming"
]

/** The longest auto-archive interval (Daytona's `maxAutoArchiveInterval`, minutes). */
export const MAX_AUTO_ARCHIVE_INTERVAL = 43_200

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** class-validator's messages. */
const must = {
  string: (p: string) => `${p} must be a string`,
  boolean: (p: string) => `${p} must be a boolean value`,
  number: (p: string) => `${p} must be a number conforming to the specified constraints`,
  integer: (p: string) => `${p} must be an integer number`,
  object: (p: string) => `${p} must be an object`,
  array: (p: string) => `${p} must be an array`,
  min: (p: string, n: number) => `${p} must not be less than ${n}`,
  max: (p: string, n: number) => `${p} must not be greater than ${n}`,
  oneOf: (p: string, values: ReadonlyArray<string>) => `${p} must be one of the following values: ${values.join(", ")}`,
  safe: (p: string) => `${p} must not contain HTML tags, URLs, or control characters`
}

// Daytona's `IsSafeDisplayString` (common/validators/is-safe-string.validator.ts).
const HTML_TAG = /<[a-zA-Z/][^>]*>?/
const URL_SCHEME =
  /https?:\/\/|ftps?:\/\/|sftp:\/\/|ssh:\/\/|wss?:\/\/|file:\/\/|ldaps?:\/\/|javascript:|data:|mailto:|tel:|www\./i
// eslint-disable-next-line no-control-regex
const CONTROL_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/

/**
 * Whether a display name passes Daytona's `IsSafeDisplayString` (no HTML tags, URL schemes or control characters).
 *
 * @since 0.1.0
 */
export const isSafeDisplayString = (value: string): boolean =>
  !HTML_TAG.test(value) && !URL_SCHEME.test(value) && !CONTROL_CHAR.test(value)

/**
 * A create request as the API validated it.
 *
 * @since 0.1.0
 */
export interface CreateBody {
  readonly name?: string | undefined
  readonly snapshot?: string | undefined
  readonly user?: string | undefined
  readonly env?: Record<string, string> | undefined
  readonly labels?: Record<string, string> | undefined
  readonly public?: boolean | undefined
  readonly target?: string | undefined
  readonly cpu?: number | undefined
  readonly gpu?: number | undefined
  readonly gpuType?: ReadonlyArray<unknown> | undefined
  readonly memory?: number | undefined
  readonly disk?: number | undefined
  readonly autoStopInterval?: number | undefined
  readonly autoArchiveInterval?: number | undefined
  readonly autoDeleteInterval?: number | undefined
  readonly volumes?: ReadonlyArray<Record<string, unknown>> | undefined
  readonly buildInfo?: Record<string, unknown> | undefined
  readonly linkedSandbox?: string | undefined
  readonly secrets?: ReadonlyArray<unknown> | undefined
}

const stringRecord = (value: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(value).map(([key, v]) => [key, typeof v === "string" ? v : JSON.stringify(v)]))

/**
 * Validates a create body as `CreateSandboxDto` does: unknown keys are ignored, `null` counts as absent, and each
 * property's failures come in the order class-validator reports them.
 *
 * @since 0.1.0
 */
export const validateCreateBody = (body: unknown): Either.Either<CreateBody, HttpFailure> => {
  if (!isObject(body)) return Either.right({})
  const errors: Array<string> = []
  const out: Record<string, unknown> = {}
  const present = (key: string) => body[key] !== undefined && body[key] !== null
  const str = (key: string, safe = false) => {
    if (!present(key)) return
    const value = body[key]
    if (typeof value !== "string") {
      if (safe) errors.push(must.safe(key))
      errors.push(must.string(key))
    } else if (safe && !isSafeDisplayString(value)) errors.push(must.safe(key))
    else out[key] = value
  }
  const num = (key: string, min?: number, max?: number) => {
    if (!present(key)) return
    const value = body[key]
    const ok = typeof value === "number" && Number.isFinite(value)
    const local: Array<string> = []
    if (max !== undefined && !(ok && (value as number) <= max)) local.push(must.max(key, max))
    if (min !== undefined && !(ok && (value as number) >= min)) local.push(must.min(key, min))
    if (!ok) local.push(must.number(key))
    if (local.length > 0) errors.push(...local)
    else out[key] = value
  }
  const obj = (key: string, asStrings: boolean) => {
    if (!present(key)) return
    const value = body[key]
    if (!isObject(value)) errors.push(must.object(key))
    else out[key] = asStrings ? stringRecord(value) : value
  }
  const bool = (key: string) => {
    if (!present(key)) return
    if (typeof body[key] !== "boolean") errors.push(must.boolean(key))
    else out[key] = body[key]
  }
  const arr = (key: string) => {
    if (!present(key)) return
    if (!Array.isArray(body[key])) errors.push(must.array(key))
    else out[key] = body[key]
  }
  str("name", true)
  str("snapshot")
  str("user")
  obj("env", true)
  obj("labels", true)
  bool("public")
  bool("networkBlockAll")
  str("networkAllowList")
  str("domainAllowList")
  str("target")
  num("cpu", 0)
  num("gpu", 0, 1)
  arr("gpuType")
  num("memory", 0)
  num("disk", 0)
  num("autoStopInterval")
  num("autoArchiveInterval")
  num("autoDeleteInterval")
  arr("volumes")
  obj("buildInfo", false)
  str("linkedSandbox")
  arr("secrets")
  return errors.length > 0 ? Either.left(new HttpFailure({ status: 400, detail: errors })) : Either.right(out)
}

/**
 * `autoStopInterval` as the API stores it: never negative.
 *
 * @since 0.1.0
 */
export const resolveAutoStop = (minutes: number): Either.Either<number, HttpFailure> =>
  minutes < 0
    ? Either.left(new HttpFailure({ status: 400, detail: "Auto-stop interval must be non-negative" }))
    : Either.right(minutes)

/**
 * `autoArchiveInterval` as the API stores it: never negative, 0 means the maximum, capped at the maximum.
 *
 * @since 0.1.0
 */
export const resolveAutoArchive = (minutes: number): Either.Either<number, HttpFailure> =>
  minutes < 0
    ? Either.left(new HttpFailure({ status: 400, detail: "Auto-archive interval must be non-negative" }))
    : Either.right(minutes === 0 ? MAX_AUTO_ARCHIVE_INTERVAL : Math.min(minutes, MAX_AUTO_ARCHIVE_INTERVAL))

/**
 * A numeric path parameter as NestJS converts it (`Number(text)`); not a number is a 400 here (Daytona would
 * store NaN and fail later).
 *
 * @since 0.1.0
 */
export const numericParam = (name: string, text: string): Either.Either<number, HttpFailure> => {
  const value = Number(text)
  return text.trim() === "" || Number.isNaN(value)
    ? Either.left(new HttpFailure({ status: 400, detail: must.number(name) }))
    : Either.right(value)
}

/**
 * The messages of the query checks shared by the list endpoints.
 *
 * @since 0.1.0
 */
export const queryMessages = must

/**
 * Reads a `PageLimit`/`PageNumber`-style integer query parameter.
 *
 * @since 0.1.0
 */
export const intQuery = (
  params: URLSearchParams,
  name: string,
  fallback: number | undefined,
  min: number,
  max: number | undefined,
  errors: Array<string>
): number | undefined => {
  const text = params.get(name)
  if (text === null || text === "") return fallback
  const value = Number(text)
  const local: Array<string> = []
  if (max !== undefined && !(value <= max)) local.push(must.max(name, max))
  if (!(value >= min)) local.push(must.min(name, min))
  if (!Number.isInteger(value)) local.push(must.integer(name))
  errors.push(...local)
  return local.length > 0 ? fallback : value
}

/**
 * The values of an array query parameter (`states=a&states=b`, or `states[]=a`).
 *
 * @since 0.1.0
 */
export const arrayQuery = (params: URLSearchParams, name: string): ReadonlyArray<string> | undefined => {
  const values = [...params.getAll(name), ...params.getAll(`${name}[]`)]
  return values.length === 0 ? undefined : values
}

/**
 * A date query parameter (`IsDate` after `Type(() => Date)`).
 *
 * @since 0.1.0
 */
export const dateQuery = (params: URLSearchParams, name: string, errors: Array<string>): number | undefined => {
  const text = params.get(name)
  if (text === null || text === "") return undefined
  const value = new Date(text).getTime()
  if (Number.isNaN(value)) {
    errors.push(`${name} must be a Date instance`)
    return undefined
  }
  return value
}

/**
 * A label filter (a JSON object in the query): "Invalid labels JSON format" when it does not parse.
 *
 * @since 0.1.0
 */
export const labelsQuery = (text: string | null): Either.Either<Record<string, unknown> | undefined, HttpFailure> => {
  if (text === null || text === "") return Either.right(undefined)
  try {
    const parsed: unknown = JSON.parse(text)
    return Either.right(isObject(parsed) ? parsed : {})
  } catch {
    return Either.left(new HttpFailure({ status: 400, detail: "Invalid labels JSON format" }))
  }
}
