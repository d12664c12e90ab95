/**
 * The protocol of OpenHands' action execution server (`/alive`, `/execute_action`, `/list_files`,
 * `/vscode/connection_token`, `/upload_file`, `/download_files`) as Effects with typed errors, and the actions and
 * observations it carries (their JSON is in `OpenHandsWire`).
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
    const hint = isPreviewAuthStatus(this.status)
      ? " — the preview proxy refused the preview token (Daytona redirects such a request to its login page); " +
        "a private sandbox gets a new token when it restarts: connect again to read a fresh preview link"
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
 * Whether a status from the preview proxy means "the preview token was refused": Daytona's proxy answers **307**,
 * a redirect to its login page, when no credential works (a client that follows it ends on an HTML page); a 401 is
 * what a proxy that does not redirect would say.
 *
 * @since 0.2.0
 */
export const isPreviewAuthStatus = (status: number): boolean => status === 307 || status === 401

/**
 * Whether the error is the preview proxy refusing the preview token ({@link isPreviewAuthStatus}).
 *
 * @since 0.2.0
 */
export const isPreviewTokenRefused = (error: ActionServerError): boolean =>
  error._tag === "HttpStatusError" && isPreviewAuthStatus(error.status)

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
 * What an edit does (the openhands-aci `str_replace_editor` commands).
 *
 * @since 0.1.0
 */
export type EditCommand = "view" | "create" | "str_replace" | "insert" | "undo_edit"

/**
 * Fields every action may carry.
 *
 * @since 0.1.0
 */
export interface ActionCommon {
  /**
   * The hard timeout (sent as the event's top-level `timeout`). Default 120 s, as OpenHands' `sandbox.timeout`;
   * the HTTP request waits this plus 5 s.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** The agent's reasoning, recorded with the action (`thought`). */
  readonly thought?: string | undefined
}

/**
 * An action for the server to carry out: every action a runtime client sends to OpenHands' action execution
 * server. Encoded exactly as OpenHands' `event_to_dict` does, in one place (`ActionServerWire`).
 *
 * @since 0.1.0
 */
export type Action = Data.TaggedEnum<{
  /**
   * `run` (`CmdRunAction`) in the server's one bash session: the current folder, variables and background jobs
   * persist. Without a `timeout` it is non-blocking with 120 s (it also returns once its output has not changed
   * for the server's no-change timeout, 10 s by default); with a `timeout` it is blocking unless `blocking` says
   * otherwise. A command that outlives its timeout keeps running. `isInput` sends `command` to the running
   * process instead (`""` reads more output, `"C-c"` interrupts). `isStatic` runs it in a new shell in `cwd`.
   */
  Run: ActionCommon & {
    readonly command: string
    readonly blocking?: boolean | undefined
    readonly isInput?: boolean | undefined
    readonly isStatic?: boolean | undefined
    readonly cwd?: string | undefined
    /** Marks the command and its observation hidden (not for the agent or the UI). */
    readonly hidden?: boolean | undefined
  }
  /** `run_ipython`: a Jupyter cell (needs the server's `jupyter` plugin). */
  RunIPython: ActionCommon & {
    readonly code: string
    /** Append the working folder and interpreter to the output (default true). */
    readonly includeExtra?: boolean | undefined
    readonly kernelInitCode?: string | undefined
  }
  /**
   * `read`: lines `start`..`end` (0-based, `end` exclusive, clamped as OpenHands' `read_lines` does; default the
   * whole file), relative to the shell's
   * current folder. Images, PDFs and videos come back as `data:` URLs. `implSource: "oh_aci"` reads through the
   * openhands-aci editor (`cat -n` style, 1-based `viewRange`).
   */
  Read: ActionCommon & {
    readonly path: string
    readonly start?: number | undefined
    readonly end?: number | undefined
    readonly implSource?: "default" | "oh_aci" | undefined
    readonly viewRange?: readonly [number, number] | undefined
  }
  /** `write`: writes the content as lines (OpenHands adds a final newline), creating missing folders. */
  Write: ActionCommon & {
    readonly path: string
    readonly content: string
    readonly start?: number | undefined
    readonly end?: number | undefined
  }
  /** `edit` through the openhands-aci `str_replace_editor`. The path must be absolute. */
  Edit: ActionCommon & {
    readonly path: string
    readonly command: EditCommand
    /** `create`: the whole file. */
    readonly fileText?: string | undefined
    /** `str_replace`: the text to replace (it must occur exactly once). */
    readonly oldStr?: string | undefined
    /** `str_replace` and `insert`: the new text. */
    readonly newStr?: string | undefined
    /** `insert`: the line after which `newStr` goes (0 = the top). */
    readonly insertLine?: number | undefined
  }
  /** `browse`: opens a URL in the server's browser (passed through; a server without one answers an error). */
  Browse: ActionCommon & { readonly url: string; readonly returnAxtree?: boolean | undefined }
  /** `browse_interactive`: BrowserGym actions (passed through). */
  BrowseInteractive: ActionCommon & {
    readonly browserActions: string
    readonly browsergymSendMsgToUser?: string | undefined
    readonly returnAxtree?: boolean | undefined
  }
}>

/**
 * Constructors and matchers for {@link Action}.
 *
 * @since 0.1.0
 */
export const Action = Data.taggedEnum<Action>()

/**
 * What the shell reported with a command's output (`CmdOutputMetadata`). `username`, `hostname`, `workingDir`
 * and `pyInterpreterPath` come from the prompt, so they are `null` when the command did not complete. `prefix`
 * and `suffix` are the server's notes around the output; the suffix says why the command returned.
 *
 * @since 0.1.0
 */
export interface RunMetadata {
  readonly exitCode: number
  readonly pid: number
  readonly username: string | null
  readonly hostname: string | null
  readonly workingDir: string | null
  readonly pyInterpreterPath: string | null
  readonly prefix: string
  readonly suffix: string
}

/**
 * Metadata with OpenHands' defaults (`exitCode` -1, nothing known), overridden by `fields`.
 *
 * @since 0.1.0
 */
export const runMetadata = (fields: Partial<RunMetadata> = {}): RunMetadata => ({
  exitCode: -1,
  pid: -1,
  username: null,
  hostname: null,
  workingDir: null,
  pyInterpreterPath: null,
  prefix: "",
  suffix: "",
  ...fields
})

/**
 * What the server observed after an action, every field kept. An observation kind this library does not know
 * is `Other`, with the JSON as it came.
 *
 * @since 0.1.0
 */
export type Observation = Data.TaggedEnum<{
  /** `run` (`CmdOutputObservation`). `exitCode` is `metadata.exitCode`: -1 while the command still runs. */
  Run: {
    readonly command: string
    readonly content: string
    readonly exitCode: number
    readonly metadata: RunMetadata
    readonly hidden: boolean
  }
  /** `run_ipython`. */
  RunIPython: { readonly code: string; readonly content: string; readonly imageUrls: ReadonlyArray<string> | null }
  Read: {
    readonly path: string
    readonly content: string
    readonly implSource: "default" | "oh_aci" | "llm_based_edit"
  }
  Write: { readonly path: string; readonly content: string }
  /** `edit`: `content` is the editor's answer (an `ERROR:` text when nothing was changed); `diff` a unified diff. */
  Edit: {
    readonly path: string
    readonly content: string
    readonly prevExist: boolean
    readonly oldContent: string | null
    readonly newContent: string | null
    readonly implSource: "default" | "oh_aci" | "llm_based_edit"
    readonly diff: string | null
  }
  /** `browse`: the browser's answer; `extras` holds every field as the server sent it. */
  Browse: {
    readonly url: string
    readonly content: string
    readonly triggerByAction: string
    readonly error: boolean
    readonly extras: Readonly<Record<string, unknown>>
  }
  /** `download`: a browse action downloaded a file. */
  Download: { readonly filePath: string; readonly content: string }
  /** The server could not carry the action out (bad path, …); its explanation is in `content`. */
  Error: { readonly content: string; readonly errorId: string }
  /** Any other observation kind, kept as it came (`raw` is the whole JSON body). */
  Other: { readonly observation: string; readonly content: string; readonly raw: unknown }
}>

/**
 * Constructors and matchers for {@link Observation}.
 *
 * @since 0.1.0
 */
export const Observation = Data.taggedEnum<Observation>()

/**
 * A file to upload into the sandbox (`POST /upload_file`).
 *
 * @since 0.1.0
 */
export interface UploadFile {
  /** The folder in the sandbox to put the file in: an absolute path (the server refuses others); created. */
  readonly destination: string
  readonly name: string
  readonly content: Uint8Array
  /**
   * Sent as `recursive`: the file must then be a `.zip`, unpacked into `destination`. (The server unpacks any
   * file whose name ends in `.zip`, recursive or not.)
   */
  readonly recursive?: boolean | undefined
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
  /** `POST /execute_action` (timeout: the action's own + 5 s, as OpenHands' client). */
  readonly execute: (endpoint: Endpoint, action: Action) => Effect.Effect<Observation, ActionServerError>
  /**
   * `POST /list_files` (timeout 10 s): the entries of a folder, folders first with a trailing `/`; a relative
   * path is relative to the server's working folder (not the shell's); the working folder by default.
   */
  readonly listFiles: (
    endpoint: Endpoint,
    path?: string | undefined
  ) => Effect.Effect<ReadonlyArray<string>, ActionServerError>
  /** `GET /vscode/connection_token` (timeout 10 s): none when the server has no VSCode token. */
  readonly vscodeToken: (
    endpoint: Endpoint
  ) => Effect.Effect<Option.Option<Redacted.Redacted<string>>, ActionServerError>
  /** `POST /upload_file` (timeout 300 s): copies a file into the sandbox. */
  readonly uploadFile: (endpoint: Endpoint, file: UploadFile) => Effect.Effect<void, ActionServerError>
  /** `GET /download_files?path=` (timeout 30 s): a folder (absolute path) of the sandbox as zip bytes. */
  readonly downloadFiles: (endpoint: Endpoint, path: string) => Effect.Effect<Uint8Array, ActionServerError>
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
