/**
 * What every emulator request goes through: the API-key check, the injected fault of its route, the rendering
 * of failures in the body shape of its surface (API, toolbox daemon, preview proxy) and the request log.
 *
 * @since 0.1.0
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Duration, Effect, Option, ParseResult, Ref, Schema, Stream } from "effect"
import { timingSafeEqual } from "node:crypto"
import { apiErrorBody, daemonErrorBody, HttpFailure, proxyErrorBody, reasonPhrase } from "./Dto.js"
import { Fault } from "./Faults.js"
import type { EmulatorRoute, FaultQueue } from "./Faults.js"
import { THROTTLED_MESSAGE, throttledHeaders } from "./RateLimits.js"
import type { RateLimits, ThrottlerName } from "./RateLimits.js"

/**
 * Which part of the emulator answers: decides the error body shape and whether the API key is checked.
 *
 * @since 0.1.0
 */
export type Surface = "api" | "toolbox" | "preview"

/**
 * One line of the request log.
 *
 * @since 0.1.0
 */
export interface RequestLogEntry {
  readonly route: EmulatorRoute
  readonly method: string
  readonly path: string
  /** 0 when the connection was dropped without an answer. */
  readonly status: number
}

/**
 * What the guard needs.
 *
 * @since 0.1.0
 */
export interface GuardContext {
  /** The API key in force (rotated by `setApiKey`). */
  readonly apiKey: Ref.Ref<string>
  /** The key of the SSH gateway (Daytona's `sshGateway.apiKey`): it may only validate SSH tokens and read sandboxes. */
  readonly sshGatewayKey: string
  readonly faults: FaultQueue
  readonly requests: RequestLog
  readonly rateLimits: RateLimits
}

/** The routes that skip the `authenticated` throttler for a scoped one (Daytona's `@ThrottlerScope`). */
const SCOPED_THROTTLER: Partial<Record<EmulatorRoute, ThrottlerName>> = {
  "sandbox.create": "sandbox-create",
  "sandbox.start": "sandbox-lifecycle",
  "sandbox.stop": "sandbox-lifecycle",
  "sandbox.delete": "sandbox-lifecycle",
  "sandbox.recover": "sandbox-lifecycle",
  "sandbox.archive": "sandbox-lifecycle"
}

/**
 * The throttlers that count a request of a route (API routes only; the toolbox and previews go through the
 * proxy, which Daytona does not throttle).
 *
 * @since 0.1.0
 */
export const throttlersOf = (route: EmulatorRoute, surface: Surface): ReadonlyArray<ThrottlerName> => {
  if (surface !== "api") return []
  const scoped = SCOPED_THROTTLER[route]
  return scoped === undefined ? ["authenticated"] : [scoped]
}

/** The routes the SSH gateway's key may call. */
const GATEWAY_ROUTES: ReadonlySet<EmulatorRoute> = new Set(["sandbox.validateSshAccess", "sandbox.get"])

/** A handler's response, or a failure to render. */
export type Handler<R> = Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, R>

const MAX_LOG = 10_000

/**
 * The log of API and toolbox requests, the newest `MAX_LOG` kept. Appending is O(1) (amortized): the log is
 * trimmed in one step when it reaches twice its size, not copied on every request.
 *
 * @since 0.1.0
 */
export interface RequestLog {
  readonly record: (entry: RequestLogEntry) => Effect.Effect<void>
  readonly all: Effect.Effect<ReadonlyArray<RequestLogEntry>>
  readonly reset: Effect.Effect<void>
}

/**
 * Makes an empty {@link RequestLog}.
 *
 * @since 0.1.0
 */
export const makeRequestLog: Effect.Effect<RequestLog> = Effect.sync(() => {
  let entries: Array<RequestLogEntry> = []
  return {
    record: (entry) =>
      Effect.sync(() => {
        entries.push(entry)
        if (entries.length >= 2 * MAX_LOG) entries = entries.slice(-MAX_LOG)
      }),
    all: Effect.sync(() => entries.slice(-MAX_LOG)),
    reset: Effect.sync(() => {
      entries = []
    })
  }
})

/**
 * A JSON response.
 *
 * @since 0.1.0
 */
export const json = (body: unknown, status = 200, headers?: Readonly<Record<string, string>>) =>
  HttpServerResponse.unsafeJson(body, { status, ...(headers === undefined ? {} : { headers }) })

/**
 * Renders a failure in the body shape of a surface.
 *
 * @since 0.1.0
 */
export const render = (surface: Surface, failure: HttpFailure, method: string, path: string) =>
  json(
    surface === "toolbox"
      ? daemonErrorBody(failure.status, failure.detail, path, method, failure.code)
      : surface === "preview"
        ? proxyErrorBody(failure.status, failure.detail, path, method, failure.code)
        : apiErrorBody(failure.status, failure.detail, path),
    failure.status,
    failure.headers
  )

/** Sends the status, headers and first byte at once, the rest after `duration` (streamed bodies too). */
const dribble = (response: HttpServerResponse.HttpServerResponse, duration: Duration.DurationInput) => {
  const body: Stream.Stream<Uint8Array, unknown> =
    response.body._tag === "Stream"
      ? response.body.stream
      : Stream.succeed(response.body._tag === "Uint8Array" ? response.body.body : new TextEncoder().encode("{}"))
  const slowed = Stream.flatMap(Stream.zipWithIndex(body), ([chunk, index]) =>
    index === 0
      ? Stream.concat(
          Stream.succeed(chunk.subarray(0, 1)),
          Stream.fromEffect(Effect.as(Effect.sleep(duration), chunk.subarray(1)))
        )
      : Stream.succeed(chunk)
  )
  return HttpServerResponse.stream(slowed, {
    status: response.status,
    headers: response.headers,
    contentType: response.headers["content-type"] ?? "application/json"
  })
}

const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The response of a fault, wrapped around the handler. */
const withFault = <R>(
  fault: Option.Option<Fault>,
  handler: Handler<R>,
  fail: (failure: HttpFailure) => HttpServerResponse.HttpServerResponse
): Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, R | HttpServerRequest.HttpServerRequest> => {
  const drop = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.sync(() => {
      NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
      return HttpServerResponse.empty({ status: 599 })
    })
  )
  return Option.match(fault, {
    onNone: () => handler,
    onSome: Fault.$match({
      Status: ({ message, retryAfter, status }) =>
        Effect.succeed(
          fail(
            new HttpFailure({
              status,
              detail: message ?? reasonPhrase(status),
              headers: retryAfter === undefined ? undefined : { "retry-after": String(retryAfter) }
            })
          )
        ),
      Latency: ({ duration }) => Effect.zipRight(Effect.sleep(duration), handler),
      Malformed: () =>
        Effect.succeed(HttpServerResponse.text(`{"id":"malformed","state":"sta`, { contentType: "application/json" })),
      Drop: () => drop,
      Crash: () => drop,
      AllocateThenFail: ({ status }) =>
        Effect.as(
          Effect.either(handler),
          fail(new HttpFailure({ status, detail: `${reasonPhrase(status)} (the request was carried out)` }))
        ),
      SlowLoris: ({ duration }) => Effect.map(handler, (response) => dribble(response, duration)),
      RateLimited: ({ limit, retryAfter, throttler }) =>
        Effect.succeed(
          fail(
            new HttpFailure({
              status: 429,
              detail: THROTTLED_MESSAGE,
              headers: throttledHeaders(throttler, retryAfter ?? 60, limit ?? 100)
            })
          )
        )
    })
  })
}

/**
 * Wraps a route's handler: API-key check (API and toolbox), the route's injected fault, failure rendering and
 * the request log (API and toolbox).
 *
 * @since 0.1.0
 */
export const makeGuard =
  (context: GuardContext) =>
  <R>(
    route: EmulatorRoute,
    surface: Surface,
    handler: Handler<R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = new URL(request.url, "http://emulator").pathname
      // Daytona's API error bodies carry the request URL with its query string.
      const fail = (failure: HttpFailure) =>
        render(surface, failure, request.method, surface === "api" ? request.url : path)
      const key = yield* Ref.get(context.apiKey)
      const auth = request.headers["authorization"] ?? ""
      const token = auth.startsWith("Bearer ") ? auth.slice(7) : ""
      const role =
        surface === "preview"
          ? "anyone"
          : sameSecret(token, key)
            ? "user"
            : surface === "api" && sameSecret(token, context.sshGatewayKey)
              ? "ssh-gateway"
              : "nobody"
      const response = yield* Effect.gen(function* () {
        if (role === "nobody") {
          const denied = new HttpFailure({
            status: 401,
            detail: surface === "api" ? "Invalid credentials" : "Invalid credentials: the API key is missing or revoked"
          })
          if (surface !== "api") return fail(denied)
          const client = NodeHttpServerRequest.toIncomingMessage(request).socket.remoteAddress ?? "unknown"
          return yield* context.rateLimits.failedAuth(client).pipe(
            Effect.match({
              onFailure: fail,
              onSuccess: (headers) => fail(new HttpFailure({ ...denied, headers }))
            })
          )
        }
        const allowed = role === "ssh-gateway" ? GATEWAY_ROUTES.has(route) : route !== "sandbox.validateSshAccess"
        if (!allowed) {
          return fail(new HttpFailure({ status: 403, detail: "Invalid authentication context" }))
        }
        const fault = yield* context.faults.take(route)
        const throttled =
          role === "user" && Option.isNone(fault)
            ? yield* Effect.either(context.rateLimits.hit(throttlersOf(route, surface), "organization"))
            : undefined
        if (throttled !== undefined && throttled._tag === "Left") return fail(throttled.left)
        const answer = yield* withFault(fault, handler, fail).pipe(
          Effect.catchAll((failure) => Effect.succeed(fail(failure))),
          Effect.catchAllDefect((defect) =>
            Effect.as(
              Effect.logError(`emulator route ${route} failed`, defect),
              fail(new HttpFailure({ status: 500, detail: "An unexpected error occurred." }))
            )
          )
        )
        return throttled === undefined || Object.keys(throttled.right).length === 0
          ? answer
          : HttpServerResponse.setHeaders(answer, throttled.right)
      })
      if (surface !== "preview") {
        const entry: RequestLogEntry = {
          route,
          method: request.method,
          path,
          status: response.status === 599 ? 0 : response.status
        }
        yield* context.requests.record(entry)
      }
      return response
    })

/**
 * Reads a request body as an object: empty and form-encoded bodies are accepted (axios sends bodiless POSTs as
 * `application/x-www-form-urlencoded`), anything else must be JSON.
 *
 * @since 0.1.0
 */
export const readBody: Effect.Effect<unknown, HttpFailure, HttpServerRequest.HttpServerRequest> = Effect.gen(
  function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const text = yield* request.text.pipe(
      Effect.mapError(() => new HttpFailure({ status: 400, detail: "The request body could not be read" }))
    )
    if (text.trim() === "") return {}
    if ((request.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")) {
      return Object.fromEntries(new URLSearchParams(text))
    }
    return yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) =>
        new HttpFailure({ status: 400, detail: error instanceof Error ? error.message : "The body is not JSON" })
    })
  }
)

/**
 * Decodes a value with a schema; failures become a 400 with NestJS-style validation messages.
 *
 * @since 0.1.0
 */
export const decode = <A, I>(schema: Schema.Schema<A, I>, value: unknown): Effect.Effect<A, HttpFailure> =>
  Schema.decodeUnknown(schema)(value).pipe(
    Effect.mapError((error) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
      return new HttpFailure({
        status: 400,
        detail: issues.map((issue) => `${issue.path.length === 0 ? "body" : issue.path.join(".")}: ${issue.message}`)
      })
    })
  )

/**
 * The query parameters of the current request (repeated keys kept in order).
 *
 * @since 0.1.0
 */
export const query: Effect.Effect<URLSearchParams, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => new URL(request.url, "http://emulator").searchParams
)

/**
 * Whether `given` is the secret `expected`, compared in constant time.
 *
 * @since 0.1.0
 */
export const secretMatches = (given: string | undefined, expected: string): boolean =>
  given !== undefined && sameSecret(given, expected)

/**
 * A route guard made by {@link makeGuard}.
 *
 * @since 0.1.0
 */
export type Guard = ReturnType<typeof makeGuard>
