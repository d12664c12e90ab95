/**
 * The emulator's sandbox record and the wire shapes the Daytona API and toolbox daemon answer with:
 * `Sandbox`, `SandboxListItem`, and the two error bodies (NestJS's for the API, the daemon's `ErrorResponse`
 * for the toolbox).
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Redacted } from "effect"
import type { Duration } from "effect"
import { STATUS_CODES } from "node:http"

/**
 * One sandbox as the emulator keeps it (immutable; replaced on every change).
 *
 * @since 0.1.0
 */
export interface SandboxRecord {
  readonly id: string
  readonly name: string
  readonly snapshot: string
  readonly user: string
  readonly env: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly public: boolean
  readonly target: string
  readonly cpu: number
  readonly gpu: number
  readonly memory: number
  readonly disk: number
  readonly autoStopInterval: number
  readonly autoArchiveInterval: number
  readonly autoDeleteInterval: number
  readonly state: string
  readonly desiredState: string
  readonly errorReason: string | undefined
  readonly recoverable: boolean
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly lastActivityAt: Date
  /** The standard preview token; replaced on every start. */
  readonly previewToken: Redacted.Redacted<string>
  /** Sandbox port → host loopback port, allocated once per sandbox and kept across restarts. */
  readonly hostPorts: ReadonlyMap<number, number>
  /** The sandbox's host folder (`<dataDir>/sandboxes/<id>`), its `/` and `$HOME`. */
  readonly dir: string
  /** Set while the sandbox waits, unclaimed, in a warm pool (it belongs to no organization then). */
  readonly warmPoolId?: string | undefined
  /** The warm pool a create claimed this sandbox from (Daytona does not show it in the DTO). */
  readonly claimedFromPool?: string | undefined
  /** Built from a declarative image (`buildInfo`) instead of a snapshot. */
  readonly buildInfo?: Readonly<Record<string, unknown>> | undefined
}

/**
 * A request that fails with an HTTP status. Rendered in the body shape of the surface that answers
 * (API, toolbox or preview proxy).
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpFailure extends Data.TaggedError("HttpFailure")<{
  readonly status: number
  /** A string, or NestJS-style validation messages (the API joins them with ", "). */
  readonly detail: string | ReadonlyArray<string>
  /** The daemon's error code (toolbox only), e.g. `PROCESS_NOT_FOUND`. */
  readonly code?: string | undefined
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}> {
  override get message(): string {
    return typeof this.detail === "string" ? this.detail : this.detail.join("; ")
  }
}

/** The reason phrase of a status, e.g. `Not Found`. */
export const reasonPhrase = (status: number): string => STATUS_CODES[status] ?? `HTTP ${status}`

/**
 * The body of an API error, as Daytona's NestJS `AllExceptionsFilter` writes it: `path` is the request URL with
 * its query string, and `message` is always a string (validation messages joined with ", ").
 *
 * @since 0.1.0
 */
export const apiErrorBody = (status: number, detail: string | ReadonlyArray<string>, path: string) => ({
  path,
  timestamp: new Date().toISOString(),
  statusCode: status,
  error: reasonPhrase(status),
  message: typeof detail === "string" ? detail : detail.join(", ")
})

/** The daemon error code that goes with a status when no specific one is given. */
const defaultDaemonCode = (status: number): string => {
  switch (status) {
    case 400:
      return "BAD_REQUEST"
    case 401:
      return "UNAUTHORIZED"
    case 403:
      return "FORBIDDEN"
    case 404:
      return "NOT_FOUND"
    case 408:
      return "REQUEST_TIMEOUT"
    case 409:
      return "CONFLICT"
    case 410:
      return "GONE"
    case 422:
      return "UNPROCESSABLE_ENTITY"
    default:
      return "INTERNAL_SERVER_ERROR"
  }
}

/**
 * The body of a toolbox error: the daemon's `ErrorResponse`.
 *
 * @since 0.1.0
 */
export const daemonErrorBody = (
  status: number,
  detail: string | ReadonlyArray<string>,
  path: string,
  method: string,
  code?: string
) => ({
  message: typeof detail === "string" ? detail : detail.join("; "),
  statusCode: status,
  code: code ?? defaultDaemonCode(status),
  source: "DAYTONA_DAEMON",
  path,
  method,
  timestamp: new Date().toISOString()
})

/**
 * The body of an error of Daytona's proxy and runner (common-go's `ErrorResponse`), for the preview surface.
 *
 * @since 0.1.0
 */
export const proxyErrorBody = (
  status: number,
  detail: string | ReadonlyArray<string>,
  path: string,
  method: string,
  code?: string
) => ({
  statusCode: status,
  message: typeof detail === "string" ? detail : detail.join(", "),
  code: code ?? reasonPhrase(status).toUpperCase().replace(/ /g, "_"),
  timestamp: new Date().toISOString(),
  path,
  method
})

/** Fields shared by `Sandbox` and `SandboxListItem`. */
const common = (record: SandboxRecord, organizationId: string, toolboxProxyUrl: string) => ({
  id: record.id,
  organizationId,
  name: record.name,
  ...(record.snapshot === "" ? {} : { snapshot: record.snapshot }),
  user: record.user,
  labels: { ...record.labels },
  public: record.public,
  networkBlockAll: false,
  target: record.target,
  cpu: record.cpu,
  gpu: record.gpu,
  spot: false,
  memory: record.memory,
  disk: record.disk,
  state: record.state,
  desiredState: record.desiredState,
  ...(record.errorReason === undefined ? {} : { errorReason: record.errorReason }),
  recoverable: record.recoverable,
  ...(record.warmPoolId === undefined ? {} : { warmPoolId: record.warmPoolId }),
  backupState: "None",
  autoStopInterval: record.autoStopInterval,
  autoArchiveInterval: record.autoArchiveInterval,
  autoDeleteInterval: record.autoDeleteInterval,
  createdAt: record.createdAt.toISOString(),
  updatedAt: record.updatedAt.toISOString(),
  lastActivityAt: record.lastActivityAt.toISOString(),
  sandboxClass: "container",
  daemonVersion: "emulator",
  runnerId: "emulator-runner",
  toolboxProxyUrl
})

/**
 * The full `Sandbox` DTO (every schema-required field, plus the optional ones the SDK reads).
 *
 * @since 0.1.0
 */
export const toSandboxDto = (record: SandboxRecord, organizationId: string, toolboxProxyUrl: string) => ({
  ...common(record, organizationId, toolboxProxyUrl),
  env: { ...record.env },
  volumes: []
})

/**
 * The `SandboxListItem` DTO: the `Sandbox` without `env` (so the SDK keeps full-DTO-only fields as they are).
 *
 * @since 0.1.0
 */
export const toListItem = (record: SandboxRecord, organizationId: string, toolboxProxyUrl: string) =>
  common(record, organizationId, toolboxProxyUrl)

/**
 * How long each transition takes.
 *
 * @since 0.1.0
 */
export interface Latencies {
  readonly create: Duration.DurationInput
  readonly start: Duration.DurationInput
  readonly stop: Duration.DurationInput
  readonly delete: Duration.DurationInput
  readonly recover: Duration.DurationInput
  /** `archiving` → `archived` (the restore of an archived sandbox takes `start`). */
  readonly archive?: Duration.DurationInput | undefined
}

/**
 * The default latencies: short enough for fast tests, long enough that clients see `creating`, `starting`,
 * `stopping` and `destroying` and have to poll.
 *
 * @since 0.1.0
 */
export const defaultLatencies: Latencies = {
  create: "30 millis",
  start: "30 millis",
  stop: "20 millis",
  delete: "20 millis",
  recover: "30 millis",
  archive: "20 millis"
}

/**
 * The body of a create request, already validated.
 *
 * @since 0.1.0
 */
export interface CreateInput {
  readonly name?: string | undefined
  readonly snapshot?: string | undefined
  readonly user?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly public?: boolean | undefined
  readonly target?: string | undefined
  readonly cpu?: number | undefined
  readonly gpu?: number | undefined
  readonly memory?: number | undefined
  readonly disk?: number | undefined
  readonly autoStopInterval?: number | undefined
  readonly autoArchiveInterval?: number | undefined
  readonly autoDeleteInterval?: number | undefined
  /** A declarative build (the SDK's `image:`): the sandbox has no snapshot and goes through `pending_build`. */
  readonly buildInfo?: Readonly<Record<string, unknown>> | undefined
  /** Volumes, secrets or a linked sandbox were asked for: a warm pool never serves such a create. */
  readonly customized?: boolean | undefined
}

/** The transitional states a hold can keep a sandbox in. */
export type HoldState = "starting" | "stopping" | "creating"

/**
 * How the built-in action servers behave (for servers started from then on).
 *
 * @since 0.1.0
 */
export interface ActionServerBehaviour {
  /** How long a server takes to bind after its launch command. */
  readonly bootDelay: Duration.DurationInput
  /** The first N requests answer 502. */
  readonly badGatewayBurst: number
  /** The token `GET /vscode/connection_token` answers. */
  readonly vscodeToken: string
}

/**
 * A new sandbox record (state `unknown`) from a create request, with the API's defaults.
 *
 * @since 0.1.0
 */
export const newRecord = (
  input: CreateInput,
  fresh: {
    readonly id: string
    readonly name: string
    readonly dir: string
    readonly at: Date
    readonly target: string
    readonly token: Redacted.Redacted<string>
  }
): SandboxRecord => ({
  id: fresh.id,
  name: fresh.name,
  snapshot: input.buildInfo === undefined ? (input.snapshot ?? DEFAULT_SNAPSHOT) : "",
  user: input.user ?? "daytona",
  env: { ...input.env },
  labels: { ...input.labels },
  public: input.public ?? false,
  target: input.target ?? fresh.target,
  cpu: input.cpu ?? 1,
  gpu: input.gpu ?? 0,
  memory: input.memory ?? 1,
  disk: input.disk ?? 3,
  autoStopInterval: input.autoStopInterval ?? 15,
  autoArchiveInterval: input.autoArchiveInterval ?? 10080,
  autoDeleteInterval: input.autoDeleteInterval ?? -1,
  // Daytona inserts a sandbox in `unknown`; its manager then moves it to `creating`.
  state: "unknown",
  desiredState: "started",
  errorReason: undefined,
  recoverable: false,
  createdAt: fresh.at,
  updatedAt: fresh.at,
  lastActivityAt: fresh.at,
  previewToken: fresh.token,
  hostPorts: new Map(),
  dir: fresh.dir,
  buildInfo: input.buildInfo
})

/**
 * The snapshot a create without one gets (Daytona's `defaultSnapshot`), listed by `GET /api/snapshots`.
 *
 * @since 0.1.0
 */
export const DEFAULT_SNAPSHOT = "daytonaio/sandbox:emulator"
