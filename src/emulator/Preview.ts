/**
 * Preview links: the standard preview URL (through the emulator's proxy, or straight at the sandbox port's
 * host port), signed preview URLs, and the proxy itself, which streams requests to the server behind a sandbox
 * port and answers as Daytona's proxy does when it cannot (401 without the token, 502 while nothing listens,
 * 503 when the sandbox is not running, an HTML 400 for an expired signed URL).
 *
 * @since 0.1.0
 */
import { HttpClient, HttpClientRequest, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { Clock, Effect, Redacted, Ref } from "effect"
import { randomBytes } from "node:crypto"
import { HttpFailure } from "./Dto.js"
import type { SandboxRecord } from "./Dto.js"
import { secretMatches } from "./Handler.js"
import type { Guard } from "./Handler.js"
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
  readonly router: (guard: Guard) => HttpRouter.HttpRouter
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
const TOKEN_HEADER = "x-daytona-preview-token"
const TOKEN_QUERY = "DAYTONA_SANDBOX_AUTH_KEY"
const TRANSITIONAL = new Set(["creating", "starting", "restoring", "resuming", "pulling_snapshot"])

const forwardable = (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>) => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === TOKEN_HEADER) continue
    out[name] = typeof value === "string" ? value : value.join(", ")
  }
  return out
}

/** The part of a raw request URL after `segments` leading path segments, with the auth query removed. */
const restOf = (url: string, segments: number) => {
  const parsed = new URL(url, "http://emulator")
  parsed.searchParams.delete(TOKEN_QUERY)
  const parts = parsed.pathname.split("/").slice(segments + 1)
  const search = parsed.searchParams.size === 0 ? "" : `?${parsed.searchParams.toString()}`
  return `/${parts.join("/")}${search}`
}

const parsePort = (text: string | undefined) => {
  const port = Number(text)
  return Number.isInteger(port) && port >= 1 && port <= 65535
    ? Effect.succeed(port)
    : Effect.fail(new HttpFailure({ status: 400, detail: `Invalid port ${JSON.stringify(text)}` }))
}

const expiredPage = HttpServerResponse.text(
  `<!DOCTYPE html>
<html><head><title>400 Bad Request</title></head>
<body><h1>400 Bad Request</h1><p>This signed preview URL is invalid or has expired. Ask for a new one.</p></body></html>
`,
  { status: 400, contentType: "text/html; charset=utf-8" }
)

/**
 * Makes the preview side.
 *
 * @since 0.1.0
 */
export const makePreview = (options: PreviewOptions): Effect.Effect<Preview> =>
  Effect.gen(function* () {
    const { store } = options
    const signed = yield* Ref.make<ReadonlyMap<string, { sandboxId: string; port: number; expiresAt: number }>>(
      new Map()
    )
    const client = options.client.pipe(HttpClient.withTracerDisabledWhen(() => true))

    const forward = (record: SandboxRecord, port: number, path: string) =>
      Effect.gen(function* () {
        if (record.state !== "started") {
          return yield* TRANSITIONAL.has(record.state)
            ? new HttpFailure({ status: 502, detail: `Sandbox ${record.id} is ${record.state}: try again shortly` })
            : new HttpFailure({ status: 503, detail: `Sandbox ${record.id} is not running (state: ${record.state})` })
        }
        const request = yield* HttpServerRequest.HttpServerRequest
        const hostPort = yield* store.hostPort(record.id, port)
        const headers = forwardable(request.headers)
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
        const response = yield* client.execute(outgoing).pipe(
          Effect.mapError(
            (error: HttpClientError.HttpClientError) =>
              new HttpFailure({
                status: 502,
                detail: `Bad Gateway: nothing answered on port ${port} of sandbox ${record.id} (${error.message})`
              })
          )
        )
        return HttpServerResponse.stream(response.stream, {
          status: response.status,
          headers: forwardable(response.headers)
        })
      })

    const proxied = Effect.gen(function* () {
      const params = yield* HttpRouter.params
      const request = yield* HttpServerRequest.HttpServerRequest
      const port = yield* parsePort(params["port"])
      const record = yield* store.get(params["sandboxId"] ?? "")
      if (!record.public) {
        const given =
          request.headers[TOKEN_HEADER] ?? new URL(request.url, "http://emulator").searchParams.get(TOKEN_QUERY)
        if (!secretMatches(given ?? undefined, Redacted.value(record.previewToken))) {
          return yield* new HttpFailure({
            status: 401,
            detail: `Unauthorized: this sandbox is private; send the preview token in the ${TOKEN_HEADER} header`
          })
        }
      }
      return yield* forward(record, port, restOf(request.url, 3))
    })

    const signedProxied = Effect.gen(function* () {
      const params = yield* HttpRouter.params
      const request = yield* HttpServerRequest.HttpServerRequest
      const entry = (yield* Ref.get(signed)).get(params["token"] ?? "")
      const now = yield* Clock.currentTimeMillis
      if (entry === undefined || entry.expiresAt <= now) return expiredPage
      const record = yield* store.get(entry.sandboxId)
      return yield* forward(record, entry.port, restOf(request.url, 2))
    })

    return {
      previewUrl: (idOrName, port) =>
        Effect.gen(function* () {
          const record = yield* store.get(idOrName)
          const url =
            options.mode === "direct"
              ? `http://127.0.0.1:${yield* store.hostPort(record.id, port)}`
              : `${options.baseUrl}/preview/${record.id}/${port}`
          return { sandboxId: record.id, url, token: Redacted.value(record.previewToken) }
        }),
      signedUrl: (idOrName, port, expiresInSeconds) =>
        Effect.gen(function* () {
          if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 86_400) {
            return yield* new HttpFailure({
              status: 400,
              detail: "expiresInSeconds must be a whole number of seconds from 1 to 86400"
            })
          }
          const record = yield* store.get(idOrName)
          const token = randomBytes(12).toString("hex")
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(signed, (map) => {
            const next = new Map([...map].filter(([, entry]) => entry.expiresAt > now))
            return next.set(token, { sandboxId: record.id, port, expiresAt: now + expiresInSeconds * 1000 })
          })
          return { sandboxId: record.id, port, token, url: `${options.baseUrl}/preview-signed/${token}` }
        }),
      router: (guard) =>
        HttpRouter.empty.pipe(
          HttpRouter.all("/preview/:sandboxId/:port", guard("preview", "preview", proxied)),
          HttpRouter.all("/preview/:sandboxId/:port/*", guard("preview", "preview", proxied)),
          HttpRouter.all("/preview-signed/:token", guard("preview", "preview", signedProxied)),
          HttpRouter.all("/preview-signed/:token/*", guard("preview", "preview", signedProxied))
        )
    }
  })
