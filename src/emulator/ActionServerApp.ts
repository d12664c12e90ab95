/**
 * The emulator's built-in OpenHands action execution server, answering as the real one (OpenHands 0.62,
 * `runtime/action_execution_server.py`): its routes, its session-key check (every route but exactly `/alive` and
 * `/server_info`), FastAPI's 404, 405 and trailing-slash redirects. On top, what the emulator needs of it: the
 * preview-token check of direct previews, a boot delay, a burst of 502s and per-request fault injection.
 *
 * The shell behind `run` is one persistent bash per server, started on first use (see `ActionShell.ts`); file
 * actions resolve the sandbox's paths under its root (see `ActionFiles.ts`).
 *
 * @since 0.1.0
 */
// Deep imports keep the child-process entry's start-up short (the package indexes load every module).
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Path from "@effect/platform/Path"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { timingSafeEqual } from "node:crypto"
import * as fs from "node:fs"
import * as Http from "node:http"
import * as NodePathModule from "node:path"
import { Editor } from "./ActionEditor.js"
import { hostPath } from "./ActionFiles.js"
import type { ServerContext } from "./ActionServerHandlers.js"
import { detail, executeAction, json, listFiles } from "./ActionServerHandlers.js"
import { downloadFiles, serverInfo, updateMcpServer, uploadFile } from "./ActionServerTransfers.js"
import { BashSession } from "./ActionShell.js"
import type { HostProcess, Isolation, SandboxFs } from "./Isolation.js"
import type { ActionServerRoute } from "./ActionServerFaults.js"
import { ActionServerFault, crash, trickle } from "./ActionServerFaults.js"

export { parseArgs, usage } from "./ActionServerArgs.js"
export { ActionServerFault } from "./ActionServerFaults.js"
export type { ActionServerRoute } from "./ActionServerFaults.js"
export type { ChildArgs } from "./ActionServerArgs.js"

/**
 * Where the server's sandbox is: `root` is the host folder its paths start from (`/` when the server itself runs
 * inside the sandbox), and `command` gives the host process that runs a command of the sandbox (through its
 * isolation), in `cwd` (a path as the sandbox sees it), with `env` on top of the sandbox user's defaults.
 *
 * @since 0.2.0
 */
export interface ActionServerSandbox {
  readonly root: string
  readonly command: (
    argv: ReadonlyArray<string>,
    options: { readonly cwd: string; readonly env: Readonly<Record<string, string>> }
  ) => HostProcess
}

/** Commands run on this host, unisolated (the child process, which already runs inside its sandbox). */
const direct: ActionServerSandbox = {
  root: "/",
  command: (argv, { cwd, env }) => ({
    file: argv[0]!,
    args: argv.slice(1),
    cwd,
    env: { ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }), ...env }
  })
}

/**
 * The sandbox and working folder of a server that runs in the emulator's process for `sandbox`: with bubblewrap,
 * paths are the sandbox's own (its folder is their root) and the shell runs inside it; unisolated, paths are the
 * host's and the shell runs on the host in the sandbox's folder.
 *
 * @since 0.2.0
 */
export const inSandbox = (
  isolation: Isolation,
  sandbox: SandboxFs,
  workingDir: string
): { readonly sandbox: ActionServerSandbox; readonly workingDir: string } =>
  isolation.mode === "bubblewrap"
    ? {
        sandbox: {
          root: sandbox.dir,
          command: (argv, { cwd, env }) => isolation.command(sandbox, argv, { cwd, env })
        },
        workingDir: NodePathModule.posix.resolve(isolation.home(sandbox), workingDir)
      }
    : {
        sandbox: {
          root: "/",
          command: (argv, { cwd, env }) => ({ ...isolation.command(sandbox, argv, { env }), cwd })
        },
        workingDir: isolation.hostPath(sandbox, workingDir)
      }

/**
 * How to run one action execution server.
 *
 * @since 0.1.0
 */
export interface ActionServerOptions {
  /** Bind 127.0.0.1:port (0 = any free port). */
  readonly port: number
  /** The working folder as the sandbox sees it (`--working-dir`); created if missing. */
  readonly workingDir: string
  /** The server's environment: its shell gets it; `NO_CHANGE_TIMEOUT_SECONDS`, `VSCODE_PORT` are read from it. */
  readonly env: Readonly<Record<string, string>>
  /** Some → every route but `/alive` and `/server_info` answers 403 unless `X-Session-API-Key` matches. */
  readonly sessionApiKey: Option.Option<string>
  /** Some → every route answers 401 unless `X-Daytona-Preview-Token` matches. */
  readonly previewToken: Option.Option<string>
  /** The VSCode connection token, answered when the `vscode` plugin is loaded and `VSCODE_PORT` is set. */
  readonly vscodeToken: string
  /** `--plugins` (default none). */
  readonly plugins?: ReadonlyArray<string> | undefined
  /** `--username` (default `openhands`): the VSCode plugin only loads for `root` or `openhands`. */
  readonly username?: string | undefined
  /** Where the sandbox is (default: this host, unisolated, paths as they are). */
  readonly sandbox?: ActionServerSandbox | undefined
  /** How long to wait before binding. */
  readonly bootDelay: Duration.DurationInput
  /** The first N requests (past the auth checks) answer 502. */
  readonly badGatewayBurst: number
  /** Decides, per request, whether to inject a fault. */
  readonly nextFault?: ((route: ActionServerRoute) => Effect.Effect<Option.Option<ActionServerFault>>) | undefined
  /** Receives the server's output lines (banner, one line per request). Header values are never logged. */
  readonly log?: ((line: string) => Effect.Effect<void>) | undefined
  /** Process groups of the shells the server starts are added here while they run (e.g. the emulator's). */
  readonly processGroups?: Set<number> | undefined
  /** TOLERATED until the client sends the real body: accept `args.timeout` of a run (default true). */
  readonly tolerateArgsTimeout?: boolean | undefined
}

/**
 * A listening server.
 *
 * @since 0.1.0
 */
export interface RunningActionServer {
  /** The bound port. */
  readonly port: number
  /** Whether a Crash fault took the server down. */
  readonly crashed: Effect.Effect<boolean>
  /** Completes when a Crash fault takes the server down. */
  readonly awaitCrash: Effect.Effect<void>
}

/**
 * The server could not bind its port.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActionServerBindError extends Data.TaggedError("ActionServerBindError")<{
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return (
      `The action execution server could not listen on 127.0.0.1:${this.port} (${reason}): ` +
      "free the port or pick another one"
    )
  }
}

interface State {
  /** Requests past the auth checks so far (the 502 burst counts them). */
  count: number
  readonly crashed: Deferred.Deferred<void>
  /** Stops listening, drops every connection and ends the shells. */
  readonly halt: Effect.Effect<void>
}

// ---------------------------------------------------------------------------------------------------------------
// faults, checks and the app

const sameSecret = (given: string | undefined, expected: string): boolean => {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | FileSystem.FileSystem | Path.Path
>

interface Route {
  readonly method: "GET" | "POST"
  readonly fault?: ActionServerRoute
  readonly handler: Handler
}

const makeRoutes = (context: ServerContext, token: string | null): Record<string, Route> => ({
  "/alive": { method: "GET", fault: "alive", handler: Effect.succeed(json({ status: "ok" })) },
  "/execute_action": { method: "POST", fault: "execute_action", handler: executeAction(context) },
  "/list_files": { method: "POST", fault: "list_files", handler: listFiles(context) },
  "/vscode/connection_token": { method: "GET", fault: "vscode_token", handler: Effect.succeed(json({ token })) },
  "/upload_file": { method: "POST", fault: "upload_file", handler: uploadFile(context) },
  "/download_files": { method: "GET", handler: downloadFiles(context) },
  "/server_info": { method: "GET", handler: serverInfo(context) },
  "/update_mcp_server": { method: "POST", handler: updateMcpServer }
})

const makeApp = (
  options: ActionServerOptions,
  state: State,
  context: ServerContext,
  token: string | null
): HttpApp.Default<never, FileSystem.FileSystem | Path.Path> => {
  const log = options.log ?? (() => Effect.void)
  const routes = makeRoutes(context, token)
  const withFault = (route: Route): Handler =>
    route.fault === undefined
      ? route.handler
      : Effect.flatMap(options.nextFault?.(route.fault) ?? Effect.succeedNone, (fault) =>
          Option.match(fault, {
            onNone: () => route.handler,
            onSome: ActionServerFault.$match({
              Status: ({ body, status }) =>
                Effect.succeed(detail(status, body ?? Http.STATUS_CODES[status] ?? `HTTP ${status}`)),
              Malformed: () =>
                Effect.succeed(HttpServerResponse.text("<html>oops", { status: 200, contentType: "text/html" })),
              Crash: () => crash(state, log),
              SlowLoris: ({ duration }) => Effect.map(route.handler, (response) => trickle(response, duration)),
              Latency: ({ duration }) => Effect.zipRight(Effect.sleep(duration), route.handler)
            })
          })
        ).pipe(Effect.annotateLogs({ route: route.fault }))

  return Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://localhost")
    const path = url.pathname
    const response = yield* Effect.suspend((): Handler => {
      if (
        Option.isSome(options.previewToken) &&
        !sameSecret(request.headers["x-daytona-preview-token"], options.previewToken.value)
      ) {
        return Effect.succeed(detail(401, "Unauthorized: missing or invalid preview token"))
      }
      // As OpenHands' server does, exactly /alive and /server_info answer without the session key.
      if (
        Option.isSome(options.sessionApiKey) &&
        path !== "/alive" &&
        path !== "/server_info" &&
        !sameSecret(request.headers["x-session-api-key"], options.sessionApiKey.value)
      ) {
        return Effect.succeed(detail(403, "Invalid API Key"))
      }
      state.count += 1
      if (state.count <= options.badGatewayBurst) return Effect.succeed(detail(502, "Bad Gateway"))
      const route = routes[path]
      if (route === undefined) {
        const alternative = path.endsWith("/") ? path.replace(/\/+$/, "") : `${path}/`
        if (routes[alternative] === undefined) return Effect.succeed(detail(404, "Not Found"))
        const location = `http://${request.headers["host"] ?? "127.0.0.1"}${alternative}${url.search}`
        return Effect.succeed(HttpServerResponse.empty({ status: 307, headers: { location } }))
      }
      if (request.method !== route.method) return Effect.succeed(detail(405, "Method Not Allowed"))
      return withFault(route).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.as(
                log(`ERROR:    ${request.method} ${path} failed: ${Cause.pretty(cause).split("\n")[0]}`),
                detail(500, "An unexpected error occurred. Please try again later.")
              )
        )
      )
    })
    yield* log(`INFO:     ${request.method} ${path} ${response.status}`)
    return response
  })
}

/** The platform services a server's requests use. */
const platformLayer = Layer.merge(NodeFileSystem.layer, NodePath.layer)

const VSCODE_SETTINGS = `{
    "workbench.colorTheme": "Default Dark Modern",
    "workbench.startupEditor": "none",
    "chat.commandCenter.enabled": false
}
`

/**
 * The VSCode plugin's start, as far as the server's answers show it: for `root` or `openhands` it writes
 * `$WORKSPACE_BASE/.vscode/settings.json`; it has a token only when `VSCODE_PORT` is a number.
 */
const loadVscode = (options: ActionServerOptions, root: string): string | null => {
  if (!(options.plugins ?? []).includes("vscode")) return null
  if (!["root", "openhands"].includes(options.username ?? "openhands")) return null
  try {
    const folder = hostPath({ root }, `${options.env["WORKSPACE_BASE"] ?? "/workspace"}/.vscode`)
    fs.mkdirSync(folder, { recursive: true })
    fs.writeFileSync(NodePathModule.join(folder, "settings.json"), VSCODE_SETTINGS)
    fs.chmodSync(NodePathModule.join(folder, "settings.json"), 0o666)
  } catch {
    // the real plugin would fail its start-up; the token below still tells whether it would have one
  }
  return /^\s*[+-]?\d+\s*$/.test(options.env["VSCODE_PORT"] ?? "") ? options.vscodeToken : null
}

const noChangeSeconds = (env: Readonly<Record<string, string>>) => {
  const text = env["NO_CHANGE_TIMEOUT_SECONDS"]
  return text !== undefined && /^\s*\d+\s*$/.test(text) ? Number(text) : 10
}

/**
 * Starts a server in this process: sleeps `bootDelay`, binds 127.0.0.1:`port`, and returns once it listens. It stops
 * (and ends its shells and everything they started) when the scope closes, or after a Crash fault.
 *
 * @since 0.1.0
 */
export const serve = (
  options: ActionServerOptions
): Effect.Effect<RunningActionServer, ActionServerBindError, Scope.Scope> =>
  Effect.gen(function* () {
    const log = options.log ?? (() => Effect.void)
    const sandbox = options.sandbox ?? direct
    const view = { root: sandbox.root }
    yield* Effect.sync(() => fs.mkdirSync(hostPath(view, options.workingDir), { recursive: true }))
    yield* Effect.sleep(options.bootDelay)
    const groups = options.processGroups ?? new Set<number>()
    const shells = new Set<BashSession>()
    const newShell = (cwd: string) => {
      const shell = new BashSession({
        command: sandbox.command,
        workDir: cwd,
        env: options.env,
        noChangeTimeoutSeconds: noChangeSeconds(options.env),
        groups
      })
      shells.add(shell)
      return shell
    }
    const now = Date.now()
    const context: ServerContext = {
      workDir: options.workingDir,
      view,
      shell: newShell(options.workingDir),
      editor: new Editor(view, options.workingDir),
      newShell,
      lock: yield* Effect.makeSemaphore(1),
      startTime: now,
      lastExecutionTime: now,
      tolerateArgsTimeout: options.tolerateArgsTimeout ?? true
    }
    const token = loadVscode(options, sandbox.root)
    const server = Http.createServer()
    const state: State = {
      count: 0,
      crashed: yield* Deferred.make<void>(),
      halt: Effect.sync(() => {
        server.close()
        server.closeAllConnections()
        for (const shell of shells) shell.close()
      })
    }
    const httpServer = yield* NodeHttpServer.make(() => server, { port: options.port, host: "127.0.0.1" }).pipe(
      Effect.mapError((error) => new ActionServerBindError({ port: options.port, cause: error.cause }))
    )
    yield* httpServer.serve(makeApp(options, state, context, token))
    yield* Effect.addFinalizer(() => state.halt)
    const port = httpServer.address._tag === "TcpAddress" ? httpServer.address.port : options.port
    yield* log(
      `INFO:     Action execution server running on http://127.0.0.1:${port} (working dir ${options.workingDir})`
    )
    return {
      port,
      crashed: Deferred.isDone(state.crashed),
      awaitCrash: Deferred.await(state.crashed)
    }
  }).pipe(
    Effect.provide(platformLayer),
    Effect.withSpan("ActionServerApp.serve", { attributes: { port: options.port } })
  )
