/**
 * What every toolbox route shares: finding the sandbox as Daytona's proxy and runner do (an unknown sandbox is
 * refused by the proxy, one without a running container by the runner), the daemon's errors, and paths of the
 * sandbox resolved on the host without ever leaving its folder.
 *
 * @since 0.2.0
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Data, Effect, Option } from "effect"
import * as NodePath from "node:path"
import { daemonErrorBody, HttpFailure } from "./Dto.js"
import type { SandboxRecord } from "./Dto.js"
import type { Isolation } from "./Isolation.js"
import type { SandboxRun } from "./Runs.js"
import { resolveInside, SymlinkLoop } from "./SandboxPaths.js"
import type { Store } from "./Store.js"

/**
 * A complete answer of Daytona's proxy or runner (not of the daemon), sent as it is.
 *
 * @since 0.2.0
 */
export class EdgeAnswer extends Data.TaggedError("EdgeAnswer")<{
  readonly response: HttpServerResponse.HttpServerResponse
}> {}

/**
 * A daemon failure: `status`, the daemon's error `code` and its message.
 *
 * @since 0.2.0
 */
export const daemonFailure = (status: number, code: string, message: string) =>
  new HttpFailure({ status, detail: message, code })

/** `bad request: …` (the daemon's `BadRequestError`). */
export const badRequest = (message: string) => daemonFailure(400, "BAD_REQUEST", `bad request: ${message}`)
/** A failure that names no error class (the daemon's plain 400). */
export const invalid = (message: string) => daemonFailure(400, "BAD_REQUEST", message)

/**
 * The sandbox a toolbox request is for, with its running run.
 *
 * @since 0.2.0
 */
export interface Target {
  readonly run: SandboxRun
  readonly sandbox: SandboxRecord
  /** The user's home as the sandbox sees it (`/home/daytona`). */
  readonly home: string
  /** The daemon's working folder: where relative paths start (the user's home). */
  readonly workDir: string
  /** The host path of a sandbox path (relative to the work dir), symbolic links followed inside the sandbox. */
  readonly resolve: (path: string) => string
  /** Like `resolve`, but the last component is not followed when it is a symbolic link. */
  readonly resolveNoFollow: (path: string) => string
  /** The sandbox path of `path` (relative to the work dir), normalized. */
  readonly absolute: (path: string) => string
}

const edgeError = (status: number, code: string, message: string, path: string, method: string) =>
  HttpServerResponse.unsafeJson(
    { statusCode: status, message, code, timestamp: new Date().toISOString(), path, method },
    { status }
  )

/**
 * Builds the target of a sandbox run.
 *
 * @since 0.2.0
 */
export const targetOf = (isolation: Isolation, run: SandboxRun): Target => {
  const sandbox = run.sandbox
  const home = isolation.home(sandbox)
  const absolute = (path: string) => NodePath.posix.resolve("/", home, path)
  return {
    run,
    sandbox,
    home,
    workDir: home,
    absolute,
    resolve: (path) => resolveInside(sandbox.dir, path, home),
    resolveNoFollow: (path) => {
      const full = absolute(path)
      if (full === "/") return NodePath.resolve(sandbox.dir)
      return NodePath.join(resolveInside(sandbox.dir, NodePath.posix.dirname(full)), NodePath.posix.basename(full))
    }
  }
}

/**
 * The sandbox of the current toolbox request (`/toolbox/{id}/{path}`), started. An unknown sandbox is refused as
 * Daytona's proxy refuses it (401: the API key has no access to it); a sandbox without a running container as the
 * runner answers (400 "no IP address found. Is the Sandbox started?", with the runner's path).
 *
 * @since 0.2.0
 */
export const requireTarget = (
  store: Store,
  isolation: Isolation,
  sandboxId: string
): Effect.Effect<Target, EdgeAnswer, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://emulator")
    const record = yield* Effect.option(store.get(sandboxId))
    if (Option.isNone(record) || record.value.state === "destroyed" || record.value.state === "destroying") {
      return yield* new EdgeAnswer({
        response: edgeError(
          401,
          "UNAUTHORIZED",
          "unauthorized: authentication failed: Bearer token is invalid",
          url.pathname,
          request.method
        )
      })
    }
    const run = yield* store.run(record.value.id)
    if (Option.isNone(run)) {
      const rest = url.pathname.replace(/^\/toolbox\/[^/]+/, "")
      return yield* new EdgeAnswer({
        response: edgeError(
          400,
          "BAD_REQUEST",
          "bad request: no IP address found. Is the Sandbox started?",
          `/sandboxes/${record.value.id}/toolbox${rest}`,
          request.method
        )
      })
    }
    yield* store.touch(record.value.id)
    return targetOf(isolation, run.value)
  })

/**
 * The path a daemon reports in its errors: the request path without the proxy's `/toolbox/{id}` prefix.
 *
 * @since 0.2.0
 */
export const daemonPath = (url: string): string =>
  new URL(url, "http://emulator").pathname.replace(/^\/toolbox\/[^/]+/, "") || "/"

/**
 * Runs a toolbox handler: daemon failures become the daemon's `ErrorResponse` (with the daemon's own path), answers
 * of the proxy or runner are sent as they are.
 *
 * @since 0.2.0
 */
export const daemon = <R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure | EdgeAnswer, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
  Effect.catchAll(handler, (failure) =>
    failure._tag === "EdgeAnswer"
      ? Effect.succeed(failure.response)
      : Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
          HttpServerResponse.unsafeJson(
            daemonErrorBody(failure.status, failure.detail, daemonPath(request.url), request.method, failure.code),
            { status: failure.status }
          )
        )
  )

/**
 * The query parameters of the current request.
 *
 * @since 0.2.0
 */
export const queryOf: Effect.Effect<URLSearchParams, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => new URL(request.url, "http://emulator").searchParams
)

/**
 * A Node.js filesystem error as the daemon classifies it (`os.IsNotExist` → 404, `os.IsPermission` → 403, else 400),
 * with Go's message (`stat /x: no such file or directory`).
 *
 * @since 0.2.0
 */
export const fsFailure = (error: unknown, op: string, path: string): HttpFailure => {
  const code = (error as { readonly code?: string }).code
  if (error instanceof SymlinkLoop || code === "ELOOP") {
    return daemonFailure(400, "BAD_REQUEST", `${op} ${path}: too many levels of symbolic links`)
  }
  switch (code) {
    case "ENOENT":
      return daemonFailure(404, "FILE_NOT_FOUND", `${op} ${path}: no such file or directory`)
    case "EACCES":
    case "EPERM":
      return daemonFailure(403, "FILE_ACCESS_DENIED", `${op} ${path}: permission denied`)
    case "ENOTDIR":
      return daemonFailure(400, "BAD_REQUEST", `${op} ${path}: not a directory`)
    case "EISDIR":
      return daemonFailure(400, "BAD_REQUEST", `${op} ${path}: is a directory`)
    case "ENOTEMPTY":
      return daemonFailure(400, "BAD_REQUEST", `${op} ${path}: directory not empty`)
    case "EEXIST":
      return daemonFailure(400, "BAD_REQUEST", `${op} ${path}: file exists`)
    default:
      return daemonFailure(
        400,
        "BAD_REQUEST",
        `${op} ${path}: ${error instanceof Error ? error.message : String(error)}`
      )
  }
}
