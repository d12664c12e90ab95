import { HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber, Option, Ref } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Undici from "undici"
import {
  alive,
  execute,
  freePort,
  jsonOf,
  post,
  readPid,
  refused,
  run,
  send,
  start,
  waitFor
} from "./ActionServerTestkit.js"

layer(NodeHttpClient.layerUndici, { excludeTestServices: true })("ActionServerApp", (it) => {
  describe("protocol", () => {
    it.scoped("GET /alive answers ok and logs one line per request without header values", () =>
      Effect.gen(function* () {
        const server = yield* start({ sessionApiKey: Option.some("secret-key") })
        const response = yield* send(
          HttpClientRequest.get(`${server.url}/alive`).pipe(
            HttpClientRequest.setHeader("x-session-api-key", "secret-key")
          )
        )
        assert.strictEqual(response.status, 200)
        assert.deepStrictEqual(yield* jsonOf(response), { status: "ok" })
        const lines = yield* Ref.get(server.lines)
        assert.isTrue(lines.some((line) => line.includes(`127.0.0.1:${server.port}`)))
        assert.isTrue(lines.some((line) => line.endsWith("GET /alive 200")))
        assert.isFalse(lines.some((line) => line.includes("secret-key")))
      })
    )

    it.scoped("run merges stdout and stderr in order, in the workspace, with the sandbox env", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const body = yield* run(server, 'echo one; echo two >&2; echo "$GREETING"; pwd')
        assert.strictEqual(body.observation, "run")
        assert.strictEqual(body.content, `one\ntwo\nhello from the sandbox\n${fs.realpathSync(server.workingDir)}`)
        assert.strictEqual(body.extras.command, 'echo one; echo two >&2; echo "$GREETING"; pwd')
        assert.strictEqual(body.extras.metadata.exit_code, 0)
        assert.strictEqual(body.extras.metadata.working_dir, server.workingDir)
        assert.strictEqual(body.extras.metadata.suffix, "\n[The command completed with exit code 0.]")
        assert.isFalse(body.extras.hidden)
        assert.isTrue(body.success)
        assert.strictEqual(body.message, 'Command `echo one; echo two >&2; echo "$GREETING"; pwd` executed.')
      })
    )

    it.scoped("a failing command reports its exit code; stdin is empty", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const body = yield* run(server, "cat; echo failing; exit 3")
        assert.strictEqual(body.content, "failing")
        assert.strictEqual(body.extras.metadata.exit_code, 3)
        assert.strictEqual(body.extras.metadata.suffix, "\n[The command completed with exit code 3.]")
        assert.isFalse(body.success)
      })
    )

    it.scoped("a timeout kills the command and its children (exit code -1)", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const pidFile = path.join(server.workingDir, "child.pid")
        const started = Date.now()
        const body = yield* run(server, `echo before; sleep 30 & echo $! > ${pidFile}; sleep 30`, 1)
        const elapsed = Date.now() - started
        assert.isAtLeast(elapsed, 900)
        assert.isBelow(elapsed, 3000)
        assert.strictEqual(body.content, "before")
        assert.strictEqual(body.extras.metadata.exit_code, -1)
        assert.include(body.extras.metadata.suffix, "timed out after 1 seconds")
        assert.isFalse(body.success)
        const child = readPid(pidFile)
        yield* waitFor(() => !alive(child), `the background child ${child} should be killed`)
      })
    )

    it.scoped("the action-level timeout applies when args carry none", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const body = yield* execute(server, { action: "run", args: { command: "sleep 10" }, timeout: 0.3 })
        assert.strictEqual(body.extras.metadata.exit_code, -1)
      })
    )

    it.scoped("write then read round-trips; a missing file is an error observation", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const written = yield* execute(server, {
          action: "write",
          args: { path: "sub/dir/a.txt", content: "l1\nl2\nl3\n" }
        })
        const absolute = path.join(server.workingDir, "sub/dir/a.txt")
        assert.deepStrictEqual(written, { observation: "write", content: "", extras: { path: absolute } })
        assert.strictEqual(fs.readFileSync(absolute, "utf8"), "l1\nl2\nl3\n")
        const read = yield* execute(server, { action: "read", args: { path: absolute } })
        assert.deepStrictEqual(read, {
          observation: "read",
          content: "l1\nl2\nl3\n",
          extras: { path: absolute, impl_source: "default" }
        })
        const part = yield* execute(server, { action: "read", args: { path: "sub/dir/a.txt", start: 1, end: 2 } })
        assert.strictEqual(part.content, "l2\n")
        const missing = yield* execute(server, { action: "read", args: { path: "nope.txt" } })
        assert.deepStrictEqual(missing, {
          observation: "error",
          content:
            `File not found: ${path.join(server.workingDir, "nope.txt")}. ` +
            `Your current working directory is ${server.workingDir}.`,
          extras: { error_id: "" }
        })
      })
    )

    it.scoped("bad bodies and unknown actions answer 400", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const unknown = yield* post(`${server.url}/execute_action`, { action: { action: "browse", args: {} } })
        assert.strictEqual(unknown.status, 400)
        assert.include((yield* jsonOf(unknown)).detail, "Unknown action type: browse")
        const noCommand = yield* post(`${server.url}/execute_action`, { action: { action: "run", args: {} } })
        assert.strictEqual(noCommand.status, 400)
        const notJson = yield* send(
          HttpClientRequest.post(`${server.url}/execute_action`).pipe(
            HttpClientRequest.bodyText("{nope", "application/json")
          )
        )
        assert.strictEqual(notJson.status, 400)
        const shape = yield* post(`${server.url}/execute_action`, { command: "ls" })
        assert.strictEqual(shape.status, 400)
        const notFound = yield* send(HttpClientRequest.get(`${server.url}/nowhere`))
        assert.strictEqual(notFound.status, 404)
      })
    )

    it.scoped("list_files: folders first with a trailing slash, each group sorted; a missing path is []", () =>
      Effect.gen(function* () {
        const server = yield* start()
        for (const dir of ["b", "A", "sub/inner"]) fs.mkdirSync(path.join(server.workingDir, dir), { recursive: true })
        for (const file of ["z.txt", "a.txt", "B.txt", "sub/f.txt"])
          fs.writeFileSync(path.join(server.workingDir, file), "")
        assert.deepStrictEqual(yield* Effect.flatMap(post(`${server.url}/list_files`, {}), jsonOf), [
          "A/",
          "b/",
          "sub/",
          "a.txt",
          "B.txt",
          "z.txt"
        ])
        assert.deepStrictEqual(yield* Effect.flatMap(post(`${server.url}/list_files`, { path: "sub" }), jsonOf), [
          "inner/",
          "f.txt"
        ])
        assert.deepStrictEqual(yield* Effect.flatMap(post(`${server.url}/list_files`, { path: "missing" }), jsonOf), [])
      })
    )

    it.scoped("GET /vscode/connection_token answers the token, or null when it is empty", () =>
      Effect.gen(function* () {
        const withToken = yield* start()
        const set = yield* send(HttpClientRequest.get(`${withToken.url}/vscode/connection_token`))
        assert.deepStrictEqual(yield* jsonOf(set), { token: "vscode-token" })
        const withoutToken = yield* start({ vscodeToken: "" })
        const empty = yield* send(HttpClientRequest.get(`${withoutToken.url}/vscode/connection_token`))
        assert.deepStrictEqual(yield* jsonOf(empty), { token: null })
      })
    )

    it.scoped("POST /upload_file writes the file part into the destination", () =>
      Effect.gen(function* () {
        const server = yield* start()
        // undici's own FormData: NodeHttpClient.layerUndici (undici 7) cannot send Node 20's global one (undici 6).
        const form = new Undici.FormData()
        form.append("file", new Blob([new TextEncoder().encode("uploaded bytes")]), "notes.txt")
        const response = yield* send(
          HttpClientRequest.post(`${server.url}/upload_file`).pipe(
            HttpClientRequest.setUrlParams({ destination: "inbox", recursive: "false" }),
            HttpClientRequest.bodyFormData(form as unknown as FormData)
          )
        )
        assert.strictEqual(response.status, 200)
        assert.deepStrictEqual(yield* jsonOf(response), {
          filename: "notes.txt",
          destination: "inbox",
          recursive: false
        })
        assert.strictEqual(
          fs.readFileSync(path.join(server.workingDir, "inbox", "notes.txt"), "utf8"),
          "uploaded bytes"
        )
        const notMultipart = yield* post(`${server.url}/upload_file`, {})
        assert.strictEqual(notMultipart.status, 400)
        const other = new Undici.FormData()
        other.append("note", "no file here")
        const noFile = yield* send(
          HttpClientRequest.post(`${server.url}/upload_file`).pipe(
            HttpClientRequest.bodyFormData(other as unknown as FormData)
          )
        )
        assert.strictEqual(noFile.status, 400)
        assert.include((yield* jsonOf(noFile)).detail, "no `file` part")
        const recursive = yield* send(
          HttpClientRequest.post(`${server.url}/upload_file`).pipe(
            HttpClientRequest.setUrlParams({ destination: "inbox", recursive: "true" }),
            HttpClientRequest.bodyFormData(form as unknown as FormData)
          )
        )
        assert.strictEqual(recursive.status, 400)
      })
    )
  })

  describe("checks", () => {
    it.scoped("a session key: 403 without it or with a wrong one, 200 with it; /alive is exempt", () =>
      Effect.gen(function* () {
        const server = yield* start({ sessionApiKey: Option.some("session-key") })
        assert.strictEqual((yield* send(HttpClientRequest.get(`${server.url}/alive`))).status, 200)
        const none = yield* send(HttpClientRequest.get(`${server.url}/vscode/connection_token`))
        assert.strictEqual(none.status, 403)
        assert.deepStrictEqual(yield* jsonOf(none), { detail: "Invalid API Key" })
        const wrong = yield* post(`${server.url}/list_files`, {}, { "X-Session-API-Key": "session-kez" })
        assert.strictEqual(wrong.status, 403)
        const right = yield* post(`${server.url}/list_files`, {}, { "X-Session-API-Key": "session-key" })
        assert.strictEqual(right.status, 200)
      })
    )

    it.scoped("a preview token: 401 without it, checked before the session key", () =>
      Effect.gen(function* () {
        const server = yield* start({ previewToken: Option.some("preview"), sessionApiKey: Option.some("key") })
        const none = yield* send(HttpClientRequest.get(`${server.url}/alive`))
        assert.strictEqual(none.status, 401)
        const keyOnly = yield* send(
          HttpClientRequest.get(`${server.url}/alive`).pipe(HttpClientRequest.setHeader("x-session-api-key", "key"))
        )
        assert.strictEqual(keyOnly.status, 401)
        const tokenOnly = yield* send(
          HttpClientRequest.get(`${server.url}/vscode/connection_token`).pipe(
            HttpClientRequest.setHeader("x-daytona-preview-token", "preview")
          )
        )
        assert.strictEqual(tokenOnly.status, 403)
        const both = yield* send(
          HttpClientRequest.get(`${server.url}/vscode/connection_token`).pipe(
            HttpClientRequest.setHeaders({ "x-daytona-preview-token": "preview", "x-session-api-key": "key" })
          )
        )
        assert.strictEqual(both.status, 200)
      })
    )

    it.scoped("badGatewayBurst: exactly N 502s, then 200; refused requests do not count", () =>
      Effect.gen(function* () {
        const server = yield* start({ badGatewayBurst: 2, sessionApiKey: Option.some("key") })
        const token = HttpClientRequest.get(`${server.url}/vscode/connection_token`)
        assert.strictEqual((yield* send(token)).status, 403)
        const authed = HttpClientRequest.get(`${server.url}/alive`).pipe(
          HttpClientRequest.setHeader("x-session-api-key", "key")
        )
        const statuses: Array<number> = []
        for (let i = 0; i < 4; i++) statuses.push((yield* send(authed)).status)
        assert.deepStrictEqual(statuses, [502, 502, 200, 200])
        const lines = yield* Ref.get(server.lines)
        assert.strictEqual(lines.filter((line) => line.endsWith("GET /alive 502")).length, 2)
      })
    )

    it.scoped("bootDelay: connections are refused until the server binds", () =>
      Effect.gen(function* () {
        const port = yield* freePort
        const started = Date.now()
        const fiber = yield* Effect.fork(start({ port, bootDelay: "600 millis" }))
        yield* Effect.sleep("100 millis")
        assert.isTrue(yield* refused(port))
        const server = yield* Fiber.join(fiber)
        assert.isAtLeast(Date.now() - started, 550)
        assert.strictEqual(server.port, port)
        assert.isFalse(yield* refused(port))
        assert.strictEqual((yield* send(HttpClientRequest.get(`${server.url}/alive`))).status, 200)
      })
    )

    it.scoped("binding a taken port fails with ActionServerBindError", () =>
      Effect.gen(function* () {
        const first = yield* start()
        const error = yield* Effect.flip(start({ port: first.port }))
        assert.strictEqual(error._tag, "ActionServerBindError")
        assert.strictEqual(error.port, first.port)
        assert.include(error.message, `127.0.0.1:${first.port}`)
      })
    )
  })
})
