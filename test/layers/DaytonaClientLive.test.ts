/**
 * The live client (real `@daytonaio/sdk`) against a throw-away HTTP server on 127.0.0.1: the requests
 * it sends, how error statuses are mapped, and that the API key never leaks into an error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Either, Exit, Layer, Option, Redacted } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as DaytonaClientLive from "../../src/layers/DaytonaClientLive.js"
import { DaytonaApiError, DaytonaClient, SID_LABEL } from "../../src/services/DaytonaClient.js"
import { DaytonaConfig } from "../../src/services/DaytonaConfig.js"

const KEY = "dtn_canary_5f1e0c9a7b"

interface Scripted {
  readonly match: string
  readonly status: number
  readonly body: unknown
  readonly headers?: Record<string, string>
}

interface Fake {
  apiUrl: string
  readonly requests: Array<{ readonly line: string; readonly at: number; readonly auth: string | undefined }>
  readonly bodies: Array<unknown>
  /** The next request whose "METHOD /path" starts with `match` gets this answer. */
  readonly script: Array<Scripted>
  /** How often the SDK tried to open its event socket. */
  socketAttempts: number
}

const dto = (id: string, state: string, labels: Record<string, string>, base: string) => ({
  id,
  organizationId: "org-1",
  name: id,
  user: "daytona",
  env: {},
  labels,
  public: false,
  networkBlockAll: false,
  target: "us",
  cpu: 1,
  gpu: 0,
  memory: 1,
  disk: 3,
  state,
  toolboxProxyUrl: `${base}/toolbox`
})

/** A minimal Daytona API: create/get/list (one item per page)/start/stop/delete, plus scripted answers. */
const fakeServer = Effect.acquireRelease(
  Effect.async<{ server: Http.Server; fake: Fake }>((resume) => {
    const sandboxes = new Map<string, { state: string; labels: Record<string, string> }>()
    const fake: Fake = { apiUrl: "", requests: [], bodies: [], script: [], socketAttempts: 0 }
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1")
        // The SDK's event socket (default mode) asks for a WebSocket upgrade; this API has no gateway.
        if (url.pathname.startsWith("/api/socket.io/")) {
          fake.socketAttempts++
          res.writeHead(404, { "content-type": "application/json" })
          return void res.end(JSON.stringify({ statusCode: 404, message: "Cannot GET /api/socket.io/" }))
        }
        const line = `${req.method} ${url.pathname}${url.search}`
        fake.requests.push({ line, at: Date.now(), auth: req.headers.authorization })
        const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { "content-type": "application/json", ...headers })
          res.end(body === undefined ? "" : JSON.stringify(body))
        }
        const scripted = fake.script.findIndex((s) => line.startsWith(s.match))
        if (scripted >= 0) {
          const [s] = fake.script.splice(scripted, 1)
          return send(s!.status, s!.body, s!.headers)
        }
        const base = fake.apiUrl.replace(/\/api$/, "")
        const parts = url.pathname
          .replace(/^\/api\/sandbox\/?/, "")
          .split("/")
          .filter(Boolean)
        const id = parts[0]
        const current = id === undefined ? undefined : sandboxes.get(id)
        if (req.method === "POST" && parts.length === 0) {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
          fake.bodies.push(body)
          const newId = `sbx-${sandboxes.size + 1}`
          sandboxes.set(newId, { state: "started", labels: body.labels })
          return send(200, dto(newId, "started", body.labels, base))
        }
        if (req.method === "GET" && parts.length === 0) {
          const wanted = JSON.parse(url.searchParams.get("labels") ?? "{}") as Record<string, string>
          const all = [...sandboxes.entries()].filter(([, s]) =>
            Object.entries(wanted).every(([k, v]) => s.labels[k] === v)
          )
          const index = Number(url.searchParams.get("cursor") ?? "0")
          const page = all.slice(index, index + 1).map(([i, s]) => dto(i, s.state, s.labels, base))
          return send(200, { items: page, nextCursor: index + 1 < all.length ? String(index + 1) : null })
        }
        if (current === undefined || id === undefined) {
          return send(404, { statusCode: 404, error: "Not Found", message: `Sandbox with ID or name ${id} not found` })
        }
        if (req.method === "GET" && parts.length === 1) {
          const shown = current.state
          // A transition completes on the read after the one that saw it under way.
          if (current.state === "starting") current.state = "started"
          if (current.state === "stopping") current.state = "stopped"
          return send(200, dto(id, shown, current.labels, base))
        }
        if (req.method === "POST" && parts[1] === "start") {
          current.state = "starting"
          return send(200, dto(id, "starting", current.labels, base))
        }
        if (req.method === "POST" && parts[1] === "stop") {
          current.state = "stopping"
          return send(200, undefined)
        }
        if (req.method === "DELETE" && parts.length === 1) {
          sandboxes.delete(id)
          return send(200, undefined)
        }
        if (req.method === "GET" && parts[1] === "ports") {
          return send(200, { sandboxId: id, url: `${base}/preview/${parts[2]}`, token: "preview-token" })
        }
        send(400, { message: `unexpected ${line}` })
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      fake.apiUrl = `http://127.0.0.1:${port}/api`
      resume(Effect.succeed({ server, fake }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

/** The live client pointed at `apiUrl`, inside the current scope. */
const liveClient = (apiUrl: string) =>
  Effect.gen(function* () {
    const settings = Either.getOrThrow(DaytonaConfig.make({ apiKey: KEY, apiUrl, target: "us" }))
    const context = yield* Layer.build(Layer.provide(DaytonaClientLive.layer, Layer.succeed(DaytonaConfig, settings)))
    return Context.get(context, DaytonaClient)
  })

const failureOf = <A>(exit: Exit.Exit<A, unknown>): DaytonaApiError => {
  const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  assert.instanceOf(error, DaytonaApiError)
  const e = error as DaytonaApiError
  for (const text of [e.message, e.detail, JSON.stringify(e), String(JSON.stringify(e.cause)), String(e)]) {
    assert.notInclude(text, KEY)
  }
  return e
}

describe("DaytonaClientLive", () => {
  it.scopedLive("create/get/stop/start/delete send the expected requests, with the key as bearer", () =>
    Effect.gen(function* () {
      const { fake } = yield* fakeServer
      const client = yield* liveClient(fake.apiUrl)
      const labels = { [SID_LABEL]: "s1" }
      const created = yield* client.create({ envVars: { A: "1" }, labels, public: false, autoStopInterval: 0 })
      assert.strictEqual(created.state, "started")
      assert.deepStrictEqual(labels, { [SID_LABEL]: "s1" }, "the caller's labels are not mutated")
      assert.deepStrictEqual(fake.bodies[0], {
        env: { A: "1" },
        labels: { [SID_LABEL]: "s1", "code-toolbox-language": "python" },
        public: false,
        target: "us",
        autoStopInterval: 0
      })
      yield* client.stop(created.id)
      const got = yield* client.get(created.id)
      assert.strictEqual(got.state, "stopped")
      const started = yield* client.start(created.id)
      assert.strictEqual(started.state, "started")
      const link = yield* client.previewLink(created.id, 4444)
      assert.strictEqual(Redacted.value(link.token), "preview-token")
      const found = yield* client.findBySid("s1")
      assert.strictEqual(Option.getOrThrow(found).id, created.id)
      yield* client.delete(created.id)
      const lines = fake.requests.map((r) => r.line)
      assert.deepStrictEqual(lines.slice(0, 3), [
        "POST /api/sandbox",
        "POST /api/sandbox/sbx-1/stop?force=false",
        "GET /api/sandbox/sbx-1"
      ])
      assert.include(lines, "POST /api/sandbox/sbx-1/start")
      assert.strictEqual(lines.at(-1), "DELETE /api/sandbox/sbx-1")
      assert.isTrue(fake.requests.every((r) => r.auth === `Bearer ${KEY}`))
      assert.isAbove(fake.socketAttempts, 0, "the SDK's default mode: it opens its event socket")
      const missing = failureOf(yield* Effect.exit(client.get(created.id)))
      assert.strictEqual(missing.reason, "NotFound")
      assert.strictEqual(missing.status, 404)
    })
  )

  it.scopedLive("findBySid reads every page and reports two sandboxes of one SID as ambiguous", () =>
    Effect.gen(function* () {
      const { fake } = yield* fakeServer
      const client = yield* liveClient(fake.apiUrl)
      const params = { envVars: {}, labels: { [SID_LABEL]: "dup" }, public: false, autoStopInterval: 0 }
      yield* client.create(params)
      yield* client.create(params)
      assert.lengthOf(yield* client.list({ [SID_LABEL]: "dup" }), 2)
      const error = yield* Effect.flip(client.findBySid("dup"))
      assert.strictEqual(error._tag, "AmbiguousSandbox")
      assert.isTrue(fake.requests.some((r) => r.line.includes("cursor=1")))
    })
  )

  it.scopedLive("401/404/409/500 map to reasons; a 429 waits its Retry-After-<throttler>, at most 3 times", () =>
    Effect.gen(function* () {
      const { fake } = yield* fakeServer
      const client = yield* liveClient(fake.apiUrl)
      const echo = { message: `invalid key: Bearer ${KEY}` }
      fake.script.push({ match: "GET /api/sandbox/a", status: 401, body: echo })
      const unauthorized = failureOf(yield* Effect.exit(client.get("a")))
      assert.strictEqual(unauthorized.reason, "Unauthorized")
      assert.strictEqual(unauthorized.operation, "DaytonaClient.get")
      assert.strictEqual(unauthorized.sandboxId, "a")
      assert.strictEqual(failureOf(yield* Effect.exit(client.get("nope"))).reason, "NotFound")
      fake.script.push({
        match: "POST /api/sandbox",
        status: 409,
        body: { message: "Sandbox with name x already exists" }
      })
      const params = { name: "x", envVars: {}, labels: {}, public: false, autoStopInterval: 0 }
      assert.strictEqual(failureOf(yield* Effect.exit(client.create(params))).reason, "Conflict")
      fake.script.push({ match: "GET /api/sandbox?", status: 500, body: { message: "boom" } })
      assert.strictEqual(failureOf(yield* Effect.exit(client.list({}))).reason, "Transient")

      fake.script.push({
        match: "GET /api/sandbox?",
        status: 429,
        body: { message: "ThrottlerException: Too Many Requests" },
        // As Daytona's throttler answers: the wait is in the header named after the throttler.
        headers: { "retry-after-authenticated": "1", "x-ratelimit-remaining-authenticated": "0" }
      })
      const before = fake.requests.length
      yield* client.list({})
      const tries = fake.requests.slice(before)
      assert.lengthOf(tries, 2)
      assert.isAtLeast(tries[1]!.at - tries[0]!.at, 950)

      for (let i = 0; i < 4; i++) {
        fake.script.push({ match: "GET /api/sandbox?", status: 429, body: echo, headers: { "retry-after": "0" } })
      }
      const limited = failureOf(yield* Effect.exit(client.list({})))
      assert.strictEqual(limited.reason, "RateLimited")
      assert.strictEqual(fake.script.length, 0, "exactly three retries")
    })
  )

  it.scopedLive("a refused connection is Transient and keeps no trace of the key", () =>
    Effect.gen(function* () {
      const { fake, server } = yield* fakeServer
      const client = yield* liveClient(fake.apiUrl)
      yield* Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
      const refused = failureOf(yield* Effect.exit(client.get("sbx-1")))
      assert.strictEqual(refused.reason, "Transient")
    })
  )

  it.scopedLive("SSH access: create, validate and revoke send Daytona's requests; the token stays out of errors", () =>
    Effect.gen(function* () {
      const { fake } = yield* fakeServer
      const client = yield* liveClient(fake.apiUrl)
      const { id } = yield* client.create({ envVars: {}, labels: {}, public: false, autoStopInterval: 0 })
      const token = "Fg8Jx2nPtWAVY5pVN0TlUcbCDNPFqePB"
      const access = (expiresAt: string) => ({
        id: "0b1c2d3e-0000-4000-8000-000000000001",
        sandboxId: id,
        token,
        expiresAt,
        createdAt: "2026-01-01T11:00:00.000Z",
        updatedAt: "2026-01-01T11:00:00.000Z",
        sshCommand: `ssh ${token}@ssh.app.daytona.io`
      })
      const lines = () => fake.requests.map((r) => r.line)
      const clean = (error: DaytonaApiError) => {
        for (const text of [error.message, error.detail, JSON.stringify(error), String(JSON.stringify(error.cause))]) {
          assert.notInclude(text, token)
        }
        return error
      }

      fake.script.push({
        match: `POST /api/sandbox/${id}/ssh-access`,
        status: 200,
        body: access("2026-01-01T11:30:00.000Z")
      })
      const created = yield* client.createSshAccess(id, 30)
      assert.strictEqual(lines().at(-1), `POST /api/sandbox/${id}/ssh-access?expiresInMinutes=30`)
      assert.strictEqual(Redacted.value(created.token), token)
      assert.strictEqual(Redacted.value(created.sshCommand), `ssh ${token}@ssh.app.daytona.io`)
      assert.notInclude(`${String(created.token)} ${JSON.stringify(created)}`, token)
      assert.strictEqual(created.expiresAt.toISOString(), "2026-01-01T11:30:00.000Z")
      assert.strictEqual(Option.getOrThrow(created.createdAt).toISOString(), "2026-01-01T11:00:00.000Z")

      // Without a lifetime the SDK sends none (Daytona's default is 60 minutes); a bad one is refused before any request.
      fake.script.push({
        match: `POST /api/sandbox/${id}/ssh-access`,
        status: 200,
        body: access("2026-01-01T12:00:00.000Z")
      })
      yield* client.createSshAccess(id)
      assert.strictEqual(lines().at(-1), `POST /api/sandbox/${id}/ssh-access`)
      const before = fake.requests.length
      for (const minutes of [0, -5, Number.NaN]) {
        assert.strictEqual(failureOf(yield* Effect.exit(client.createSshAccess(id, minutes))).reason, "Invalid")
      }
      assert.strictEqual(fake.requests.length, before)
      fake.script.push({ match: `POST /api/sandbox/${id}/ssh-access`, status: 200, body: { id: "x" } })
      assert.strictEqual(failureOf(yield* Effect.exit(client.createSshAccess(id))).reason, "Unknown")

      fake.script.push({
        match: "GET /api/sandbox/ssh-access/validate",
        status: 200,
        body: { valid: true, sandboxId: id }
      })
      assert.deepStrictEqual(yield* client.validateSshAccess(id, created.token), {
        valid: true,
        sandboxId: Option.some(id)
      })
      assert.strictEqual(lines().at(-1), `GET /api/sandbox/ssh-access/validate?token=${token}`)
      fake.script.push({
        match: "GET /api/sandbox/ssh-access/validate",
        status: 200,
        body: { valid: false, sandboxId: null }
      })
      assert.deepStrictEqual(yield* client.validateSshAccess(id, created.token), {
        valid: false,
        sandboxId: Option.none()
      })
      // Daytona answers validation only to its SSH gateway's key; its error body carries the path, query included.
      fake.script.push({
        match: "GET /api/sandbox/ssh-access/validate",
        status: 403,
        body: {
          statusCode: 403,
          error: "Forbidden",
          message: `Invalid authentication context for /api/sandbox/ssh-access/validate?token=${token}`
        }
      })
      const forbidden = clean(failureOf(yield* Effect.exit(client.validateSshAccess(id, created.token))))
      assert.strictEqual(forbidden.reason, "Forbidden")
      assert.include(forbidden.detail, "token=<redacted>")

      fake.script.push({ match: `DELETE /api/sandbox/${id}/ssh-access`, status: 200, body: dto(id, "started", {}, "") })
      yield* client.revokeSshAccess(id, created.token)
      assert.strictEqual(lines().at(-1), `DELETE /api/sandbox/${id}/ssh-access?token=${token}`)
      fake.script.push({ match: `DELETE /api/sandbox/${id}/ssh-access`, status: 200, body: dto(id, "started", {}, "") })
      yield* client.revokeSshAccess(id)
      assert.strictEqual(lines().at(-1), `DELETE /api/sandbox/${id}/ssh-access`)
      fake.script.push({
        match: `DELETE /api/sandbox/${id}/ssh-access`,
        status: 404,
        body: { statusCode: 404, message: `no access ${token}` }
      })
      const missing = clean(failureOf(yield* Effect.exit(client.revokeSshAccess(id, created.token))))
      assert.strictEqual(missing.reason, "NotFound")
    })
  )
})
