/**
 * The protocol of OpenHands' action execution server (`/alive`, `/execute_action`, `/list_files`,
 * `/vscode/connection_token`, `/upload_file`) as Effects with typed errors.
 *
 * @since 0.1.0
 */
import { Context, Data, Duration, Predicate } from "effect"
import type { Effect, Option, Redacted } from "effect"

/**
 * Nothing listens at the server's address yet (ECONNREFUSED).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionRefused extends Data.TaggedError("ConnectionRefused")<{
  readonly url: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Connection refused by ${this.url}: the action execution server is not listening (yet)`
  }
}

/**
 * The server (or the preview proxy in front of it) answered with a non-2xx status.
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpStatusError extends Data.TaggedError("HttpStatusError")<{
  readonly url: string
  readonly status: number
  readonly detail?: string | undefined
}> {
  override get message(): string {
    const hint =
      this.status === 401
        ? " — the preview token was refused (a private sandbox needs a fresh token after a restart)"
        : this.status === 403
          ? " — the session API key was refused"
          : this.status === 502
            ? " — nothing answered behind the preview proxy"
            : ""
    const detail = this.detail === undefined || this.detail === "" ? "" : `: ${this.detail}`
    return `${this.url} answered HTTP ${this.status}${detail}${hint}`
  }
}

/**
 * The request did not complete within its timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeout extends Data.TaggedError("RequestTimeout")<{
  readonly url: string
  readonly timeout?: Duration.DurationInput | undefined
}> {
  override get message(): string {
    const after = this.timeout === undefined ? "" : ` after ${Duration.format(Duration.decode(this.timeout))}`
    return `The request to ${this.url} timed out${after}`
  }
}

/**
 * The connection failed for another reason (reset, DNS, TLS, socket closed mid-response).
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly url: string
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The request to ${this.url} failed: ${this.detail ?? "transport error"}`
  }
}

/**
 * The server answered 2xx with a body that is not what the protocol says.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly url: string
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The response of ${this.url} could not be read: ${this.detail ?? "unexpected body"}`
  }
}

/**
 * Every way a request to the action execution server can fail.
 *
 * @since 0.1.0
 * @category errors
 */
export type ActionServerError = ConnectionRefused | HttpStatusError | RequestTimeout | TransportError | DecodeError

const actionServerErrorTags: ReadonlyArray<ActionServerError["_tag"]> = [
  "ConnectionRefused",
  "HttpStatusError",
  "RequestTimeout",
  "TransportError",
  "DecodeError"
]

/**
 * Whether a value is an {@link ActionServerError}.
 *
 * @since 0.1.0
 */
export const isActionServerError = (u: unknown): u is ActionServerError =>
  Predicate.hasProperty(u, "_tag") && actionServerErrorTags.includes(u._tag as ActionServerError["_tag"])

/**
 * Where a runtime's action server is, and the secrets every request carries.
 *
 * @since 0.1.0
 */
export interface Endpoint {
  /** The action server's base URL (the preview link of the sandbox port). */
  readonly url: string
  /** Sent as `X-Session-API-Key` on every request. */
  readonly sessionApiKey: Redacted.Redacted<string>
  /** For a private sandbox: sent as `X-Daytona-Preview-Token` on every request. */
  readonly previewToken: Option.Option<Redacted.Redacted<string>>
}

/**
 * An action for the server to carry out.
 *
 * @since 0.1.0
 */
export type Action = Data.TaggedEnum<{
  /** Run a shell command; `timeout` bounds the command (default 120 s). */
  Run: { readonly command: string; readonly timeout?: Duration.DurationInput | undefined }
  /** Read a file (an absolute path, or relative to the workspace). */
  Read: { readonly path: string }
  /** Write a file, creating its folders. */
  Write: { readonly path: string; readonly content: string }
}>

/**
 * Constructors and matchers for {@link Action}.
 *
 * @since 0.1.0
 */
export const Action = Data.taggedEnum<Action>()

/**
 * What the server observed after an action.
 *
 * @since 0.1.0
 */
export type Observation = Data.TaggedEnum<{
  Run: { readonly command: string; readonly content: string; readonly exitCode: number }
  Read: { readonly path: string; readonly content: string }
  Write: { readonly path: string; readonly content: string }
  /** The server could not carry the action out (bad path, …); its explanation is in `content`. */
  Error: { readonly content: string }
  /** Any other observation kind, kept as it came. */
  Other: { readonly observation: string; readonly content: string }
}>

/**
 * Constructors and matchers for {@link Observation}.
 *
 * @since 0.1.0
 */
export const Observation = Data.taggedEnum<Observation>()

/**
 * A file to upload into the sandbox.
 *
 * @since 0.1.0
 */
export interface UploadFile {
  /** The folder in the sandbox to put the file in. */
  readonly destination: string
  readonly name: string
  readonly content: Uint8Array
}

/**
 * The action server client. Every method has `R = never`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActionServerService {
  /** `GET /alive`: succeeds on 200 (timeout 5 s). */
  readonly alive: (endpoint: Endpoint) => Effect.Effect<void, ActionServerError>
  /** `POST /execute_action` (timeout: the action's own + 5 s). */
  readonly execute: (endpoint: Endpoint, action: Action) => Effect.Effect<Observation, ActionServerError>
  /** `POST /list_files`: the entries of a folder (the workspace by default). */
  readonly listFiles: (
    endpoint: Endpoint,
    path?: string | undefined
  ) => Effect.Effect<ReadonlyArray<string>, ActionServerError>
  /** `GET /vscode/connection_token`: none when the server has no VSCode token. */
  readonly vscodeToken: (
    endpoint: Endpoint
  ) => Effect.Effect<Option.Option<Redacted.Redacted<string>>, ActionServerError>
  /** `POST /upload_file`: copies a file into the sandbox. */
  readonly uploadFile: (endpoint: Endpoint, file: UploadFile) => Effect.Effect<void, ActionServerError>
}

/**
 * The action server client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class ActionServer extends Context.Tag("effect-daytona/ActionServer")<ActionServer, ActionServerService>() {}

/** The header carrying the runtime's session key. */
export const SESSION_KEY_HEADER = "x-session-api-key"
/** The header carrying a private sandbox's preview token. */
export const PREVIEW_TOKEN_HEADER = "x-daytona-preview-token"
