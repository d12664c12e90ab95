import { HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber, Option, Ref } from "effect"
import { strToU8, zipSync } from "fflate"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Undici from "undici"
import {
  execute,
  freePort,
  jsonOf,
  livePidsWith,
  post,
  refused,
  run,
  send,
  start,
  waitFor
} from "./ActionServerTestkit.js"

const upload = (url: string, query: Record<string, string>, name: string, bytes: Uint8Array) => {
  // undici's own FormData: NodeHttpClient.layerUndici (undici 7) cannot send Node 20's global one (undici 6).
  const form = new Undici.FormData()
  form.append("file", new Blob([bytes]), name)
  return send(
    HttpClientRequest.post(`${url}/upload_file`).pipe(
      HttpClientRequest.setUrlParams(query),
      HttpClientRequest.bodyFormData(form as unknown as FormData)
    )
  )
}

layer(NodeHttpClient.layerUndici, { excludeTestServices: true })("ActionServerApp", (it) => {
  describe("the shell", () => {
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

    it.scoped("an idle server starts no process; the first run starts one shell, kept for the next", () =>
      Effect.gen(function* () {
        const server = yield* start()
        assert.strictEqual(server.groups.size, 0)
        const first = yield* run(server, 'echo "$GREETING"; id -u; pwd')
        assert.strictEqual(first.observation, "run")
        assert.strictEqual(first.content, "hello from the sandbox\n1000\n/workspace")
        assert.strictEqual(first.extras.metadata.exit_code, 0)
        assert.strictEqual(first.extras.metadata.working_dir, "/workspace")
        assert.strictEqual(first.extras.metadata.suffix, "\n[The command completed with exit code 0.]")
        assert.strictEqual(first.message, 'Command `echo "$GREETING"; id -u; pwd` executed with exit code 0.')
        assert.isTrue(first.success)
        assert.strictEqual(server.groups.size, 1)
        yield* run(server, "cd /tmp && export LEFT=behind && f() { echo in-f; }")
        const second = yield* run(server, "pwd; echo $LEFT; f")
        assert.strictEqual(second.content, "/tmp\nbehind\nin-f")
        assert.strictEqual(second.extras.metadata.working_dir, "/tmp")
        assert.strictEqual(server.groups.size, 1)
      })
    )

    it.scoped("a hard timeout leaves the command running; the next command waits; '' collects the rest", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const timedOut = yield* run(server, "echo before; sleep 1; echo after", { timeout: 0.3, blocking: true })
        assert.strictEqual(timedOut.content, "before")
        assert.strictEqual(timedOut.extras.metadata.exit_code, -1)
        assert.match(timedOut.extras.metadata.suffix, /^\n\[The command timed out after 0\.3 seconds\. /)
        const refusedRun = yield* run(server, "echo nope")
        assert.strictEqual(refusedRun.extras.metadata.exit_code, -1)
        assert.include(refusedRun.extras.metadata.suffix, 'Your command "echo nope" is NOT executed.')
        const rest = yield* run(server, "", { blocking: true, timeout: 5 })
        assert.strictEqual(rest.content, "after")
        assert.strictEqual(rest.extras.metadata.exit_code, 0)
      })
    )

    it.scoped("input goes to the running command; C-c interrupts it", () =>
      Effect.gen(function* () {
        const server = yield* start()
        yield* run(server, "read line; echo got $line", { timeout: 0.3, blocking: true })
        const answered = yield* run(server, "hello", { isInput: true, blocking: true, timeout: 5 })
        assert.strictEqual(answered.content, "got hello")
        yield* run(server, "sleep 31.4159", { timeout: 0.3, blocking: true })
        yield* waitFor(() => livePidsWith("sleep 31.4159").length > 0, "the sleep should run")
        const interrupted = yield* run(server, "C-c", { isInput: true, blocking: true, timeout: 5 })
        assert.strictEqual(interrupted.content, "^C")
        assert.strictEqual(interrupted.extras.metadata.exit_code, 130)
        assert.strictEqual(
          interrupted.extras.metadata.suffix,
          "\n[The command completed with exit code 130. CTRL+C was sent.]"
        )
        yield* waitFor(() => livePidsWith("sleep 31.4159").length === 0, "C-c should end the sleep")
      })
    )

    it.scoped("two commands in one are refused; output is read as a terminal shows it", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const two = yield* run(server, "echo one\necho two")
        assert.strictEqual(two.observation, "error")
        assert.include(two.content, "Cannot execute multiple commands at once")
        const screen = yield* run(server, 'printf "a\\tb  \\nx\\ry\\n\\033[1mbold\\033[0m\\n"')
        assert.strictEqual(screen.content, "a       b\ny\nbold")
        const long = yield* run(server, "seq 1 7000")
        assert.include(long.content, "\n[... Observation truncated due to length ...]\n")
        assert.isTrue(long.content.startsWith("1\n2\n3\n") && long.content.endsWith("6999\n7000"))
      })
    )

    it.scoped("args.timeout is accepted by default (the current client sends it), refused when asked", () =>
      Effect.gen(function* () {
        const lenient = yield* start()
        const tolerated = yield* execute(lenient, { action: "run", args: { command: "sleep 5", timeout: 0.3 } })
        assert.strictEqual(tolerated.extras.metadata.exit_code, -1)
        const strict = yield* start({ tolerateArgsTimeout: false })
        const refusal = yield* post(`${strict.url}/execute_action`, {
          action: { action: "run", args: { command: "true", timeout: 1 } }
        })
        assert.strictEqual(refusal.status, 500)
        assert.include((yield* jsonOf(refusal)).detail, "got an unexpected keyword argument 'timeout'")
      })
    )
  })

  describe("files stay in the sandbox", () => {
    it.scoped("write, read, edit resolve absolute paths and links inside the sandbox folder", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const written = yield* execute(server, {
          action: "write",
          args: { path: "notes/a.txt", content: "l1\nl2\nl3" }
        })
        assert.strictEqual(written.extras.path, "/workspace/notes/a.txt")
        assert.strictEqual(fs.readFileSync(path.join(server.hostWorkDir, "notes/a.txt"), "utf8"), "l1\nl2\nl3\n")
        const part = yield* execute(server, { action: "read", args: { path: "notes/a.txt", start: 1, end: 2 } })
        assert.strictEqual(part.content, "l2\n")
        fs.symlinkSync("/", path.join(server.hostWorkDir, "up"))
        const escaped = yield* execute(server, {
          action: "write",
          args: { path: "/workspace/up/tmp/esc.txt", content: "x" }
        })
        assert.strictEqual(escaped.observation, "write")
        assert.isTrue(fs.existsSync(path.join(server.sandboxDir, "tmp/esc.txt")))
        const hostFile = yield* execute(server, { action: "read", args: { path: "/etc/hostname" } })
        assert.strictEqual(hostFile.observation, "error")
        const created = yield* execute(server, {
          action: "edit",
          args: { path: "/workspace/notes/b.py", command: "create", file_text: "x = 1\n" }
        })
        assert.strictEqual(created.content, "File created successfully at: /workspace/notes/b.py")
        assert.strictEqual(fs.readFileSync(path.join(server.hostWorkDir, "notes/b.py"), "utf8"), "x = 1\n")
        assert.strictEqual(fs.statSync(path.join(server.hostWorkDir, "notes/a.txt")).mode & 0o777, 0o664)
        const inserted = yield* execute(server, {
          action: "edit",
          args: { path: "/workspace/notes/b.py", command: "insert", insert_line: 1, new_str: "y = 2" }
        })
        assert.include(inserted.content, "     2\ty = 2")
        // The real editor moves a temporary file over the original: mode 600 afterwards.
        assert.strictEqual(fs.statSync(path.join(server.hostWorkDir, "notes/b.py")).mode & 0o777, 0o600)
      })
    )

    it.scoped("upload_file: absolute destinations in the sandbox, zips unpacked; download_files zips a folder", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const one = yield* upload(server.url, { destination: "/workspace/in" }, "u.txt", strToU8("bytes"))
        assert.deepStrictEqual(yield* jsonOf(one), {
          filename: "u.txt",
          destination: "/workspace/in",
          recursive: false
        })
        assert.strictEqual(fs.readFileSync(path.join(server.hostWorkDir, "in/u.txt"), "utf8"), "bytes")
        const bundle = zipSync({ "z/a.txt": strToU8("a"), "../../../escape.txt": strToU8("no") })
        const zipped = yield* upload(server.url, { destination: "/workspace/in", recursive: "true" }, "b.zip", bundle)
        assert.strictEqual(zipped.status, 200)
        assert.strictEqual(fs.readFileSync(path.join(server.hostWorkDir, "in/z/a.txt"), "utf8"), "a")
        assert.isFalse(fs.existsSync(path.join(server.hostWorkDir, "in/b.zip")))
        const relative = yield* upload(server.url, { destination: "in" }, "u.txt", strToU8("x"))
        assert.strictEqual(relative.status, 500)
        assert.deepStrictEqual(yield* jsonOf(relative), { detail: "400: Destination must be an absolute path" })
        const listed = yield* Effect.flatMap(post(`${server.url}/list_files`, { path: "/workspace/in" }), jsonOf)
        assert.deepStrictEqual(listed, ["z/", "u.txt"])
        const download = yield* send(HttpClientRequest.get(`${server.url}/download_files?path=/workspace/in`))
        assert.strictEqual(download.headers["content-type"], "application/zip")
        assert.isAbove(new Uint8Array(yield* download.arrayBuffer).length, 0)
      })
    )
  })

  describe("the HTTP surface and the emulator's checks", () => {
    it.scoped("the session key: 403 on every route but exactly /alive and /server_info", () =>
      Effect.gen(function* () {
        const server = yield* start({ sessionApiKey: Option.some("session-key") })
        const status = (p: string) => Effect.map(send(HttpClientRequest.get(`${server.url}${p}`)), (r) => r.status)
        assert.strictEqual(yield* status("/alive"), 200)
        assert.strictEqual(yield* status("/server_info"), 200)
        assert.strictEqual(yield* status("/alive/"), 403)
        assert.strictEqual(yield* status("/nowhere"), 403)
        const none = yield* send(HttpClientRequest.get(`${server.url}/vscode/connection_token`))
        assert.strictEqual(none.status, 403)
        assert.deepStrictEqual(yield* jsonOf(none), { detail: "Invalid API Key" })
        const keyed = { "X-Session-API-Key": "session-key" }
        assert.strictEqual((yield* post(`${server.url}/list_files`, {}, { "X-Session-API-Key": "x" })).status, 403)
        assert.strictEqual((yield* post(`${server.url}/list_files`, {}, keyed)).status, 200)
        const get = yield* send(
          HttpClientRequest.get(`${server.url}/execute_action`).pipe(HttpClientRequest.setHeaders(keyed))
        )
        assert.strictEqual(get.status, 405)
        const body = yield* post(`${server.url}/execute_action`, { action: 5 }, keyed)
        assert.strictEqual(body.status, 422)
        assert.strictEqual((yield* jsonOf(body)).detail, "Invalid request parameters")
        const unknown = yield* post(`${server.url}/execute_action`, { action: { action: "fly" } }, keyed)
        assert.strictEqual(unknown.status, 500)
      })
    )

    it.scoped("the VSCode token: only with the vscode plugin and VSCODE_PORT, as the real plugin", () =>
      Effect.gen(function* () {
        const token = (server: { url: string }) =>
          Effect.flatMap(send(HttpClientRequest.get(`${server.url}/vscode/connection_token`)), jsonOf)
        assert.deepStrictEqual(yield* token(yield* start()), { token: null })
        const noPort = yield* start({ plugins: ["vscode"] })
        assert.deepStrictEqual(yield* token(noPort), { token: null })
        assert.isTrue(fs.existsSync(path.join(noPort.hostWorkDir, ".vscode/settings.json")))
        const withPort = yield* start({ plugins: ["vscode"], env: { VSCODE_PORT: "4445" } })
        assert.deepStrictEqual(yield* token(withPort), { token: "vscode-token" })
      })
    )

    it.scoped("a preview token: 401 without it, checked before the session key", () =>
      Effect.gen(function* () {
        const server = yield* start({ previewToken: Option.some("preview"), sessionApiKey: Option.some("key") })
        assert.strictEqual((yield* send(HttpClientRequest.get(`${server.url}/alive`))).status, 401)
        const keyOnly = HttpClientRequest.get(`${server.url}/alive`).pipe(
          HttpClientRequest.setHeader("x-session-api-key", "key")
        )
        assert.strictEqual((yield* send(keyOnly)).status, 401)
        const tokenOnly = HttpClientRequest.get(`${server.url}/vscode/connection_token`).pipe(
          HttpClientRequest.setHeader("x-daytona-preview-token", "preview")
        )
        assert.strictEqual((yield* send(tokenOnly)).status, 403)
        const both = HttpClientRequest.get(`${server.url}/vscode/connection_token`).pipe(
          HttpClientRequest.setHeaders({ "x-daytona-preview-token": "preview", "x-session-api-key": "key" })
        )
        assert.strictEqual((yield* send(both)).status, 200)
      })
    )

    it.scoped("badGatewayBurst: exactly N 502s, then 200; refused requests do not count", () =>
      Effect.gen(function* () {
        const server = yield* start({ badGatewayBurst: 2, sessionApiKey: Option.some("key") })
        assert.strictEqual((yield* send(HttpClientRequest.get(`${server.url}/vscode/connection_token`))).status, 403)
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
