/**
 * The emulator's built-in OpenHands action execution server: `GET /alive`, `POST /execute_action` (run, read,
 * write), `POST /list_files`, `GET /vscode/connection_token` and `POST /upload_file`, with the session-key and
 * preview-token checks, a boot delay, a burst of 502s and per-request fault injection.
 *
 * @since 0.1.0
 */
// Deep imports keep the child-process entry's start-up short (the package indexes load every module).
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Path from "@effect/platform/Path"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { timingSafeEqual } from "node:crypto"
import * as Http from "node:http"
import * as NodePathModule from "node:path"
import { detail, executeAction, json, killProcessGroups, listFiles, uploadFile } from "./ActionServerHandlers.js"

/** The routes a fault can be injected into. */
export type ActionServerRoute = "alive" | "execute_action" | "list_files" | "vscode_token" | "upload_file"

/**
 * A fault injected into one request.
 *
 * @since 0.1.0
 */
export type ActionServerFault = Data.TaggedEnum<{
  /** Answer this status with `{"detail": body ?? reason}`. */
  Status: { readonly status: number; readonly body?: string | undefined }
  /** Answer 200 with a body that is not JSON. */
  Malformed: {}
  /** The server dies mid-request: the socket is destroyed and the server stops listening. */
  Crash: {}
  /** Send the headers, then trickle the body over `duration`. */
  SlowLoris: { readonly duration: Duration.DurationInput }
  /** Wait `duration`, then answer normally. */
  Latency: { readonly duration: Duration.DurationInput }
}>

/**
 * Constructors and matchers for {@link ActionServerFault}.
 *
 * @since 0.1.0
 */
export const ActionServerFault = Data.taggedEnum<ActionServerFault>()

/**
 * How to run one action execution server.
 *
 * @since 0.1.0
 */
export interface ActionServerOptions {
  /** Bind 127.0.0.1:port (0 = any free port). */
  readonly port: number
  /** The sandbox workspace (absolute host folder); created if missing. */
  readonly workingDir: string
  /** The sandbox env; commands run with it (plus the host's PATH unless it sets one). */
  readonly env: Readonly<Record<string, string>>
  /** Some → every route but `/alive` and `/server_info` answers 403 unless `X-Session-API-Key` matches. */
  readonly sessionApiKey: Option.Option<string>
  /** Some → every route answers 401 unless `X-Daytona-Preview-Token` matches. */
  readonly previewToken: Option.Option<string>
  /** The answer of `GET /vscode/connection_token` ("" → `{"token": null}`). */
  readonly vscodeToken: string
  /** How long to wait before binding. */
  readonly bootDelay: Duration.DurationInput
  /** The first N requests (past the auth checks) answer 502. */
  readonly badGatewayBurst: number
  /** Decides, per request, whether to inject a fault. */
  readonly nextFault?: ((route: ActionServerRoute) => Effect.Effect<Option.Option<ActionServerFault>>) | undefined
  /** Receives the server's output lines (banner, one line per request). Header values are never logged. */
  readonly log?: ((line: string) => Effect.Effect<void>) | undefined
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

/**
 * The mutable state one server shares across its requests.
 *
 * @since 0.1.0
 */
export interface ActionServerState {
  /** Requests past the auth checks so far (the 502 burst counts them). */
  count: number
  /** Process groups of commands started here that may still run (background jobs included). */
  readonly processGroups: Set<number>
  /** Completed once a Crash fault took the server down. */
  readonly crashed: Deferred.Deferred<void>
  /** Stops listening and drops every connection (a Crash fault calls it). */
  readonly halt: Effect.Effect<void>
}

/**
 * Makes the state of a server whose `halt` stops the given node server.
 *
 * @since 0.1.0
 */
export const makeState = (server?: Http.Server): Effect.Effect<ActionServerState> =>
  Effect.map(Deferred.make<void>(), (crashed) => {
    const processGroups = new Set<number>()
    return {
      count: 0,
      processGroups,
      crashed,
      halt: Effect.sync(() => {
        if (server !== undefined) {
          server.close()
          server.closeAllConnections()
        }
        killProcessGroups(processGroups)
      })
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// faults, checks and the app

const trickle = (response: HttpServerResponse.HttpServerResponse, duration: Duration.DurationInput) => {
  const bytes = response.body._tag === "Uint8Array" ? response.body.body : new TextEncoder().encode("{}")
  const count = Math.max(1, Math.min(8, bytes.length))
  const size = Math.ceil(bytes.length / count)
  const pieces = Array.from({ length: count }, (_, i) => bytes.subarray(i * size, (i + 1) * size))
  const step = Duration.unsafeDivide(Duration.decode(duration), Math.max(1, count - 1))
  const rest = count === 1 ? Stream.drain(Stream.fromEffect(Effect.sleep(step))) : Stream.empty
  const body = Stream.fromIterable(pieces).pipe(
    Stream.zipWithIndex,
    Stream.mapEffect(([piece, i]) => (i === 0 ? Effect.succeed(piece) : Effect.as(Effect.sleep(step), piece))),
    Stream.concat(rest)
  )
  return HttpServerResponse.stream(body, { status: response.status, contentType: "application/json" })
}

const crash = (state: ActionServerState, log: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    yield* log("ERROR:    the action execution server crashed (injected fault)")
    yield* Deferred.succeed(state.crashed, undefined)
    yield* Effect.sync(() => NodeHttpServerRequest.toIncomingMessage(request).socket.destroy())
    yield* state.halt
    return yield* Effect.interrupt
  })

const sameSecret = (given: string | undefined, expected: string): boolean => {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * The server as an `HttpApp`: the preview-token, session-key and 502-burst checks, then the routes (each with its
 * injected fault, if any). Mountable on any node HTTP server.
 *
 * @since 0.1.0
 */
export const makeApp = (
  options: ActionServerOptions,
  state: ActionServerState
): HttpApp.Default<never, CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path> => {
  const log = options.log ?? (() => Effect.void)
  const route =
    <E, R>(name: ActionServerRoute, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    (
      fault: Option.Option<ActionServerFault>
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
      Option.match(fault, {
        onNone: () => handler,
        onSome: ActionServerFault.$match({
          Status: ({ body, status }) =>
            Effect.succeed(detail(status, body ?? Http.STATUS_CODES[status] ?? `HTTP ${status}`)),
          Malformed: () =>
            Effect.succeed(HttpServerResponse.text("<html>oops", { status: 200, contentType: "text/html" })),
          Crash: () => crash(state, log),
          SlowLoris: ({ duration }) => Effect.map(handler, (response) => trickle(response, duration)),
          Latency: ({ duration }) => Effect.zipRight(Effect.sleep(duration), handler)
        })
      }).pipe(Effect.annotateLogs({ route: name }))
  const withFault = <E, R>(
    name: ActionServerRoute,
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) => Effect.flatMap(options.nextFault?.(name) ?? Effect.succeedNone, route(name, handler))
  const vscodeToken = options.vscodeToken === "" ? null : options.vscodeToken

  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/alive", withFault("alive", Effect.succeed(json({ status: "ok" })))),
    HttpRouter.post("/execute_action", withFault("execute_action", executeAction(options, state))),
    HttpRouter.post("/list_files", withFault("list_files", listFiles(options))),
    HttpRouter.get("/vscode/connection_token", withFault("vscode_token", Effect.succeed(json({ token: vscodeToken })))),
    HttpRouter.post("/upload_file", withFault("upload_file", uploadFile(options)))
  )

  return Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(request.url, "http://localhost").pathname
    const response = yield* Effect.suspend(() => {
      if (
        Option.isSome(options.previewToken) &&
        !sameSecret(request.headers["x-daytona-preview-token"], options.previewToken.value)
      ) {
        return Effect.succeed(detail(401, "Unauthorized: missing or invalid preview token"))
      }
      // As OpenHands' server does, /alive and /server_info answer without the session key.
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
      return router.pipe(
        Effect.catchTag("RouteNotFound", () => Effect.succeed(detail(404, "Not Found"))),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.as(
                log(`ERROR:    ${request.method} ${path} failed: ${Cause.pretty(cause).split("\n")[0]}`),
                detail(500, "An unexpected error occurred")
              )
        )
      )
    })
    yield* log(`INFO:     ${request.method} ${path} ${response.status}`)
    return response
  })
}

/** The platform services a server's requests use. */
const platformLayer = Layer.mergeAll(NodeCommandExecutor.layer, NodePath.layer).pipe(
  Layer.provideMerge(NodeFileSystem.layer)
)

/**
 * Starts a server in this process: sleeps `bootDelay`, binds 127.0.0.1:`port`, and returns once it listens. It stops
 * (and kills the commands it started) when the scope closes, or after a Crash fault.
 *
 * @since 0.1.0
 */
export const serve = (
  options: ActionServerOptions
): Effect.Effect<RunningActionServer, ActionServerBindError, Scope.Scope> =>
  Effect.gen(function* () {
    const log = options.log ?? (() => Effect.void)
    const fs = yield* FileSystem.FileSystem
    yield* Effect.orDie(fs.makeDirectory(options.workingDir, { recursive: true }))
    yield* Effect.sleep(options.bootDelay)
    const server = Http.createServer()
    const state = yield* makeState(server)
    const httpServer = yield* NodeHttpServer.make(() => server, { port: options.port, host: "127.0.0.1" }).pipe(
      Effect.mapError((error) => new ActionServerBindError({ port: options.port, cause: error.cause }))
    )
    yield* httpServer.serve(makeApp(options, state))
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

// ---------------------------------------------------------------------------------------------------------------
// the child-process command line

/**
 * The command line of the child-process entry.
 *
 * @since 0.1.0
 */
export interface ChildArgs {
  readonly port: number
  readonly workingDir: string
  readonly bootDelayMs: number
  readonly badGatewayBurst: number
}

/** The usage line of the child-process entry. */
export const usage =
  "usage: ActionServerMain [--port] PORT --working-dir DIR [--boot-delay-ms N] [--bad-gateway-burst N]"

const nonNegativeInt = (flag: string, text: string | undefined): Either.Either<number, string> =>
  text !== undefined && /^\d+$/.test(text) && Number.isSafeInteger(Number(text))
    ? Either.right(Number(text))
    : Either.left(`${flag} needs a non-negative integer, got ${JSON.stringify(text ?? "")}`)

/**
 * Parses `--port P --working-dir DIR [--boot-delay-ms N] [--bad-gateway-burst N]` (`--flag=value` works too, and a
 * bare first number is the port, as in OpenHands' own command line).
 *
 * @since 0.1.0
 */
export const parseArgs = (argv: ReadonlyArray<string>): Either.Either<ChildArgs, string> => {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (/^\d+$/.test(arg) && !values.has("--port")) {
      values.set("--port", arg)
      continue
    }
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined]
    if (!["--port", "--working-dir", "--boot-delay-ms", "--bad-gateway-burst"].includes(flag!)) {
      return Either.left(`unknown argument ${JSON.stringify(arg)}\n${usage}`)
    }
    const value = inline ?? argv[++i]
    if (value === undefined) return Either.left(`${flag} needs a value\n${usage}`)
    values.set(flag!, value)
  }
  const workingDir = values.get("--working-dir")
  if (workingDir === undefined || workingDir === "") return Either.left(`--working-dir is required\n${usage}`)
  if (!values.has("--port")) return Either.left(`--port is required\n${usage}`)
  return Either.all({
    port: Either.filterOrLeft(
      nonNegativeInt("--port", values.get("--port")),
      (port) => port <= 65535,
      (port) => `--port must be at most 65535, got ${port}`
    ),
    workingDir: Either.right(NodePathModule.resolve(workingDir)),
    bootDelayMs: nonNegativeInt("--boot-delay-ms", values.get("--boot-delay-ms") ?? "0"),
    badGatewayBurst: nonNegativeInt("--bad-gateway-burst", values.get("--bad-gateway-burst") ?? "0")
  })
}
