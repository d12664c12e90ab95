/**
 * A local, loopback-only Daytona: the real `@daytonaio/sdk` talks to it unchanged
 * (`new Daytona({ apiKey, apiUrl, target, useDeprecatedPolling: true })`). It serves the API subset of the
 * sandbox lifecycle, the toolbox daemon's routes (files, one-off execution, sessions with one shell each, logs by SDK
 * version and over WebSocket; real processes, isolated, in a per-sandbox folder), preview links
 * and a preview proxy, and the built-in action execution server of its default snapshot; an
 * {@link EmulatorControl} inspects it and injects faults.
 *
 * Defaults: latencies create 30 ms, start 30 ms, stop 20 ms, delete 20 ms, recover 30 ms (0 makes create, start
 * and recover answer `started` at once); action servers boot in 200 ms with no 502 burst; preview mode `proxy`;
 * action servers in-process; target `us`; auto-stop in real minutes.
 *
 * It serves Daytona's Socket.IO events at `/api/socket.io/` (the SDK's default mode waits on them), gives every
 * preview (sandbox, port) and every signed preview URL its own loopback origin, runs the auto-stop, auto-archive
 * and auto-delete jobs in one loop, keeps warm pools and SSH access tokens, and can enforce Daytona's rate limits.
 *
 * Differences from Daytona worth knowing: signed preview URLs always go through the emulator's proxy, also in
 * `direct` mode; servers launched in `child` mode get the boot delay, the 502 burst and the VSCode token but no
 * injected `action.*` faults; there is no login behind the proxy's 307 (the login page answers 400).
 *
 * With `actionServerCommand` a launch of the action execution server runs that command instead of the built-in
 * server (e.g. the real OpenHands server), on the host.
 *
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { CommandExecutor, HttpClient, HttpRouter } from "@effect/platform"
import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Context, Data, Effect, Either, Layer, Option, Redacted, Ref } from "effect"
import type { Duration, Scope } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { chmodSync, existsSync, statSync } from "node:fs"
import * as Http from "node:http"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { DaytonaConfig } from "../services/DaytonaConfig.js"
import { shellWords } from "./ActionLaunch.js"
import type { RunningActionServer } from "./ActionServerApp.js"
import { apiRouter } from "./ApiRoutes.js"
import { makeCatalog } from "./Catalog.js"
import { defaultLatencies, toSandboxDto } from "./Dto.js"
import type { ActionServerBehaviour, Latencies } from "./Dto.js"
import { makeFaultQueue } from "./Faults.js"
import type { EmulatorRoute, Fault } from "./Faults.js"
import { json, makeGuard, makeRequestLog } from "./Handler.js"
import * as Isolation from "./Isolation.js"
import type { IsolationMode } from "./Isolation.js"
import type { RequestLogEntry } from "./Handler.js"
import { makePreview } from "./Preview.js"
import { runJobs } from "./Jobs.js"
import { makeRateLimits } from "./RateLimits.js"
import type { RateLimitsConfig } from "./RateLimits.js"
import { makeSessions } from "./Sessions.js"
import { attachSocketEvents } from "./SocketEvents.js"
import type { SocketStats } from "./SocketEvents.js"
import { sshCommand } from "./SshAccess.js"
import type { SshAccessGrant } from "./SshAccess.js"
import * as SshServer from "./SshServer.js"
import { makeStore } from "./Store.js"
import { makeWarmPools } from "./WarmPools.js"
import type { WarmPoolRequest, WarmPoolView } from "./WarmPools.js"
import { liveGroups } from "./Toolbox.js"
import { toolboxRouter } from "./ToolboxRoutes.js"

export { Fault } from "./Faults.js"
export type { EmulatorRoute } from "./Faults.js"
export type { ActionServerBehaviour, Latencies } from "./Dto.js"
export type { RequestLogEntry } from "./Handler.js"
export type { RateLimitsConfig, ThrottlerLimit, ThrottlerName } from "./RateLimits.js"
export type { SocketStats } from "./SocketEvents.js"
export type { SshAccessGrant } from "./SshAccess.js"
export type { WarmPoolRequest, WarmPoolView } from "./WarmPools.js"

/**
 * A sandbox as the control sees it.
 *
 * @since 0.1.0
 */
export interface EmulatorSandbox {
  readonly id: string
  readonly name: string
  readonly state: string
  readonly labels: Readonly<Record<string, string>>
  readonly public: boolean
  readonly createdAt: Date
  readonly desiredState: string
  /** The warm pool a create claimed the sandbox from (Daytona's DTO does not show it once claimed). */
  readonly claimedFromWarmPool: string | undefined
}

/**
 * How to run the emulator. Everything is optional.
 *
 * @since 0.1.0
 */
export interface EmulatorOptions {
  /** 0 (default) = any free port. */
  readonly port?: number | undefined
  /** Default: a random `emu_` + 32 hex digits. */
  readonly apiKey?: string | undefined
  /**
   * `proxy` (default): each preview (sandbox, port) is its own origin `http://127.0.0.1:P`, an emulator listener
   * with Daytona's proxy auth; `direct`: straight at the server's host port.
   */
  readonly previewMode?: "direct" | "proxy" | undefined
  /** `in-process` (default) or `child` (a real `node ActionServerMain.js` process; needs `npm run build`). */
  readonly actionServerMode?: "in-process" | "child" | undefined
  /**
   * Run this command instead of the built-in action server when a session command launches
   * `openhands.runtime.action_execution_server PORT …`: `CMD <hostPort> <the launch's arguments after the port>`,
   * with the sandbox's host workspace folder as `--working-dir` and the sandbox env (`SESSION_API_KEY`
   * included); its output is the session command's output and it ends (process group) with the session. E.g.
   * the real OpenHands server: `../shared/openhands-server/serve`. A relative path is taken from the current
   * folder. The boot delay, 502 burst, VSCode token and `action.*` faults do not apply to it. The data folder is
   * made traversable (`o+x`), as the real server's shell runs as another user.
   */
  readonly actionServerCommand?: string | undefined
  readonly latencies?: Partial<Latencies> | undefined
  /** Default: boot delay 200 ms, no 502 burst, a random VSCode token. */
  readonly actionServer?: Partial<ActionServerBehaviour> | undefined
  /**
   * 1 (default) = real minutes for auto-stop, auto-archive and auto-delete (the job loop ticks every 10 s scaled the
   * same way); 0.001 makes 60 minutes about 3.6 s.
   */
  readonly autoStopTimeScale?: number | undefined
  /** Default: a fresh temporary folder, removed when the emulator stops. */
  readonly dataDir?: string | undefined
  /** Default `us`: the target of sandboxes created without one, and of the provided `DaytonaConfig`. */
  readonly target?: string | undefined
  /** Copied into the provided `DaytonaConfig`. */
  readonly public?: boolean | undefined
  readonly deleteOnClose?: boolean | undefined
  readonly disableAutoStop?: boolean | undefined
  /**
   * Without bubblewrap, run sandbox commands unisolated — as your own user on this machine's filesystem — instead of
   * refusing to start (default false). With bubblewrap present, sandboxes are isolated either way.
   */
  readonly unsafeHostProcesses?: boolean | undefined
  /** Whether the organization has warm pools (`/api/warm-pools`); default true. */
  readonly warmPools?: boolean | undefined
  /** Daytona's throttlers to enforce (none by default), e.g. `{ "sandbox-create": { limit: 300, ttlSeconds: 60 } }`. */
  readonly rateLimits?: RateLimitsConfig | undefined
  /** Shorthand for `rateLimits["sandbox-create"]`: at most this many creates per minute. */
  readonly createsPerMinute?: number | undefined
  /** Regions besides `us`, `eu` and `target` (a create with another target gets 404 "Region not found"). */
  readonly regions?: ReadonlyArray<string> | undefined
  /** Snapshot names a create may use besides the default one (others get 400 "Snapshot X not found…"). */
  readonly snapshots?: ReadonlyArray<string> | undefined
  /** `host:port` of the SSH gateway, shown in the `sshCommand` of an SSH access; default `127.0.0.1:2222`. */
  readonly sshGatewayUrl?: string | undefined
  /**
   * How long create, start and recover wait for `started` before answering with the sandbox as it is (Daytona's
   * controller: 30 s, the default). A shorter wait simulates a start slower than Daytona's: the client then gets
   * `creating`/`starting` and waits itself.
   */
  readonly startWait?: Duration.DurationInput | undefined
  /**
   * Serve SSH on 127.0.0.1 (default true): `ssh -p <sshPort> <token>@127.0.0.1` opens the shell of the sandbox an SSH
   * access token names, as Daytona's SSH gateway does.
   */
  readonly ssh?: boolean | undefined
  /** The SSH port; 0 (default) = any free port. */
  readonly sshPort?: number | undefined
}

/**
 * Inspection and fault injection for a running emulator.
 *
 * @since 0.1.0
 */
export interface EmulatorControlService {
  /** `http://127.0.0.1:PORT/api`. */
  readonly apiUrl: string
  /** The API key in force. */
  readonly apiKey: Redacted.Redacted<string>
  /** Every sandbox not yet destroyed. */
  readonly sandboxes: Effect.Effect<ReadonlyArray<EmulatorSandbox>>
  /** The next `times` (default 1) requests of the route get the fault. */
  readonly inject: (route: EmulatorRoute, fault: Fault, times?: number) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  readonly setLatencies: (latencies: Partial<Latencies>) => Effect.Effect<void>
  /** For action servers started from now on. */
  readonly setActionServer: (behaviour: Partial<ActionServerBehaviour>) => Effect.Effect<void>
  readonly setSandboxState: (
    id: string,
    state: string,
    options?: { readonly errorReason?: string; readonly recoverable?: boolean }
  ) => Effect.Effect<void, EmulatorError>
  /** Keeps a sandbox (or the next created one) in a transitional state for `duration`, then lets it settle. */
  readonly holdState: (
    id: string | "next-create",
    state: "starting" | "stopping" | "creating",
    duration: Duration.DurationInput
  ) => Effect.Effect<void>
  /** Rotates the API key: the old one gets 401 from then on. */
  readonly setApiKey: (key: string) => Effect.Effect<void>
  /** Replaces the sandbox's preview token, as a restart does: the old token gets 401. */
  readonly resetPreviewTokens: (id: string) => Effect.Effect<void, EmulatorError>
  /** The API and toolbox requests so far. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>>
  readonly resetRequests: Effect.Effect<void>
  /** OS process groups and in-process action servers still running. */
  readonly liveProcesses: Effect.Effect<number>
  /** How sandbox processes are isolated: `bubblewrap`, or `host` (unisolated, only when asked). */
  readonly isolation: IsolationMode
  /** Socket.IO clients of the event gateway. */
  readonly socketClients: Effect.Effect<SocketStats>
  /** Preview origins (loopback listeners) open. */
  readonly previewOrigins: Effect.Effect<number>
  /**
   * What the SSH server asks for a login token: its sandbox and OS user when the token is known, unexpired and the
   * sandbox exists (tokens come from `POST /api/sandbox/{id}/ssh-access`).
   */
  readonly validateSshToken: (
    token: string
  ) => Effect.Effect<Option.Option<{ readonly sandboxId: string; readonly user: string }>>
  /** The SSH gateway's API key: `GET /api/sandbox/ssh-access/validate` accepts only it, as Daytona does. */
  readonly sshGatewayApiKey: Redacted.Redacted<string>
  /** Where the SSH gateway listens (`host:port`), for the `sshCommand` of new SSH accesses. */
  readonly setSshGatewayUrl: (url: string) => Effect.Effect<void>
  /** Replaces the enforced throttlers (and resets their counters). */
  readonly setRateLimits: (config: RateLimitsConfig) => Effect.Effect<void>
  /** The SSH endpoint's port on 127.0.0.1; undefined with `ssh: false`. */
  readonly sshPort: number | undefined
  /**
   * Creates a warm pool as `POST /api/warm-pools` does, and also with an `env` or an OS user (which Daytona's own,
   * admin-made pools may have and the API cannot set). Fails when the organization has no warm pools.
   */
  readonly createWarmPool: (request: WarmPoolRequest) => Effect.Effect<WarmPoolView, EmulatorError>
  /** SSH access tokens of sandboxes, as Daytona's `ssh-access` routes manage them. */
  readonly sshAccess: {
    /** A token valid for `expiresInMinutes` (default 60); the sandbox's earlier tokens stop working. */
    readonly create: (idOrName: string, expiresInMinutes?: number) => Effect.Effect<SshAccessGrant, EmulatorError>
    /** Revokes one token of the sandbox, or every one without `token`. */
    readonly revoke: (idOrName: string, token?: string) => Effect.Effect<void, EmulatorError>
  }
}

/**
 * The emulator control service.
 *
 * @since 0.1.0
 * @category tags
 */
export class EmulatorControl extends Context.Tag("effect-daytona/EmulatorControl")<
  EmulatorControl,
  EmulatorControlService
>() {}

/**
 * The emulator could not start (or a control call named a sandbox it does not have).
 *
 * @since 0.1.0
 * @category errors
 */
export class EmulatorError extends Data.TaggedError("EmulatorError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/** The compiled child-process entry: beside this module, or under dist/ when running from src/. */
const actionServerMain = (): Option.Option<string> => {
  const here = NodePath.dirname(fileURLToPath(import.meta.url))
  const candidates = [
    NodePath.join(here, "ActionServerMain.js"),
    NodePath.join(here.replace(/([\\/])src([\\/])emulator$/, "$1dist$2emulator"), "ActionServerMain.js")
  ]
  return Option.fromNullable(candidates.find((path) => existsSync(path)))
}

const platform = Layer.mergeAll(NodeContext.layer, NodeHttpClient.layer)

/**
 * The external action server command, its program made absolute when it is a relative path (sandbox commands
 * run in the sandbox's folder); a program given as a path must exist.
 */
const resolveCommand = (command: string | undefined): Effect.Effect<Option.Option<string>, EmulatorError> =>
  Effect.suspend(() => {
    if (command === undefined) return Effect.succeedNone
    const trimmed = command.trim()
    if (trimmed === "") {
      return Effect.fail(new EmulatorError({ reason: "actionServerCommand is empty: give the command to run" }))
    }
    const [program = "", ...rest] = shellWords(trimmed)
    if (!program.includes("/")) return Effect.succeed(Option.some(trimmed))
    const absolute = NodePath.resolve(program)
    if (!existsSync(absolute)) {
      return Effect.fail(
        new EmulatorError({
          reason: `actionServerCommand: ${absolute} does not exist (give the path of the server command)`
        })
      )
    }
    const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)
    return Effect.succeed(Option.some([absolute, ...rest].map(quote).join(" ")))
  })

/**
 * Starts an emulator on 127.0.0.1. Closing the scope ends every sandbox process, action server, Socket.IO client,
 * preview listener, the HTTP server and (unless `dataDir` was given) the data folder.
 *
 * @since 0.1.0
 */
export const make = (
  options: EmulatorOptions = {}
): Effect.Effect<EmulatorControlService, EmulatorError, Scope.Scope> =>
  Effect.gen(function* () {
    const port = options.port ?? 0
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* new EmulatorError({ reason: `port must be a whole number from 0 to 65535 (0 = any), got ${port}` })
    }
    const sshPort = options.sshPort ?? 0
    if (!Number.isInteger(sshPort) || sshPort < 0 || sshPort > 65535) {
      return yield* new EmulatorError({
        reason: `sshPort must be a whole number from 0 to 65535 (0 = any), got ${sshPort}`
      })
    }
    const scale = options.autoStopTimeScale ?? 1
    if (!(scale > 0 && Number.isFinite(scale))) {
      return yield* new EmulatorError({
        reason: `autoStopTimeScale must be a positive number (1 = real minutes), got ${scale}`
      })
    }
    const context = yield* Layer.build(platform)
    const fs = Context.get(context, FileSystem.FileSystem)
    const dataDir = yield* (
      options.dataDir === undefined
        ? fs.makeTempDirectoryScoped({ prefix: "effect-daytona-emulator-" })
        : Effect.as(fs.makeDirectory(options.dataDir, { recursive: true }), options.dataDir)
    ).pipe(
      Effect.mapError(
        (cause) => new EmulatorError({ reason: `Cannot create the emulator's data folder: ${cause.message}`, cause })
      )
    )
    const actionServerMode = options.actionServerMode ?? "in-process"
    const mainPath = actionServerMain()
    if (actionServerMode === "child" && Option.isNone(mainPath)) {
      return yield* new EmulatorError({
        reason: "actionServerMode child needs the compiled dist/emulator/ActionServerMain.js: run `npm run build` first"
      })
    }

    const actionServerCommand = yield* resolveCommand(options.actionServerCommand)
    if (Option.isSome(actionServerCommand)) {
      // The real server runs its shell as another user (openhands, 1000): it must be able to reach the workspace.
      yield* Effect.sync(() => chmodSync(dataDir, statSync(dataDir).mode | 0o711))
    }

    const server = Http.createServer()
    const httpServer = yield* NodeHttpServer.make(() => server, { port, host: "127.0.0.1" }).pipe(
      Effect.mapError(
        (error) =>
          new EmulatorError({
            reason: `The emulator cannot listen on 127.0.0.1:${port} (${String(error.cause)}): pick another port, or 0 for any`,
            cause: error
          })
      )
    )
    // Runs before the server's own close, which would otherwise wait for clients holding a connection.
    yield* Effect.addFinalizer(() => Effect.sync(() => server.closeAllConnections()))
    const boundPort = httpServer.address._tag === "TcpAddress" ? httpServer.address.port : port
    const baseUrl = `http://127.0.0.1:${boundPort}`

    let currentKey = options.apiKey ?? `emu_${randomBytes(16).toString("hex")}`
    const apiKey = yield* Ref.make(currentKey)
    const faults = yield* makeFaultQueue
    const requests = yield* makeRequestLog
    const behaviour = yield* Ref.make<ActionServerBehaviour>({
      bootDelay: "200 millis",
      badGatewayBurst: 0,
      vscodeToken: randomBytes(16).toString("hex"),
      ...options.actionServer
    })
    const servers = new Set<RunningActionServer>()
    const executor = Context.get(context, CommandExecutor.CommandExecutor)
    const isolation = yield* Isolation.make({
      unsafeHostProcesses: options.unsafeHostProcesses ?? false,
      stateDir: NodePath.join(dataDir, "isolation")
    }).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.mapError((cause) => new EmulatorError({ reason: cause.message, cause }))
    )
    const host = { executor, groups: new Set<number>(), isolation }
    const store = yield* makeStore({
      dataDir,
      latencies: { ...defaultLatencies, ...options.latencies },
      defaultTarget: options.target ?? "us",
      autoStopTimeScale: scale,
      startWait: options.startWait
    }).pipe(Effect.provide(context))
    const organizationId = randomUUID()
    const toolboxProxyUrl = `${baseUrl}/toolbox`
    const catalog = makeCatalog({
      defaultRegion: options.target ?? "us",
      extraRegions: options.regions,
      extraSnapshots: options.snapshots
    })
    const rateLimits = makeRateLimits({
      ...(options.createsPerMinute === undefined
        ? {}
        : { "sandbox-create": { limit: options.createsPerMinute, ttlSeconds: 60 } }),
      ...options.rateLimits
    })
    const sshGatewayKey = `ssh_${randomBytes(16).toString("hex")}`
    const sshGateway = yield* Ref.make(options.sshGatewayUrl ?? "127.0.0.1:2222")
    const guard = makeGuard({ apiKey, sshGatewayKey, faults, requests, rateLimits })
    const preview = yield* makePreview({
      store,
      mode: options.previewMode ?? "proxy",
      baseUrl,
      client: Context.get(context, HttpClient.HttpClient),
      guard,
      apiKey
    })
    const sessions = makeSessions(store, host, {
      mode: actionServerMode,
      previewMode: options.previewMode ?? "proxy",
      behaviour,
      faults,
      mainPath,
      servers,
      command: actionServerCommand
    })
    const pools =
      options.warmPools === false ? Option.none() : Option.some(makeWarmPools({ store, catalog, organizationId }))
    yield* runJobs({
      store,
      timeScale: scale,
      busy: preview.busy,
      afterTick: Option.match(pools, { onNone: () => undefined, onSome: (p) => p.refill })
    })
    const router = HttpRouter.concatAll(
      apiRouter(
        { store, preview, organizationId, toolboxProxyUrl, catalog, pools, sshGateway: Ref.get(sshGateway) },
        guard
      ),
      toolboxRouter({ sessions, store, host }, guard),
      preview.router
    ).pipe(
      Effect.catchTag("RouteNotFound", () =>
        Effect.succeed(json({ statusCode: 404, error: "Not Found", message: "Not Found" }, 404))
      )
    )
    yield* httpServer.serve(router)
    const events = yield* attachSocketEvents({
      server,
      store,
      apiKey,
      organizationId,
      toDto: (record) => toSandboxDto(record, organizationId, toolboxProxyUrl)
    })
    yield* Effect.logDebug(`Daytona emulator listening on ${baseUrl}/api`)

    let boundSshPort: number | undefined
    if (options.ssh ?? true) {
      const ssh = yield* SshServer.make({
        port: sshPort,
        authenticate: store.validateSshToken,
        sandbox: (id) =>
          Effect.gen(function* () {
            const record = yield* Effect.option(store.get(id))
            if (Option.isNone(record)) return SshServer.SandboxAccess.NotRunning({ state: "destroyed" })
            const run = yield* store.run(record.value.id)
            return Option.isSome(run)
              ? SshServer.SandboxAccess.Running({ run: run.value })
              : SshServer.SandboxAccess.NotRunning({ state: record.value.state })
          }),
        touch: store.touch,
        host
      }).pipe(Effect.mapError((cause) => new EmulatorError({ reason: cause.reason, cause })))
      boundSshPort = ssh.port
      // The `sshCommand` of an SSH access names this endpoint, unless the caller named a gateway.
      if (options.sshGatewayUrl === undefined) yield* Ref.set(sshGateway, `127.0.0.1:${ssh.port}`)
      yield* Effect.logDebug(`SSH endpoint listening on 127.0.0.1:${ssh.port}`)
    }

    const notFound = (id: string) => (cause: unknown) =>
      new EmulatorError({ reason: `The emulator has no sandbox ${id}`, cause })

    return {
      apiUrl: `${baseUrl}/api`,
      get apiKey() {
        return Redacted.make(currentKey)
      },
      sandboxes: Effect.map(store.list, (records) =>
        records.map((record) => ({
          id: record.id,
          name: record.name,
          state: record.state,
          labels: record.labels,
          public: record.public,
          createdAt: record.createdAt,
          desiredState: record.desiredState,
          claimedFromWarmPool: record.claimedFromPool
        }))
      ),
      inject: faults.inject,
      clearFaults: faults.clear,
      setLatencies: store.setLatencies,
      setActionServer: (patch) => Ref.update(behaviour, (current) => ({ ...current, ...patch })),
      setSandboxState: (id, state, opts) => Effect.mapError(store.setState(id, state, opts), notFound(id)),
      holdState: store.hold,
      setApiKey: (key) =>
        Effect.zipRight(
          Effect.sync(() => {
            currentKey = key
          }),
          Ref.set(apiKey, key)
        ),
      resetPreviewTokens: (id) => Effect.mapError(store.resetPreviewToken(id), notFound(id)),
      requests: requests.all,
      resetRequests: requests.reset,
      liveProcesses: Effect.sync(() => liveGroups(host) + servers.size),
      isolation: isolation.mode,
      socketClients: events.stats,
      previewOrigins: preview.origins,
      validateSshToken: store.validateSshToken,
      sshGatewayApiKey: Redacted.make(sshGatewayKey),
      setSshGatewayUrl: (url) => Ref.set(sshGateway, url),
      setRateLimits: rateLimits.configure,
      sshPort: boundSshPort,
      createWarmPool: (request) =>
        Option.match(pools, {
          onNone: () => Effect.fail(new EmulatorError({ reason: "The emulator was made with warmPools: false" })),
          onSome: (all) =>
            Effect.mapError(
              all.create(request),
              (cause) => new EmulatorError({ reason: `The warm pool was refused: ${cause.message}`, cause })
            )
        }),
      sshAccess: {
        create: (idOrName, minutes) =>
          Effect.mapError(
            Effect.flatMap(store.createSshAccess(idOrName, minutes ?? 60), (grant) =>
              Effect.map(Ref.get(sshGateway), (gateway) => {
                const [gatewayHost = "127.0.0.1", gatewayPort = "22"] = gateway.split(":")
                return {
                  id: grant.id,
                  sandboxId: grant.sandboxId,
                  token: Redacted.make(grant.token),
                  expiresAt: grant.expiresAt,
                  createdAt: grant.createdAt,
                  sshCommand: Redacted.make(sshCommand(grant.token, gatewayHost, gatewayPort))
                } satisfies SshAccessGrant
              })
            ),
            notFound(idOrName)
          ),
        revoke: (idOrName, token) =>
          Effect.asVoid(Effect.mapError(store.revokeSshAccess(idOrName, token), notFound(idOrName)))
      }
    } satisfies EmulatorControlService
  }).pipe(Effect.withSpan("Emulator.make"))

/**
 * An embedded emulator as a layer: provides the {@link EmulatorControl} and a `DaytonaConfig` pointing at it
 * (with `target`, `public`, `deleteOnClose` and `disableAutoStop` from the options).
 *
 * @since 0.1.0
 */
export const layer = (options: EmulatorOptions = {}): Layer.Layer<DaytonaConfig | EmulatorControl, EmulatorError> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const control = yield* make(options)
      const settings = yield* DaytonaConfig.make({
        apiKey: control.apiKey,
        apiUrl: control.apiUrl,
        target: options.target ?? "us",
        public: options.public,
        deleteOnClose: options.deleteOnClose,
        disableAutoStop: options.disableAutoStop
      }).pipe(
        Either.mapLeft(
          (cause) => new EmulatorError({ reason: `The emulator's settings are invalid: ${String(cause)}`, cause })
        )
      )
      return Context.make(EmulatorControl, control).pipe(Context.add(DaytonaConfig, settings))
    })
  )
