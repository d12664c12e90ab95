import { assert, describe, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import * as Emulator from "../../src/emulator/Emulator.js"
import { http, waitUntil, watchEvents } from "./support.js"

const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`./reference/${name}`, import.meta.url), "utf8")) as {
    readonly components?: { readonly schemas: Record<string, { readonly properties?: Record<string, unknown> }> }
    readonly definitions?: Record<string, { readonly properties?: Record<string, unknown> }>
  }

const api = load("daytona-api.openapi.json")
const toolbox = load("daytona-toolbox.swagger.json")
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
ajv.addSchema(api, "api")
ajv.addSchema(toolbox, "toolbox")

/** Asserts that a body matches a component schema and carries no key the schema does not know. */
const check = (ref: string, body: unknown) => {
  const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref })
  const valid = validate(body)
  assert.isTrue(valid, `${ref}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`)
  const [document, pointer] = ref.split("#")
  const name = pointer!.split("/").pop()!
  const schema = document === "api" ? api.components!.schemas[name] : toolbox.definitions![name]
  const known = Object.keys(schema?.properties ?? {})
  const unknown = Object.keys(body as object).filter((key) => !known.includes(key))
  assert.deepStrictEqual(unknown, [], `${ref} has keys the schema does not define`)
}

/** The NestJS error body of the API (the OpenAPI document has no schema for it). */
const nestError = {
  type: "object",
  required: ["statusCode", "timestamp", "path", "error", "message"],
  properties: {
    statusCode: { type: "integer" },
    timestamp: { type: "string" },
    path: { type: "string" },
    error: { type: "string" },
    // Daytona's exception filter joins validation messages: always a string.
    message: { type: "string" }
  }
}

describe("Emulator responses match Daytona's published schemas", () => {
  it.scopedLive("API, toolbox and error bodies validate against the OpenAPI and toolbox documents", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ latencies: { create: 0 } })
      const headers = { Authorization: `Bearer ${Redacted.value(control.apiKey)}`, "Content-Type": "application/json" }
      const send = (path: string, init: RequestInit = {}) =>
        Effect.map(http(`${control.apiUrl}${path}`, { headers, ...init }), (r) => ({
          ...r,
          body: r.text === "" ? undefined : JSON.parse(r.text)
        }))

      const created = yield* send("/sandbox", {
        method: "POST",
        body: JSON.stringify({
          env: { A: "1" },
          labels: { app: "schema" },
          public: false,
          target: "us",
          autoStopInterval: 15
        })
      })
      assert.strictEqual(created.status, 200)
      check("api#/components/schemas/Sandbox", created.body)
      const id: string = created.body.id
      yield* send("/sandbox", { method: "POST", body: JSON.stringify({ labels: { app: "schema" } }) })

      check("api#/components/schemas/Sandbox", (yield* send(`/sandbox/${id}`)).body)
      const page = yield* send(`/sandbox?limit=1&labels=${encodeURIComponent('{"app":"schema"}')}`)
      check("api#/components/schemas/ListSandboxesResponse", page.body)
      assert.isString(page.body.nextCursor)
      for (const item of page.body.items) check("api#/components/schemas/SandboxListItem", item)
      const last = yield* send(`/sandbox?limit=1&cursor=${page.body.nextCursor}`)
      check("api#/components/schemas/ListSandboxesResponse", last.body)
      assert.isNull(last.body.nextCursor)

      check("api#/components/schemas/ToolboxProxyUrl", (yield* send(`/sandbox/${id}/toolbox-proxy-url`)).body)
      check("api#/components/schemas/PortPreviewUrl", (yield* send(`/sandbox/${id}/ports/4444/preview-url`)).body)
      check(
        "api#/components/schemas/SignedPortPreviewUrl",
        (yield* send(`/sandbox/${id}/ports/4444/signed-preview-url?expiresInSeconds=30`)).body
      )
      assert.strictEqual((yield* send(`/sandbox/${id}/last-activity`, { method: "POST" })).status, 201)
      // Bodiless POSTs arrive form-encoded from axios.
      const stopped = yield* send(`/sandbox/${id}/stop?force=false`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" }
      })
      check("api#/components/schemas/Sandbox", stopped.body)

      const missing = yield* send("/sandbox/nope")
      assert.strictEqual(missing.status, 404)
      assert.isTrue(ajv.validate(nestError, missing.body), ajv.errorsText())
      assert.strictEqual(missing.body.message, "Sandbox with ID or name nope not found")
      const invalid = yield* send("/sandbox", { method: "POST", body: JSON.stringify({ labels: "nope" }) })
      assert.strictEqual(invalid.status, 400)
      assert.isTrue(ajv.validate(nestError, invalid.body), ajv.errorsText())

      const other = (yield* send("/sandbox", { method: "POST", body: "{}" })).body.id as string
      const box = (path: string, init: RequestInit = {}) =>
        Effect.map(
          http(`${control.apiUrl.replace(/\/api$/, "/toolbox")}/${other}/process${path}`, {
            headers: { ...headers, "X-Daytona-SDK-Version": "0.218.0" },
            ...init
          }),
          (r) => ({
            ...r,
            body: r.text === "" ? undefined : JSON.parse(r.text)
          })
        )
      assert.strictEqual(
        (yield* box("/session", { method: "POST", body: JSON.stringify({ sessionId: "s" }) })).status,
        201
      )
      const sync = yield* box("/session/s/exec", { method: "POST", body: JSON.stringify({ command: "echo hi" }) })
      check("toolbox#/definitions/SessionExecuteResponse", sync.body)
      const async = yield* box("/session/s/exec", {
        method: "POST",
        body: JSON.stringify({ command: "true", async: true })
      })
      assert.strictEqual(async.status, 202)
      // The daemon sends null for what a command that has just started does not have yet (its Go fields are pointers).
      assert.deepInclude(async.body, { output: null, stdout: null, stderr: null, exitCode: null })
      check(
        "toolbox#/definitions/SessionExecuteResponse",
        Object.fromEntries(Object.entries(async.body).filter(([, value]) => value !== null))
      )
      check(
        "toolbox#/definitions/SessionCommandLogsResponse",
        (yield* box(`/session/s/command/${sync.body.cmdId}/logs`)).body
      )
      check("toolbox#/definitions/Command", (yield* box(`/session/s/command/${sync.body.cmdId}`)).body)
      check("toolbox#/definitions/Session", (yield* box("/session/s")).body)
      check(
        "toolbox#/definitions/ExecuteResponse",
        (yield* box("/execute", { method: "POST", body: JSON.stringify({ command: "echo x" }) })).body
      )
      const toolboxError = yield* box("/session/nope")
      assert.strictEqual(toolboxError.status, 404)
      check("toolbox#/definitions/ErrorResponse", toolboxError.body)
      assert.strictEqual(toolboxError.body.code, "PROCESS_NOT_FOUND")
      const badBody = yield* box("/session/s/exec", { method: "POST", body: JSON.stringify({}) })
      assert.strictEqual(badBody.status, 400)
      check("toolbox#/definitions/ErrorResponse", badBody.body)
    })
  )

  it.scopedLive("the routes beyond the lifecycle validate too: paginated, settings, SSH, snapshots, warm pools", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ latencies: { create: 0 } })
      const headers = { Authorization: `Bearer ${Redacted.value(control.apiKey)}`, "Content-Type": "application/json" }
      const send = (path: string, init: RequestInit = {}, key?: string) =>
        Effect.map(
          http(`${control.apiUrl}${path}`, {
            ...init,
            headers: key === undefined ? headers : { ...headers, Authorization: `Bearer ${key}` }
          }),
          (r) => ({ ...r, body: r.text === "" ? undefined : JSON.parse(r.text) })
        )
      const id: string = (yield* send("/sandbox", { method: "POST", body: JSON.stringify({ env: { A: "1" } }) })).body
        .id
      const paginated = yield* send("/sandbox/paginated?page=1&limit=10")
      check("api#/components/schemas/PaginatedSandboxes_deprecated", paginated.body)
      for (const item of paginated.body.items) check("api#/components/schemas/Sandbox", item)
      for (const path of [`autostop/30`, `autoarchive/60`, `autodelete/120`, `public/true`]) {
        const answer = yield* send(`/sandbox/${id}/${path}`, { method: "POST" })
        assert.strictEqual(answer.status, 201, path)
        check("api#/components/schemas/Sandbox", answer.body)
      }
      const labels = yield* send(`/sandbox/${id}/labels`, {
        method: "PUT",
        body: JSON.stringify({ labels: { a: "b" } })
      })
      check("api#/components/schemas/SandboxLabels", { labels: labels.body.labels })
      check("api#/components/schemas/Sandbox", labels.body)
      const ssh = yield* send(`/sandbox/${id}/ssh-access?expiresInMinutes=5`, { method: "POST" })
      check("api#/components/schemas/SshAccessDto", ssh.body)
      const valid = yield* send(
        `/sandbox/ssh-access/validate?token=${ssh.body.token}`,
        {},
        Redacted.value(control.sshGatewayApiKey)
      )
      check("api#/components/schemas/SshAccessValidationDto", valid.body)
      check("api#/components/schemas/Sandbox", (yield* send(`/sandbox/${id}/ssh-access`, { method: "DELETE" })).body)
      const snapshots = yield* send("/snapshots")
      check("api#/components/schemas/PaginatedSnapshots", snapshots.body)
      for (const item of snapshots.body.items) check("api#/components/schemas/SnapshotDto", item)
      check(
        "api#/components/schemas/SnapshotDto",
        (yield* send(`/snapshots/${encodeURIComponent(snapshots.body.items[0].name)}`)).body
      )
      const pool = yield* send("/warm-pools", {
        method: "POST",
        body: JSON.stringify({ snapshot: "daytonaio/sandbox:emulator", pool: 1 })
      })
      assert.strictEqual(pool.status, 201)
      check("api#/components/schemas/WarmPool", pool.body)
      for (const item of (yield* send("/warm-pools")).body) check("api#/components/schemas/WarmPool", item)
      check(
        "api#/components/schemas/WarmPool",
        (yield* send(`/warm-pools/${pool.body.id}`, { method: "PATCH", body: JSON.stringify({ pool: 2 }) })).body
      )
      assert.strictEqual((yield* send(`/warm-pools/${pool.body.id}`, { method: "DELETE" })).status, 204)
      yield* send(`/sandbox/${id}/stop`, { method: "POST" })
      yield* waitUntil(send(`/sandbox/${id}`), (r) => r.body.state === "stopped")
      check("api#/components/schemas/Sandbox", (yield* send(`/sandbox/${id}/archive`, { method: "POST" })).body)
      for (const bad of ["/sandbox?states=nope", "/sandbox?cursor=%25", "/snapshots/nope", "/warm-pools/x"]) {
        const answer = yield* send(bad, bad.startsWith("/warm-pools") ? { method: "DELETE" } : {})
        assert.isTrue(ajv.validate(nestError, answer.body), `${bad}: ${ajv.errorsText()}`)
      }
    })
  )

  it.scopedLive("the Socket.IO events carry full Sandbox DTOs", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ latencies: { create: 0 } })
      const events = yield* watchEvents(control)
      yield* http(`${control.apiUrl}/sandbox`, {
        method: "POST",
        headers: { Authorization: `Bearer ${Redacted.value(control.apiKey)}`, "Content-Type": "application/json" },
        body: "{}"
      })
      yield* waitUntil(
        Effect.sync(() => events.length),
        (n) => n >= 2
      )
      for (const event of events) {
        check("api#/components/schemas/Sandbox", event.name === "sandbox.created" ? event.data : event.data.sandbox)
      }
    })
  )
})
