/**
 * DAYTONA-FIDELITY.md §2, previews: an origin per (sandbox, port) as Daytona's host-per-preview, the proxy's
 * credentials (preview token, API key, query key, cookie) and its 307 to the login page (`apps/proxy/pkg/proxy`).
 */
import type { Daytona } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, http, sdk, waitUntil } from "./support.js"

const LAUNCH = "python -m openhands.runtime.action_execution_server 4444 --working-dir /workspace"
const KEY = { "X-Session-API-Key": "k" }

const withServer = (daytona: Daytona, isPublic: boolean) =>
  Effect.gen(function* () {
    const sandbox = yield* call(() => daytona.create({ public: isPublic, envVars: { SESSION_API_KEY: "k" } }))
    yield* call(() => sandbox.process.createSession("s"))
    yield* call(() => sandbox.process.executeSessionCommand("s", { command: LAUNCH, runAsync: true }))
    return sandbox
  })

describe("Daytona fidelity: preview origins and auth", () => {
  it.scopedLive("each (sandbox, port) is its own origin: clients that set the path work as on Daytona", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ actionServer: { bootDelay: "0 millis" } })
      const daytona = yield* sdk(control)
      const sandbox = yield* withServer(daytona, true)
      const link = yield* call(() => sandbox.getPreviewLink(4444))
      yield* waitUntil(http(new URL("/alive", link.url).toString(), { headers: KEY }), (r) => r.status === 200)
      // ComputeSDK sets the pathname of the preview URL.
      const events = new URL(link.url)
      events.pathname = "/alive"
      assert.strictEqual((yield* http(events.toString(), { headers: KEY })).status, 200)

      assert.strictEqual((yield* call(() => sandbox.getPreviewLink(4444))).url, link.url)
      const other = yield* call(() => sandbox.getPreviewLink(3000))
      assert.notStrictEqual(other.url, link.url)
      assert.strictEqual((yield* http(other.url)).status, 502)
      const second = yield* call(() => daytona.create())
      const secondLink = yield* call(() => second.getPreviewLink(4444))
      assert.notStrictEqual(secondLink.url, link.url)
      assert.strictEqual(yield* control.previewOrigins, 3)

      // A deleted sandbox's origin closes; its port serves no other sandbox afterwards.
      const used = new Set([link.url, other.url, secondLink.url])
      yield* call(() => sandbox.delete())
      yield* waitUntil(control.previewOrigins, (n) => n === 1)
      for (let i = 0; i < 5; i++) {
        const next = yield* call(() => daytona.create())
        const url = (yield* call(() => next.getPreviewLink(4444))).url
        assert.isFalse(used.has(url))
        used.add(url)
      }
    })
  )

  it.scopedLive("a private preview takes the preview token, the API key as Bearer, or the query key; else 307", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ actionServer: { bootDelay: "0 millis" } })
      const daytona = yield* sdk(control)
      const sandbox = yield* withServer(daytona, false)
      const link = yield* call(() => sandbox.getPreviewLink(4444))
      const alive = `${link.url}/alive`
      yield* waitUntil(
        http(alive, { headers: { ...KEY, "X-Daytona-Preview-Token": link.token } }),
        (r) => r.status === 200
      )
      const bearer = { ...KEY, Authorization: `Bearer ${Redacted.value(control.apiKey)}` }
      assert.strictEqual((yield* http(alive, { headers: bearer })).status, 200)
      assert.strictEqual((yield* http(`${alive}?DAYTONA_SANDBOX_AUTH_KEY=${link.token}`, { headers: KEY })).status, 200)

      const wrong = yield* http(alive, {
        headers: { ...KEY, Authorization: "Bearer nope" },
        redirect: "manual"
      })
      assert.strictEqual(wrong.status, 307)
      const location = new URL(wrong.headers.get("location")!)
      assert.strictEqual(`${location.origin}${location.pathname}`, `${new URL(control.apiUrl).origin}/oauth/authorize`)
      assert.deepStrictEqual(
        [...location.searchParams.keys()],
        [
          "audience",
          "client_id",
          "code_challenge",
          "code_challenge_method",
          "redirect_uri",
          "response_type",
          "scope",
          "state"
        ]
      )
      assert.strictEqual(location.searchParams.get("code_challenge_method"), "S256")
      assert.strictEqual(location.searchParams.get("redirect_uri"), `${new URL(control.apiUrl).origin}/callback`)
      const state = JSON.parse(Buffer.from(location.searchParams.get("state")!, "base64").toString())
      assert.strictEqual(state.sandboxId, sandbox.id)
      assert.strictEqual(state.returnTo, alive)
      assert.include(wrong.headers.get("set-cookie") ?? "", "pkce_verifier=")
      assert.include(wrong.text, "Temporary Redirect")
      // Nothing to log in with: the login page answers 400.
      const login = yield* http(wrong.headers.get("location")!)
      assert.strictEqual(login.status, 400)
    })
  )

  it.scopedLive("an expired-on-demand signed URL redirects; its cookie is bound to its token", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ actionServer: { bootDelay: "0 millis" } })
      const daytona = yield* sdk(control)
      const sandbox = yield* withServer(daytona, false)
      const signed = yield* call(() => sandbox.getSignedPreviewUrl(4444, 60))
      const first = yield* waitUntil(http(`${signed.url}/alive`, { headers: KEY }), (r) => r.status === 200)
      const cookie = first.headers.get("set-cookie")!.split(";")[0]!
      const other = yield* call(() => sandbox.getSignedPreviewUrl(4444, 60))
      yield* call(() => sandbox.expireSignedPreviewUrl(4444, other.token))
      // The cookie of one token does not open another token's origin.
      const refused = yield* http(`${other.url}/alive`, { headers: { ...KEY, Cookie: cookie }, redirect: "manual" })
      assert.strictEqual(refused.status, 307)
      assert.strictEqual((yield* http(`${signed.url}/alive`, { headers: { ...KEY, Cookie: cookie } })).status, 200)
    })
  )
})
