/**
 * Preview origins: Daytona gives every (sandbox, port) and every signed preview token its own host
 * (`{port}-{sandboxId}.{proxyDomain}`), so a preview URL is the root of its own origin. `*.localhost` names do
 * not resolve everywhere, so the emulator gives each its own loopback listener instead: `http://127.0.0.1:P`,
 * opened on the first preview link asked for, closed with its sandbox or the emulator, and never on a port that
 * served another sandbox before.
 *
 * @since 0.1.0
 */
import type { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Deferred, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import * as Http from "node:http"
import { HttpFailure } from "./Dto.js"

/**
 * The listeners.
 *
 * @since 0.1.0
 */
export interface PreviewOrigins {
  /** The port of the origin `key` (owned by `owner`), opened with `app` on first use. */
  readonly open: (
    key: string,
    owner: string,
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
  ) => Effect.Effect<number, HttpFailure>
  /** Closes every origin of an owner (a sandbox). */
  readonly closeOwner: (owner: string) => Effect.Effect<void>
  /** How many origins are open. */
  readonly count: Effect.Effect<number>
}

interface Origin {
  readonly owner: string
  readonly port: Deferred.Deferred<number, HttpFailure>
  readonly scope: Scope.CloseableScope
}

/**
 * Makes the listeners, all children of the calling scope.
 *
 * @since 0.1.0
 */
export const makePreviewOrigins = (options: {
  /** False when the port was handed out before (see `Store.reservePort`). */
  readonly reservePort: (port: number) => boolean
}): Effect.Effect<PreviewOrigins, never, Scope.Scope> =>
  Effect.map(Effect.scope, (root): PreviewOrigins => {
    const origins = new Map<string, Origin>()

    /** One listener on a port the kernel picks; retried when the kernel offers a port handed out before. */
    const listen = (
      scope: Scope.Scope,
      app: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
    ) =>
      Effect.gen(function* () {
        for (let attempt = 0; attempt < 100; attempt++) {
          const attemptScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
          const server = Http.createServer()
          const http = yield* NodeHttpServer.make(() => server, { port: 0, host: "127.0.0.1" }).pipe(
            Scope.extend(attemptScope),
            Effect.mapError(
              (error) =>
                new HttpFailure({ status: 500, detail: `Cannot open a preview listener: ${String(error.cause)}` })
            )
          )
          // Runs before the server's own close, which would otherwise wait for clients holding a connection.
          yield* Scope.addFinalizer(
            attemptScope,
            Effect.sync(() => server.closeAllConnections())
          )
          const port = http.address._tag === "TcpAddress" ? http.address.port : 0
          if (!options.reservePort(port)) {
            yield* Scope.close(attemptScope, Exit.void)
            continue
          }
          yield* http.serve(app).pipe(Scope.extend(attemptScope))
          return port
        }
        return yield* new HttpFailure({ status: 500, detail: "No loopback port that never served another sandbox" })
      })

    const open: PreviewOrigins["open"] = (key, owner, app) =>
      Effect.gen(function* () {
        const known = origins.get(key)
        if (known !== undefined) return yield* Deferred.await(known.port)
        const origin: Origin = {
          owner,
          port: yield* Deferred.make<number, HttpFailure>(),
          scope: yield* Scope.fork(root, ExecutionStrategy.sequential)
        }
        origins.set(key, origin)
        const opened = yield* Effect.exit(listen(origin.scope, app))
        yield* Deferred.done(origin.port, opened)
        if (Exit.isFailure(opened)) {
          origins.delete(key)
          yield* Scope.close(origin.scope, Exit.void)
        }
        return yield* opened
      }).pipe(Effect.uninterruptible)

    const closeOwner = (owner: string) =>
      Effect.suspend(() => {
        const closing = [...origins].filter(([, origin]) => origin.owner === owner)
        for (const [key] of closing) origins.delete(key)
        return Effect.forEach(closing, ([, origin]) => Scope.close(origin.scope, Exit.void), { discard: true })
      })

    return { open, closeOwner, count: Effect.sync(() => origins.size) }
  })
