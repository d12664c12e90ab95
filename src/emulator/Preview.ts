/**
 * Preview links and the preview proxy. In `proxy` mode (the default) the preview URL of (sandbox, port) is the
 * root of its own origin, as Daytona's host-per-preview gives (see `PreviewOrigins.ts`); so is every signed
 * preview URL. The proxy authenticates as Daytona's does (`PreviewAuth.ts`: 307 to the login page when nothing
 * works), streams the request to the server behind the sandbox port, answers a bare 502 while nothing listens
 * there or the sandbox is starting (400 "…Is the Sandbox started?" when it is not running, as Daytona's runner
 * does), and counts every request — and every open connection — as activity.
 * In `direct` mode the preview URL points straight at the sandbox port's host port.
 *
 * @since 0.1.0
 */
import { HttpClient, HttpClientRequest, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { Clock, Effect, Redacted, Ref, Runtime, Stream } from "effect"
import type { Scope } from "effect"
import { randomBytes } from "node:crypto"
import { HttpFailure } from "./Dto.js"
import type { SandboxRecord } from "./Dto.js"
import { secretMatches } from "./Handler.js"
import type { Guard } from "./Handler.js"
import {
  COOKIE_PREFIX,
  cookieValue,
  loginPage,
  makeCookieJar,
  redirectToLogin,
  SKIP_ACTIVITY_HEADER,
  TOKEN_HEADER,
  TOKEN_QUERY
} from "./PreviewAuth.js"
import { makePreviewOrigins } from "./PreviewOrigins.js"
import type { Store } from "./Store.js"

/**
 * What the preview side is made with.
 *
 * @since 0.1.0
 */
export interface PreviewOptions {
  readonly store: Store
  readonly mode: "direct" | "proxy"
  /** `http://127.0.0.1:PORT` of the emulator. */
  readonly baseUrl: string
  readonly client: HttpClient.HttpClient
  readonly guard: Guard
  /** The API key in force: `Authorization: Bearer <it>` opens every preview of the organization. */
  readonly apiKey: Ref.Ref<string>
}

/**
 * Preview links and the proxy.
 *
 * @since 0.1.0
 */
export interface Preview {
  readonly previewUrl: (
    idOrName: string,
    port: number
  ) => Effect.Effect<{ readonly sandboxId: string; readonly url: string; readonly token: string }, HttpFailure>
  readonly signedUrl: (
    idOrName: string,
    port: number,
    expiresInSeconds: number
  ) => Effect.Effect<
    { readonly sandboxId: string; readonly port: number; readonly token: string; readonly url: string },
    HttpFailure
  >
  /** Ends a signed URL before its time (`…/signed-preview-url/{token}/expire`). */
  readonly expireSigned: (idOrName: string, port: number, token: string) => Effect.Effect<void, HttpFailure>
  /** The login page the proxy redirects to, on the emulator's main server. */
  readonly router: HttpRouter.HttpRouter
  /** Whether a preview connection of the sandbox is open (the jobs count it as activity). */
  readonly busy: (sandboxId: string) => boolean
  /** How many preview origins (listeners) are open. */
  readonly origins: Effect.Effect<number>
}

/** Headers that belong to one connection, never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host"
])
const TRANSITIONAL = new Set(["unknown", "creating", "starting", "restoring", "resuming", "pulling_snapshot"])

const forwardable = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  drop: ReadonlySet<string>
) => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue
    out[name] = typeof value === "string" ? value : value.join(", ")
  }
  return out
}

/**
 * Makes the preview side; its listeners belong to the calling scope.
 *
 * @since 0.1.0
 */
export const makePreview = (options: PreviewOptions): Effect.Effect<Preview, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { guard, store } = options
    const signed = new Map<string, { readonly sandboxId: string; readonly port: number; readonly expiresAt: number }>()
    const open = new Map<string, number>()
    const client = options.client.pipe(HttpClient.withTracerDisabledWhen(() => true))
    const cookies = makeCookieJar()
    const origins = yield* makePreviewOrigins({ reservePort: store.reservePort })
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    // A sandbox's origins close when it is destroyed.
    const unsubscribe = store.subscribe((event) => {
      if (event._tag !== "StateUpdated" || event.newState !== "destroyed") return
      for (const [token, entry] of signed) if (entry.sandboxId === event.record.id) signed.delete(token)
      runFork(origins.closeOwner(event.record.id))
    })
    yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))

    const opened = (id: string, delta: number) => {
      const next = (open.get(id) ?? 0) + delta
      if (next <= 0) open.delete(id)
      else open.set(id, next)
    }

    /** Streams the request to the sandbox port; the connection counts as activity while it is open. */
    const forward = (record: SandboxRecord, port: number, path: string, drop: ReadonlySet<string>) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const counts = request.headers[SKIP_ACTIVITY_HEADER] !== "true"
        if (counts) yield* store.touch(record.id)
        if (record.state !== "started") {
          // Daytona's runner: a starting container is not reachable yet (502); a stopped one has no IP (400).
          if (TRANSITIONAL.has(record.state)) return HttpServerResponse.empty({ status: 502 })
          return yield* new HttpFailure({
            status: 400,
            detail:
              "bad request: failed to resolve container IP after 3 attempts: no IP address found. Is the Sandbox started?",
            code: "BAD_REQUEST"
          })
        }
        const hostPort = yield* store.hostPort(record.id, port)
        const headers = forwardable(request.headers, new Set([...drop, TOKEN_HEADER, SKIP_ACTIVITY_HEADER]))
        const length = headers["content-length"]
        const hasBody =
          request.method !== "GET" &&
          request.method !== "HEAD" &&
          (request.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0"))
        delete headers["content-length"]
        let outgoing = HttpClientRequest.make(request.method)(`http://127.0.0.1:${hostPort}${path}`).pipe(
          HttpClientRequest.setHeaders(headers)
        )
        if (hasBody) {
          outgoing = HttpClientRequest.bodyStream(outgoing, request.stream, {
            contentType: headers["content-type"],
            contentLength: length === undefined ? undefined : Number(length)
          })
        }
        if (counts) opened(record.id, 1)
        const done = Effect.sync(() => counts && opened(record.id, -1))
        // Nothing listening on the port: the daemon's reverse proxy aborts with a bare 502 (no body).
        return yield* client.execute(outgoing).pipe(
          Effect.map((response) =>
            HttpServerResponse.stream(Stream.ensuring(response.stream, done), {
              status: response.status,
              headers: forwardable(response.headers, new Set())
            })
          ),
          Effect.catchAll((error: HttpClientError.HttpClientError) =>
            Effect.as(
              Effect.zipRight(done, Effect.logDebug(`preview ${record.id}:${port}: ${error.message}`)),
              HttpServerResponse.empty({ status: 502 })
            )
          )
        )
      })

    const login = (sandboxIdOrToken: string) =>
      Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
        redirectToLogin({
          baseUrl: options.baseUrl,
          returnTo: `http://${request.headers["host"] ?? "127.0.0.1"}${request.url}`,
          sandboxIdOrToken,
          method: request.method,
          cookies
        })
      )

    /** The origin of (sandbox, port): Daytona's `{port}-{sandboxId}` host. */
    const standardApp = (sandboxId: string, port: number) =>
      guard(
        "preview",
        "preview",
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const record = yield* store.get(sandboxId)
          const url = new URL(request.url, "http://preview")
          if (record.public) return yield* forward(record, port, request.url, new Set())
          const auth = request.headers["authorization"] ?? ""
          if (auth.startsWith("Bearer ") && secretMatches(auth.slice(7).trim(), yield* Ref.get(options.apiKey))) {
            return yield* forward(record, port, request.url, new Set(["authorization"]))
          }
          const token = Redacted.value(record.previewToken)
          if (secretMatches(request.headers[TOKEN_HEADER], token)) {
            return yield* forward(record, port, request.url, new Set())
          }
          if (secretMatches(url.searchParams.get(TOKEN_QUERY) ?? undefined, token)) {
            url.searchParams.delete(TOKEN_QUERY)
            return yield* forward(record, port, `${url.pathname}${url.search}`, new Set())
          }
          const cookie = cookieValue(request.headers["cookie"], `${COOKIE_PREFIX}${sandboxId}`)
          if (cookie !== undefined && cookies.decode(`${COOKIE_PREFIX}${sandboxId}`, cookie) === sandboxId) {
            return yield* forward(record, port, request.url, new Set())
          }
          return yield* login(sandboxId)
        })
      )

    /** The origin of a signed URL: Daytona's `{port}-{token}` host. */
    const signedApp = (token: string) =>
      guard(
        "preview",
        "preview",
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const name = `${COOKIE_PREFIX}${token}`
          const cookie = cookieValue(request.headers["cookie"], name)
          const fromCookie = cookie === undefined ? undefined : cookies.decode(name, cookie)
          const entry = signed.get(token)
          const now = yield* Clock.currentTimeMillis
          if (entry === undefined) return yield* login(token)
          if (fromCookie === entry.sandboxId) {
            return yield* forward(yield* store.get(entry.sandboxId), entry.port, request.url, new Set())
          }
          if (entry.expiresAt <= now) return yield* login(token)
          const response = yield* forward(yield* store.get(entry.sandboxId), entry.port, request.url, new Set())
          return HttpServerResponse.setHeader(response, "set-cookie", cookies.setCookie(name, entry.sandboxId))
        })
      )

    const originUrl = (port: number) => `http://127.0.0.1:${port}`

    return {
      previewUrl: (idOrName, port) =>
        Effect.gen(function* () {
          const record = yield* store.get(idOrName)
          const url =
            options.mode === "direct"
              ? originUrl(yield* store.hostPort(record.id, port))
              : originUrl(yield* origins.open(`${record.id}:${port}`, record.id, standardApp(record.id, port)))
          return { sandboxId: record.id, url, token: Redacted.value(record.previewToken) }
        }),
      signedUrl: (idOrName, port, expiresInSeconds) =>
        Effect.gen(function* () {
          if (!(expiresInSeconds >= 1 && expiresInSeconds <= 86_400)) {
            return yield* new HttpFailure({
              status: 400,
              detail: "expiresInSeconds must be between 1 second and 24 hours"
            })
          }
          const record = yield* store.get(idOrName)
          // Daytona: a 16-character lower-case nanoid without `_` and `-`.
          const token = randomBytes(16).toString("hex").slice(0, 16)
          const now = yield* Clock.currentTimeMillis
          signed.set(token, { sandboxId: record.id, port, expiresAt: now + expiresInSeconds * 1000 })
          const listener = yield* origins.open(`signed:${token}`, record.id, signedApp(token))
          return { sandboxId: record.id, port, token, url: originUrl(listener) }
        }),
      expireSigned: (idOrName, port, token) =>
        Effect.map(store.get(idOrName), (record) => {
          const entry = signed.get(token)
          if (entry !== undefined && entry.sandboxId === record.id && entry.port === port) signed.delete(token)
        }),
      router: HttpRouter.empty.pipe(HttpRouter.get("/oauth/authorize", Effect.succeed(loginPage))),
      busy: (sandboxId) => open.has(sandboxId),
      origins: origins.count
    }
  })
