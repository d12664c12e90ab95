import type { Daytona, Sandbox } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, distBuilt, http, sdk, transportCode, waitUntil } from "./support.js"

/** The launch command as OpenHands' runtime sends it. */
const LAUNCH =
  "mkdir -p /workspace && cd /openhands/code && python -u -m openhands.runtime.action_execution_server 4444 " +
  "--working-dir /workspace --plugins jupyter --username openhands --user-id 1000"
const SESSION_KEY = "session-key-1"

const createWithServer = (daytona: Daytona, options: { readonly public: boolean }) =>
  Effect.gen(function* () {
    const sandbox = yield* call(() =>
      daytona.create({ public: options.public, envVars: { SESSION_API_KEY: SESSION_KEY } })
    )
    const cmdId = yield* launch(sandbox)
    return { sandbox, cmdId }
  })

const launch = (sandbox: Sandbox) =>
  Effect.gen(function* () {
    yield* call(() => sandbox.process.createSession("action-execution-server"))
    const { cmdId } = yield* call(() =>
      sandbox.process.executeSessionCommand("action-execution-server", { command: LAUNCH, runAsync: true })
    )
    return cmdId!
  })

const headers = (token?: string): Record<string, string> => ({
  "X-Session-API-Key": SESSION_KEY,
  ...(token === undefined ? {} : { "X-Daytona-Preview-Token": token })
})

describe("Emulator action server and preview", () => {
  it.scopedLive(
    "proxy mode: its own origin; 502 before boot, 307 without the token, 200 with it; a restart resets it",
    () =>
      Effect.gen(function* () {
        const control = yield* Emulator.make({ actionServer: { bootDelay: "400 millis" } })
        const daytona = yield* sdk(control)
        const { cmdId, sandbox } = yield* createWithServer(daytona, { public: false })
        const link = yield* call(() => sandbox.getPreviewLink(4444))
        // The root of its own origin, as Daytona's `4444-<id>.proxy…` host: paths are the server's own.
        assert.match(link.url, /^http:\/\/127\.0\.0\.1:\d+$/)
        assert.notStrictEqual(new URL(link.url).port, new URL(control.apiUrl).port)
        const alive = new URL("/alive", link.url).toString()

        const early = yield* http(alive, { headers: headers(link.token) })
        assert.strictEqual(early.status, 502)
        // Nothing listens yet: the daemon's reverse proxy answers a bare 502.
        assert.strictEqual(early.text, "")
        const denied = yield* http(alive, { headers: headers(), redirect: "manual" })
        assert.strictEqual(denied.status, 307)
        const ready = yield* waitUntil(http(alive, { headers: headers(link.token) }), (r) => r.status === 200)
        assert.deepStrictEqual(JSON.parse(ready.text), { status: "ok" })
        assert.strictEqual(
          (yield* http(new URL("/vscode/connection_token", link.url).toString(), {
            headers: { "X-Daytona-Preview-Token": link.token }
          })).status,
          403
        )

        // A POST body streams through the proxy to the server, which runs it in the sandbox's workspace.
        const run = yield* http(new URL("/execute_action", link.url).toString(), {
          method: "POST",
          headers: { ...headers(link.token), "Content-Type": "application/json" },
          body: JSON.stringify({ action: { action: "run", args: { command: "pwd; echo $SESSION_API_KEY" } } })
        })
        assert.strictEqual(run.status, 200)
        const content: string = JSON.parse(run.text).content
        // The server's shell runs inside the sandbox: it sees its own /workspace.
        assert.strictEqual(content, "/workspace\nsession-key-1")

        const command = yield* call(() => sandbox.process.getSessionCommand("action-execution-server", cmdId))
        assert.isUndefined(command.exitCode)
        const logs = yield* call(() => sandbox.process.getSessionCommandLogs("action-execution-server", cmdId))
        assert.include(logs.stdout, "Action execution server running")
        assert.include(logs.stdout, "GET /alive 200")
        assert.strictEqual(yield* control.liveProcesses, 1)

        yield* call(() => sandbox.stop())
        assert.strictEqual(yield* control.liveProcesses, 0)
        // A stopped sandbox has no IP: Daytona's runner answers 400 in common-go's ErrorResponse.
        const stopped = yield* http(alive, { headers: headers(link.token) })
        assert.strictEqual(stopped.status, 400)
        assert.match(JSON.parse(stopped.text).message, /no IP address found\. Is the Sandbox started\?$/)
        assert.strictEqual(JSON.parse(stopped.text).code, "BAD_REQUEST")
        yield* call(() => sandbox.start())
        assert.strictEqual((yield* http(alive, { headers: headers(link.token), redirect: "manual" })).status, 307)
        const fresh = yield* call(() => sandbox.getPreviewLink(4444))
        assert.strictEqual(fresh.url, link.url)
        assert.notStrictEqual(fresh.token, link.token)
        assert.strictEqual((yield* http(alive, { headers: headers(fresh.token) })).status, 502)

        // The origin closes with its sandbox.
        yield* call(() => sandbox.delete())
        yield* waitUntil(control.previewOrigins, (n) => n === 0)
        assert.strictEqual(transportCode(yield* Effect.flip(http(alive))), "ECONNREFUSED")
      })
  )

  it.scopedLive("a public sandbox needs no token; a signed URL is its own origin, works until it expires", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ actionServer: { bootDelay: "0 millis" } })
      const daytona = yield* sdk(control)
      const open = yield* createWithServer(daytona, { public: true })
      const link = yield* call(() => open.sandbox.getPreviewLink(4444))
      yield* waitUntil(http(`${link.url}/alive`, { headers: headers() }), (r) => r.status === 200)

      const locked = yield* createWithServer(daytona, { public: false })
      const signed = yield* call(() => locked.sandbox.getSignedPreviewUrl(4444, 1))
      assert.strictEqual(signed.sandboxId, locked.sandbox.id)
      assert.strictEqual(signed.port, 4444)
      assert.match(signed.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.match(signed.token, /^[0-9a-z]{16}$/)
      const ok = yield* waitUntil(http(`${signed.url}/alive`, { headers: headers() }), (r) => r.status === 200)
      assert.deepStrictEqual(JSON.parse(ok.text), { status: "ok" })
      const cookie = (ok.headers.get("set-cookie") ?? "").split(";")[0]!
      assert.match(cookie, new RegExp(`^daytona-sandbox-auth-${signed.token}=`))
      yield* Effect.sleep("1100 millis")
      const expired = yield* http(`${signed.url}/alive`, { headers: headers(), redirect: "manual" })
      assert.strictEqual(expired.status, 307)
      // The cookie the proxy set keeps working, as Daytona's does.
      const withCookie = yield* http(`${signed.url}/alive`, { headers: { ...headers(), Cookie: cookie } })
      assert.strictEqual(withCookie.status, 200)
      // Followed, the redirect ends on the login page's HTML 400 (daytonaio/daytona#3891).
      const followed = yield* http(`${signed.url}/alive`, { headers: headers() })
      assert.strictEqual(followed.status, 400)
      assert.include(followed.headers.get("content-type") ?? "", "text/html")
    })
  )

  it.scopedLive("direct mode: ECONNREFUSED before boot, the server checks the token, the port survives a restart", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ previewMode: "direct", actionServer: { bootDelay: "300 millis" } })
      const daytona = yield* sdk(control)
      const { sandbox } = yield* createWithServer(daytona, { public: false })
      const link = yield* call(() => sandbox.getPreviewLink(4444))
      assert.match(link.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const refused = yield* Effect.flip(http(`${link.url}/alive`, { headers: headers(link.token) }))
      assert.strictEqual(transportCode(refused), "ECONNREFUSED")
      yield* waitUntil(http(`${link.url}/alive`, { headers: headers(link.token) }), (r) => r.status === 200)
      // In direct mode the action server itself checks the token.
      assert.strictEqual((yield* http(`${link.url}/alive`, { headers: headers() })).status, 401)

      yield* call(() => sandbox.stop())
      yield* call(() => sandbox.start())
      const again = yield* call(() => sandbox.getPreviewLink(4444))
      assert.strictEqual(again.url, link.url)
      assert.notStrictEqual(again.token, link.token)
    })
  )

  it.scopedLive.skipIf(!distBuilt)(
    "child mode: the server is a real process that ends with the sandbox (needs npm run build)",
    () =>
      Effect.gen(function* () {
        const control = yield* Emulator.make({ actionServerMode: "child", actionServer: { bootDelay: "100 millis" } })
        const daytona = yield* sdk(control)
        const { cmdId, sandbox } = yield* createWithServer(daytona, { public: false })
        const link = yield* call(() => sandbox.getPreviewLink(4444))
        yield* waitUntil(http(`${link.url}/alive`, { headers: headers(link.token) }), (r) => r.status === 200)
        assert.strictEqual(
          (yield* http(`${link.url}/vscode/connection_token`, { headers: { "X-Daytona-Preview-Token": link.token } }))
            .status,
          403
        )
        assert.strictEqual(yield* control.liveProcesses, 1)
        const logs = yield* call(() => sandbox.process.getSessionCommandLogs("action-execution-server", cmdId))
        assert.include(logs.stdout, "Action execution server running")
        yield* call(() => sandbox.delete())
        yield* waitUntil(control.liveProcesses, (n) => n === 0)

        // The launch's own arguments reach the child: with the vscode plugin (and VSCODE_PORT) it has a token.
        const withPlugin = yield* call(() => daytona.create({ public: true }))
        yield* call(() => withPlugin.process.createSession("action-execution-server"))
        yield* call(() =>
          withPlugin.process.executeSessionCommand("action-execution-server", {
            command:
              `export VSCODE_PORT=4445 SESSION_API_KEY=${SESSION_KEY} && python -u -m ` +
              "openhands.runtime.action_execution_server 4444 --working-dir /workspace --plugins vscode",
            runAsync: true
          })
        )
        const pluginLink = yield* call(() => withPlugin.getPreviewLink(4444))
        yield* waitUntil(http(`${pluginLink.url}/alive`), (r) => r.status === 200)
        const token = yield* http(`${pluginLink.url}/vscode/connection_token`, { headers: headers() })
        assert.strictEqual(token.status, 200)
        assert.isString(JSON.parse(token.text).token)
      })
  )
})
