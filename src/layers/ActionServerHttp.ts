/**
 * The `ActionServer` over `@effect/platform`'s `HttpClient`. The concrete client is chosen at the
 * app edge (`NodeHttpClient.layerUndici`, a keep-alive pool); this layer only requires `HttpClient`.
 *
 * Every request carries `X-Session-API-Key`, and `X-Daytona-Preview-Token` for a private sandbox;
 * both header names are redacted for the duration of the request, so no span or log shows them.
 * Non-2xx answers become `HttpStatusError` before anything else looks at the response, and every
 * body is decoded with `Schema`. Retrying is left to the caller (see `Retry.actionRequest`).
 *
 * @since 0.1.0
 */
import { HttpBody, HttpClient, HttpClientRequest, Headers } from "@effect/platform"
import type { HttpClientError, HttpClientResponse } from "@effect/platform"
import { Clock, Duration, Effect, Either, Layer, Option, ParseResult, Redacted, Schema } from "effect"
import { LogSwitchesRef } from "../services/LogSwitches.js"
import {
  ActionServer,
  type ActionServerError,
  type ActionServerService,
  ConnectionRefused,
  DecodeError,
  type Endpoint,
  HttpStatusError,
  PREVIEW_TOKEN_HEADER,
  RequestTimeout,
  SESSION_KEY_HEADER,
  TransportError
} from "../services/ActionServer.js"
import * as OpenHandsWire from "../services/OpenHandsWire.js"
import * as Wire from "./ActionServerWire.js"

/** The request timeouts of OpenHands' `ActionExecutionClient`. */
export const Timeouts = {
  alive: Duration.seconds(5),
  /** Added to an action's hard timeout for the HTTP request ("a few more seconds to get the timeout error"). */
  actionGrace: Duration.seconds(5),
  /** An action without a timeout of its own: OpenHands' `sandbox.timeout`. */
  defaultAction: Wire.DEFAULT_ACTION_TIMEOUT,
  listFiles: Duration.seconds(10),
  vscodeToken: Duration.seconds(10),
  upload: Duration.seconds(300),
  download: Duration.seconds(30)
} as const

const redactedHeaderNames = [SESSION_KEY_HEADER, PREVIEW_TOKEN_HEADER]

/** Walks an error's `cause` chain for a Node error code such as `ECONNREFUSED`. */
const errorCode = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const describe = (error: unknown): string => {
  const code = errorCode(error)
  const message = error instanceof Error ? error.message : String(error)
  return code === undefined ? message : `${code}: ${message}`
}

/** The `detail` of an error body: FastAPI's `{"detail": …}`, else the text, short. */
const detailOf = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string | undefined> =>
  response.text.pipe(
    Effect.map((text) => {
      try {
        const body = JSON.parse(text) as { detail?: unknown; message?: unknown }
        const detail = body.detail ?? body.message
        if (typeof detail === "string") return detail.slice(0, 300)
      } catch {
        // not JSON: fall through to the text
      }
      const trimmed = text.trim()
      return trimmed === "" ? undefined : trimmed.replace(/\s+/g, " ").slice(0, 300)
    }),
    Effect.timeout("1 second"),
    Effect.orElseSucceed(() => undefined)
  )

/** `redirected to <origin><path>` of a `Location` header, without its query. */
const redirectTarget = (location: string | undefined): string | undefined => {
  if (location === undefined || location === "") return undefined
  try {
    const target = new URL(location)
    return `redirected to ${target.origin}${target.pathname}`
  } catch {
    return "redirected"
  }
}

const fromClientError =
  (url: string) =>
  (error: HttpClientError.HttpClientError): Effect.Effect<never, ActionServerError> => {
    if (error._tag === "RequestError") {
      return Effect.fail(
        errorCode(error.cause) === "ECONNREFUSED"
          ? new ConnectionRefused({ url, cause: error.cause })
          : new TransportError({ url, detail: describe(error.cause ?? error), cause: error.cause })
      )
    }
    if (error.reason === "StatusCode") {
      const status = error.response.status
      if (status >= 300 && status < 400) {
        // A redirect (Daytona's preview proxy: 307 to its login page) is named by where it leads; its query (the
        // login's state) is left out.
        return Effect.zipRight(
          Effect.ignore(error.response.text.pipe(Effect.timeout("1 second"))),
          Effect.fail(new HttpStatusError({ url, status, detail: redirectTarget(error.response.headers["location"]) }))
        )
      }
      return Effect.flatMap(detailOf(error.response), (detail) =>
        Effect.fail(new HttpStatusError({ url, status: error.response.status, detail }))
      )
    }
    return Effect.fail(new DecodeError({ url, detail: describe(error.cause ?? error), cause: error.cause }))
  }

const decodeBody =
  <A, I>(schema: Schema.Schema<A, I>, url: string) =>
  (response: HttpClientResponse.HttpClientResponse): Effect.Effect<A, ActionServerError> =>
    response.json.pipe(
      Effect.catchTag("ResponseError", (error) =>
        error.reason === "Decode" || error.reason === "EmptyBody"
          ? Effect.fail(new DecodeError({ url, detail: "the body is not JSON", cause: error.cause }))
          : fromClientError(url)(error)
      ),
      Effect.flatMap((body) =>
        Schema.decodeUnknown(schema)(body).pipe(
          Effect.mapError(
            (error) => new DecodeError({ url, detail: ParseResult.TreeFormatter.formatErrorSync(error), cause: error })
          )
        )
      )
    )

/** The traffic log line (`DEBUG_RUNTIME`); annotated here rather than around every request, which costs each one. */
const debug = (line: string): Effect.Effect<void> =>
  Effect.logDebug(line).pipe(Effect.annotateLogs({ module: "ActionServer" }))

const randomBoundary = Effect.sync(() => {
  const bytes = new Uint8Array(12)
  globalThis.crypto.getRandomValues(bytes)
  return `----effect-daytona-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`
})

/**
 * A `multipart/form-data` body with one `file` part. (Built by hand: the platform's `FormData` body
 * and undici 7 disagree on Node 20.)
 */
const multipart = (boundary: string, name: string, content: Uint8Array): Uint8Array => {
  const safeName = name.replace(/["\r\n]/g, "_")
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${safeName}"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n"
  )
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`)
  const body = new Uint8Array(head.length + content.length + tail.length)
  body.set(head, 0)
  body.set(content, head.length)
  body.set(tail, head.length + content.length)
  return body
}

/**
 * Builds the service from the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function* () {
  // The `ActionServer.<name>` span below already covers each request (kind client, its URL): the client's own
  // `http.client` span inside it would double the tracing cost of every request for no extra information.
  const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient).pipe(
    HttpClient.withTracerDisabledWhen(() => true)
  )

  const send = <A>(
    name: string,
    endpoint: Endpoint,
    request: HttpClientRequest.HttpClientRequest,
    timeout: Duration.Duration,
    decode: (url: string) => (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, ActionServerError>
  ): Effect.Effect<A, ActionServerError> => {
    const url = `${endpoint.url.replace(/\/+$/, "")}${request.url}`
    const withAuth = request.pipe(
      HttpClientRequest.setUrl(url),
      HttpClientRequest.setHeader(SESSION_KEY_HEADER, Redacted.value(endpoint.sessionApiKey)),
      (req) =>
        Option.match(endpoint.previewToken, {
          onNone: () => req,
          onSome: (token) => HttpClientRequest.setHeader(req, PREVIEW_TOKEN_HEADER, Redacted.value(token))
        })
    )
    return Effect.gen(function* () {
      const switches = yield* LogSwitchesRef
      const started = yield* Clock.currentTimeMillis
      const result = yield* client.execute(withAuth).pipe(
        Effect.catchAll(fromClientError(url)),
        Effect.flatMap(decode(url)),
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new RequestTimeout({ url, timeout }) }),
        Effect.tapBoth({
          onFailure: (error) =>
            switches.debugRuntime ? debug(`${request.method} ${url} failed: ${error._tag}`) : Effect.void,
          onSuccess: () =>
            switches.debugRuntime
              ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
                  debug(`${request.method} ${url} ok in ${now - started} ms`)
                )
              : Effect.void
        })
      )
      return result
    }).pipe(
      Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...redactedHeaderNames]),
      // No stack trace: it would always point here (see DaytonaClientLive's funnel).
      Effect.withSpan(`ActionServer.${name}`, { attributes: { url }, kind: "client", captureStackTrace: false })
    )
  }

  const ignoreBody = () => (response: HttpClientResponse.HttpClientResponse) =>
    Effect.asVoid(Effect.orElseSucceed(response.text, () => ""))

  const service: ActionServerService = {
    alive: (endpoint) => send("alive", endpoint, HttpClientRequest.get("/alive"), Timeouts.alive, ignoreBody),

    execute: (endpoint, action) =>
      send(
        "execute",
        endpoint,
        HttpClientRequest.post("/execute_action").pipe(
          HttpClientRequest.bodyUnsafeJson(Wire.executeActionBody(action))
        ),
        Duration.sum(Wire.timeoutOf(action), Timeouts.actionGrace),
        (url) => (response) =>
          Effect.flatMap(decodeBody(Schema.Unknown, url)(response), (body) =>
            Either.match(Wire.decodeObservation(body), {
              onLeft: (detail) => Effect.fail(new DecodeError({ url, detail })),
              onRight: (observation) => Effect.succeed(Wire.markHidden(action, observation))
            })
          )
      ),

    listFiles: (endpoint, path) =>
      send(
        "listFiles",
        endpoint,
        HttpClientRequest.post("/list_files").pipe(
          HttpClientRequest.bodyUnsafeJson(path === undefined ? {} : { path })
        ),
        Timeouts.listFiles,
        (url) => decodeBody(Schema.Array(Schema.String), url)
      ),

    vscodeToken: (endpoint) =>
      send(
        "vscodeToken",
        endpoint,
        HttpClientRequest.get("/vscode/connection_token"),
        Timeouts.vscodeToken,
        (url) => (response) =>
          Effect.map(decodeBody(OpenHandsWire.VscodeToken, url)(response), ({ token }) =>
            token === null || token === undefined || token === "" ? Option.none() : Option.some(Redacted.make(token))
          )
      ),

    uploadFile: (endpoint, file) =>
      Effect.flatMap(randomBoundary, (boundary) =>
        send(
          "uploadFile",
          endpoint,
          HttpClientRequest.post("/upload_file").pipe(
            HttpClientRequest.setUrlParams({
              destination: file.destination,
              recursive: file.recursive === true ? "true" : "false"
            }),
            HttpClientRequest.setBody(
              HttpBody.uint8Array(
                multipart(boundary, file.name, file.content),
                `multipart/form-data; boundary=${boundary}`
              )
            )
          ),
          Timeouts.upload,
          ignoreBody
        )
      ),

    downloadFiles: (endpoint, path) =>
      send(
        "downloadFiles",
        endpoint,
        HttpClientRequest.get("/download_files").pipe(HttpClientRequest.setUrlParam("path", path)),
        Timeouts.download,
        (url) => (response) =>
          response.arrayBuffer.pipe(
            Effect.map((buffer) => new Uint8Array(buffer)),
            Effect.catchAll(fromClientError(url))
          )
      )
  }
  return ActionServer.of(service)
})

/**
 * The `ActionServer`, requiring an `HttpClient` (provide `NodeHttpClient.layerUndici` at the app edge).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<ActionServer, never, HttpClient.HttpClient> = Layer.effect(ActionServer, make)
