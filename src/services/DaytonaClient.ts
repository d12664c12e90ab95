/**
 * The Daytona API as Effects with typed errors. The live implementation wraps `@daytonaio/sdk`
 * (`src/layers/DaytonaClientLive.ts`); an in-memory one serves fast unit tests.
 *
 * @since 0.1.0
 */
import { Context, Data, Duration, Effect, Option, Predicate } from "effect"
import type { Redacted } from "effect"

/**
 * A sandbox state. The known values are Daytona's `SandboxState`; anything else the API sends is
 * kept as it came (an open union), never crashed on.
 *
 * @since 0.1.0
 */
export type SandboxState =
  | "creating"
  | "restoring"
  | "destroyed"
  | "destroying"
  | "started"
  | "stopped"
  | "starting"
  | "stopping"
  | "error"
  | "build_failed"
  | "pending_build"
  | "building_snapshot"
  | "unknown"
  | "pulling_snapshot"
  | "archived"
  | "archiving"
  | "resizing"
  | "snapshotting"
  | "forking"
  | "pausing"
  | "paused"
  | "resuming"
  | (string & {})

/**
 * Our own immutable record of a sandbox (never the SDK's mutable object).
 *
 * @since 0.1.0
 */
export interface Sandbox {
  readonly id: string
  readonly name: string
  readonly state: SandboxState
  /**
   * The state Daytona is driving the sandbox toward (`started`, `stopped`, `archived`, `destroyed`, …), when the API
   * said. It differs from `state` while a change is under way: a sandbox just asked to stop or to be deleted may still
   * read `started`, with `desiredState` `stopped` or `destroyed`.
   */
  readonly desiredState?: string | undefined
  readonly labels: Readonly<Record<string, string>>
  /**
   * The sandbox's environment variables, every value `Redacted` (they hold secrets such as the
   * runtime's session key). Empty when the API did not send them (list results carry no env).
   */
  readonly env: Readonly<Record<string, Redacted.Redacted<string>>>
  readonly public: boolean
  readonly target: string
  readonly snapshot: Option.Option<string>
  readonly errorReason: Option.Option<string>
  /** Whether a sandbox in `error` can be recovered with `recover`. */
  readonly recoverable: boolean
  readonly autoStopInterval: Option.Option<number>
  readonly createdAt: Option.Option<Date>
  readonly lastActivityAt: Option.Option<Date>
  /** What the sandbox was given (vCPUs, GiB of memory and of disk), when the API said: what it costs. */
  readonly resources?: SandboxResources | undefined
  /**
   * Only on the record `create` returns: whether Daytona served the create from a warm pool. `true` when Daytona
   * answered the create request with the sandbox already `started` — which its API does only for a warm-pool claim
   * (a fresh sandbox is answered with the record made at its insert, `creating`, even after the API's own wait);
   * `false` when it answered otherwise; absent when the client could not see the answer (a create retried after a
   * 429 that adopted the sandbox, a client without the hook). See {@link WarmPool}.
   */
  readonly claimedFromWarmPool?: boolean | undefined
}

/**
 * A Daytona warm pool (SDK `daytona.warmPool`, `GET/POST/PATCH/DELETE /warm-pools`): `pool` started sandboxes of one
 * snapshot in one region, kept ready by Daytona. A create is served from it (claimed) only when it uses that snapshot
 * and region with the snapshot's default resources, the pool's OS user, the pool's env (`{}`: no custom env vars) and
 * no volumes, secrets or linked sandbox; `currentSize` is how many are ready now.
 *
 * @since 0.2.0
 */
export interface WarmPool {
  readonly id: string
  readonly organizationId: string
  readonly snapshot: string
  readonly target: string
  /** The desired number of ready sandboxes. */
  readonly pool: number
  /** The number of ready sandboxes now. */
  readonly currentSize: number
  readonly cpu: number
  readonly memoryGiB: number
  readonly diskGiB: number
  readonly osUser: string
  /** The env every pooled sandbox has (and a create must carry to be served); values `Redacted`. */
  readonly env: Readonly<Record<string, Redacted.Redacted<string>>>
  /** Why the pool cannot be filled, when Daytona says. */
  readonly errorReason: Option.Option<string>
  readonly createdAt: Option.Option<Date>
  readonly updatedAt: Option.Option<Date>
}

/**
 * What a warm pool is created with.
 *
 * @since 0.2.0
 */
export interface CreateWarmPoolParams {
  /** The snapshot (id or name) to keep warm sandboxes of. */
  readonly snapshot: string
  /** How many ready sandboxes to keep (at least 1; capped by the organization's quota). */
  readonly pool: number
  /** The region; the organization's default region when absent. */
  readonly target?: string | undefined
}

/**
 * The resources of a sandbox.
 *
 * @since 0.2.0
 */
export interface SandboxResources {
  readonly cpu: number
  readonly memoryGiB: number
  readonly diskGiB: number
}

/**
 * What a sandbox is created with.
 *
 * @since 0.1.0
 */
export interface CreateSandboxParams {
  /** A fixed name; Daytona names are unique per organization, so a taken name fails with `Conflict`. */
  readonly name?: string | undefined
  readonly language?: "python" | "typescript" | "javascript" | undefined
  readonly snapshot?: string | undefined
  readonly envVars: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly public: boolean
  /** Minutes of inactivity before Daytona stops the sandbox; 0 = never. */
  readonly autoStopInterval: number
  /** How long to wait for the sandbox to reach `started`. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * A preview link: the URL of a sandbox port and the token a private sandbox requires
 * (in the `x-daytona-preview-token` header).
 *
 * @since 0.1.0
 */
export interface PreviewLink {
  readonly url: string
  readonly token: Redacted.Redacted<string>
}

/**
 * A signed preview URL: the token travels inside the URL, so the whole URL is secret.
 *
 * @since 0.1.0
 */
export interface SignedPreviewUrl {
  readonly url: Redacted.Redacted<string>
  readonly expiresInSeconds: number
}

/**
 * The result of a session command.
 *
 * @since 0.1.0
 */
export interface SessionCommandResult {
  readonly cmdId: string
  /** Present for a synchronous command. */
  readonly exitCode: Option.Option<number>
  readonly output: string
}

/**
 * The logs of a session command.
 *
 * @since 0.1.0
 */
export interface SessionCommandLogs {
  readonly output: string
  readonly stdout: string
  readonly stderr: string
}

/**
 * SSH access to a sandbox (Daytona's `SshAccessDto`): `sshCommand` (`ssh TOKEN@ssh.app.daytona.io`, or with `-p PORT`)
 * opens the sandbox's shell until `expiresAt`; the token is the SSH user name and the only credential, so the token
 * and the command that holds it are secret.
 *
 * @since 0.2.0
 */
export interface SshAccess {
  readonly id: string
  readonly sandboxId: string
  readonly token: Redacted.Redacted<string>
  readonly sshCommand: Redacted.Redacted<string>
  readonly expiresAt: Date
  readonly createdAt: Option.Option<Date>
}

/**
 * Whether an SSH access token is valid (it exists and has not expired), and the sandbox it opens.
 *
 * @since 0.2.0
 */
export interface SshAccessValidation {
  readonly valid: boolean
  readonly sandboxId: Option.Option<string>
}

/**
 * Why a Daytona API call failed.
 *
 * @since 0.1.0
 */
export type DaytonaApiErrorReason =
  | "NotFound"
  | "Unauthorized"
  | "Forbidden"
  | "RateLimited"
  | "Conflict"
  | "StateChangeInProgress"
  | "Timeout"
  | "Transient"
  | "Invalid"
  | "SandboxFailed"
  | "Unknown"

const advice: Record<DaytonaApiErrorReason, string> = {
  NotFound: "the sandbox (or resource) does not exist any more",
  Unauthorized: "check DAYTONA_API_KEY (run `effect-daytona doctor`)",
  Forbidden: "the key lacks the permission for this call, or the organization hit a limit",
  RateLimited: "Daytona is throttling requests; wait and try again",
  Conflict: "the resource exists already or is in a conflicting state",
  StateChangeInProgress: "another state change is under way; wait and read the state again",
  Timeout: "the call did not finish in time; check the network and Daytona's status",
  Transient: "a temporary failure of Daytona or the network; retrying usually helps",
  Invalid: "the request was rejected as invalid",
  SandboxFailed: "the sandbox landed in error or build_failed; see its error reason, recover or delete it",
  Unknown: "an unexpected response from Daytona"
}

/**
 * A failed Daytona API call. `reason` is the branch to take; the original cause is kept.
 *
 * @since 0.1.0
 * @category errors
 */
export class DaytonaApiError extends Data.TaggedError("DaytonaApiError")<{
  readonly reason: DaytonaApiErrorReason
  /** The operation, e.g. `DaytonaClient.create`. */
  readonly operation: string
  /** Daytona's own message (never contains the key). */
  readonly detail: string
  readonly status?: number | undefined
  /** For `RateLimited`: how long Daytona asked us to wait (`Retry-After`, or `Retry-After-<throttler>`). */
  readonly retryAfter?: Duration.Duration | undefined
  /** For `RateLimited`: which of Daytona's throttlers refused (`sandbox-create`, `authenticated`, …), when it said. */
  readonly throttler?: string | undefined
  readonly sandboxId?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    const sandbox = this.sandboxId === undefined ? "" : ` for sandbox ${this.sandboxId}`
    return `${this.operation} failed${sandbox}${status}: ${this.detail} — ${advice[this.reason]}`
  }
}

/**
 * More than one sandbox carries the same SID label: attaching would be a guess, so nothing is touched.
 *
 * @since 0.1.0
 * @category errors
 */
export class AmbiguousSandbox extends Data.TaggedError("AmbiguousSandbox")<{
  readonly sid: string
  readonly sandboxIds: ReadonlyArray<string>
}> {
  override get message(): string {
    return (
      `${this.sandboxIds.length} sandboxes carry the label OpenHands_SID=${this.sid} ` +
      `(${this.sandboxIds.join(", ")}): delete the extra ones (effect-daytona delete) or use another sid`
    )
  }
}

/**
 * Whether an error is a `DaytonaApiError` with one of the given reasons.
 *
 * @since 0.1.0
 */
export const isApiError =
  (...reasons: ReadonlyArray<DaytonaApiErrorReason>) =>
  (error: unknown): error is DaytonaApiError =>
    Predicate.isTagged(error, "DaytonaApiError") && reasons.includes((error as DaytonaApiError).reason)

/** The label carrying the runtime's SID, as OpenHands uses it. */
export const SID_LABEL = "OpenHands_SID"
/** The label naming the tool that created a sandbox, so a reaper can find what a crash left behind. */
export const OWNER_LABEL = "effect-daytona/owner"
/** The value of {@link OWNER_LABEL}. */
export const OWNER_VALUE = "effect-daytona"
/** When the sandbox was created (ISO 8601), so a reaper can tell its age. */
export const CREATED_AT_LABEL = "effect-daytona/created-at"
/** A label unique to one acquire, so a create that failed half-way can still be found and cleaned up. */
export const ACQUIRE_LABEL = "effect-daytona/acquire-id"

/**
 * The Daytona API, each call an Effect with typed errors. Every method has `R = never`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DaytonaClientService {
  /** Every sandbox carrying all the given labels (all pages). */
  readonly list: (labels: Readonly<Record<string, string>>) => Effect.Effect<ReadonlyArray<Sandbox>, DaytonaApiError>
  /** The sandbox of a SID: none, one, or `AmbiguousSandbox` for more than one. A failed lookup is an error. */
  readonly findBySid: (sid: string) => Effect.Effect<Option.Option<Sandbox>, DaytonaApiError | AmbiguousSandbox>
  /**
   * Creates a sandbox and waits until it is started. When the sandbox lands in `error` or
   * `build_failed` instead, fails with reason `SandboxFailed` (carrying `sandboxId` when known).
   */
  readonly create: (params: CreateSandboxParams) => Effect.Effect<Sandbox, DaytonaApiError>
  /** The current record of a sandbox, by id or name. */
  readonly get: (idOrName: string) => Effect.Effect<Sandbox, DaytonaApiError>
  /** Starts a sandbox and waits until it is started (`SandboxFailed` when it lands in `error`/`build_failed`). */
  readonly start: (id: string) => Effect.Effect<Sandbox, DaytonaApiError>
  /** Recovers a sandbox from a recoverable error and waits until it is started. */
  readonly recover: (id: string) => Effect.Effect<Sandbox, DaytonaApiError>
  /** Stops a sandbox and waits until it is stopped. */
  readonly stop: (id: string) => Effect.Effect<void, DaytonaApiError>
  /** Deletes a sandbox. */
  readonly delete: (id: string) => Effect.Effect<void, DaytonaApiError>
  /** Waits until a sandbox is started (`SandboxFailed` when it lands in `error`/`build_failed`). */
  readonly waitUntilStarted: (id: string) => Effect.Effect<Sandbox, DaytonaApiError>
  /** Waits until a sandbox is stopped (or gone). */
  readonly waitUntilStopped: (id: string) => Effect.Effect<void, DaytonaApiError>
  /** Replaces the sandbox's labels with `labels` (Daytona's `PUT /sandbox/{id}/labels`: every label, not a patch). */
  readonly setLabels: (id: string, labels: Readonly<Record<string, string>>) => Effect.Effect<void, DaytonaApiError>
  /** Resets the sandbox's inactivity timer, so auto-stop does not fire under a long agent turn. */
  readonly refreshActivity: (id: string) => Effect.Effect<void, DaytonaApiError>
  /** The preview link (URL and token) of a sandbox port. */
  readonly previewLink: (id: string, port: number) => Effect.Effect<PreviewLink, DaytonaApiError>
  /** A signed, expiring preview URL of a sandbox port. */
  readonly signedPreviewUrl: (
    id: string,
    port: number,
    expiresInSeconds: number
  ) => Effect.Effect<SignedPreviewUrl, DaytonaApiError>
  /** Creates a process session in the sandbox. */
  readonly createSession: (id: string, sessionId: string) => Effect.Effect<void, DaytonaApiError>
  /** Runs a command in a process session; with `runAsync` it returns at once with the command id. */
  readonly executeSessionCommand: (
    id: string,
    sessionId: string,
    command: string,
    options?: { readonly runAsync?: boolean | undefined; readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<SessionCommandResult, DaytonaApiError>
  /** The output so far of a session command. */
  readonly sessionCommandLogs: (
    id: string,
    sessionId: string,
    cmdId: string
  ) => Effect.Effect<SessionCommandLogs, DaytonaApiError>
  /**
   * Creates SSH access to a sandbox for `expiresInMinutes` (Daytona's default: 60); Daytona revokes the sandbox's
   * earlier SSH accesses. A lifetime that is not a positive number fails with `Invalid` before any request.
   */
  readonly createSshAccess: (id: string, expiresInMinutes?: number) => Effect.Effect<SshAccess, DaytonaApiError>
  /** Revokes one SSH access token of a sandbox, or every one of them without `token`. */
  readonly revokeSshAccess: (id: string, token?: Redacted.Redacted<string>) => Effect.Effect<void, DaytonaApiError>
  /**
   * Whether an SSH access token is valid, and its sandbox. The SDK reaches this call through a sandbox (`id`); the
   * answer is about the token, whichever sandbox it opens. Daytona answers it only to its SSH gateway's own key: with
   * an organization's API key it fails with `Forbidden` (403 "Invalid authentication context").
   */
  readonly validateSshAccess: (
    id: string,
    token: Redacted.Redacted<string>
  ) => Effect.Effect<SshAccessValidation, DaytonaApiError>
  /**
   * The organization's warm pools. An organization without the feature answers 404 (`NotFound`) to every warm-pool
   * call.
   */
  readonly listWarmPools: Effect.Effect<ReadonlyArray<WarmPool>, DaytonaApiError>
  /** Creates a warm pool; `Conflict` when the snapshot already has one in that region. */
  readonly createWarmPool: (params: CreateWarmPoolParams) => Effect.Effect<WarmPool, DaytonaApiError>
  /** Sets a warm pool's desired size (`0` drains it). */
  readonly updateWarmPool: (id: string, pool: number) => Effect.Effect<WarmPool, DaytonaApiError>
  /** Deletes a warm pool (and its ready sandboxes). */
  readonly deleteWarmPool: (id: string) => Effect.Effect<void, DaytonaApiError>
}

/**
 * The Daytona API service.
 *
 * @since 0.1.0
 * @category tags
 */
export class DaytonaClient extends Context.Tag("effect-daytona/DaytonaClient")<DaytonaClient, DaytonaClientService>() {}

/**
 * Daytona answers 400 or 409 with "State change in progress" while another transition runs.
 *
 * @since 0.1.0
 */
export const isStateChangeInProgressMessage = (status: number | undefined, message: string): boolean =>
  (status === 400 || status === 409) && /state change in progress/i.test(message)

/**
 * Classifies an HTTP status (and message) into a reason.
 *
 * @since 0.1.0
 */
export const reasonOfStatus = (status: number | undefined, message: string): DaytonaApiErrorReason => {
  if (status === undefined) return "Unknown"
  if (isStateChangeInProgressMessage(status, message)) return "StateChangeInProgress"
  switch (status) {
    case 401:
      return "Unauthorized"
    case 403:
      return "Forbidden"
    case 404:
    case 410:
      return "NotFound"
    case 408:
    case 504:
      return "Timeout"
    case 409:
      return "Conflict"
    case 429:
      return "RateLimited"
    case 500:
    case 502:
    case 503:
      return "Transient"
    default:
      return status >= 400 && status < 500 ? "Invalid" : status >= 500 ? "Transient" : "Unknown"
  }
}

/**
 * Parses a `Retry-After` header (seconds or an HTTP date) into a duration; `now` is epoch millis.
 *
 * @since 0.1.0
 */
export const parseRetryAfter = (value: string | undefined | null, now: number): Option.Option<Duration.Duration> => {
  if (value === undefined || value === null) return Option.none()
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Option.some(Duration.seconds(Number(text)))
  const date = Date.parse(text)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - now)))
}

/**
 * Checks an SSH access lifetime before any request: a positive number of minutes (Daytona's default is 60 and it has no
 * upper bound), else `Invalid`.
 *
 * @since 0.2.0
 */
export const checkSshExpiry = (
  id: string,
  expiresInMinutes: number | undefined
): Effect.Effect<void, DaytonaApiError> =>
  expiresInMinutes === undefined || (Number.isFinite(expiresInMinutes) && expiresInMinutes > 0)
    ? Effect.void
    : Effect.fail(
        new DaytonaApiError({
          reason: "Invalid",
          operation: "DaytonaClient.createSshAccess",
          sandboxId: id,
          detail: `expiresInMinutes must be a positive number of minutes, got ${expiresInMinutes}`
        })
      )
