/**
 * The ActionServer client over a real HttpClient (undici) against the built-in action execution
 * server on 127.0.0.1: the protocol, the auth headers and every error type.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Option, Redacted, Ref } from "effect"
import * as fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { ActionServerFault } from "../../src/emulator/ActionServerApp.js"
import * as ActionServerHttp from "../../src/layers/ActionServerHttp.js"
import { Action, ActionServer, type Endpoint } from "../../src/services/ActionServer.js"
import { freePort, start } from "../emulator/ActionServerTestkit.js"

const client = ActionServerHttp.layer.pipe(Layer.provide(NodeHttpClient.layerUndici))

const endpointOf = (url: string, previewToken?: string): Endpoint => ({
  url,
  sessionApiKey: Redacted.make("session-key"),
  previewToken: previewToken === undefined ? Option.none() : Option.some(Redacted.make(previewToken))
})

const keyed = { sessionApiKey: Option.some("session-key") }

/** A plain HTTP server on 127.0.0.1 for the scope; its origin. */
const listen = (handler: Http.RequestListener) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer(handler)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

describe("ActionServerHttp", () => {
  it.scopedLive("alive, run, write, read, listFiles, vscodeToken and upload", () =>
    Effect.gen(function* () {
      // With the vscode plugin and VSCODE_PORT, as OpenHands' server needs them for a VSCode token.
      const server = yield* start({ ...keyed, plugins: ["vscode"], env: { VSCODE_PORT: "4445" } })
      const api = yield* ActionServer
      const endpoint = endpointOf(server.url)
      yield* api.alive(endpoint)
      const command = "sh -c 'echo hi; echo err >&2; exit 3'"
      const ran = yield* api.execute(endpoint, Action.Run({ command }))
      assert.strictEqual(ran._tag, "Run")
      if (ran._tag === "Run") {
        assert.deepStrictEqual([ran.command, ran.content, ran.exitCode], [command, "hi\nerr", 3])
        assert.strictEqual(ran.metadata.exitCode, 3)
        assert.include(ran.metadata.suffix, "exit code 3")
      }
      const written = yield* api.execute(endpoint, Action.Write({ path: "dir/a.txt", content: "A" }))
      assert.strictEqual(written._tag, "Write")
      const read = yield* api.execute(endpoint, Action.Read({ path: "dir/a.txt" }))
      assert.strictEqual(read._tag, "Read")
      if (read._tag === "Read") {
        // The server names paths as the sandbox sees them.
        assert.strictEqual(read.path, `${server.workDir}/dir/a.txt`)
        assert.match(read.content, /^A\n?$/)
      }
      const missing = yield* api.execute(endpoint, Action.Read({ path: "nope.txt" }))
      assert.strictEqual(missing._tag, "Error")
      // The vscode plugin writes .vscode/settings.json into the working folder, as the real one does.
      assert.deepStrictEqual(yield* api.listFiles(endpoint), [".vscode/", "dir/"])
      assert.deepStrictEqual(yield* api.listFiles(endpoint, "dir"), ["a.txt"])
      const token = yield* api.vscodeToken(endpoint)
      assert.strictEqual(Option.map(token, Redacted.value).pipe(Option.getOrUndefined), "vscode-token")
      const destination = `${server.workDir}/up`
      yield* api.uploadFile(endpoint, { destination, name: "b.bin", content: new Uint8Array([1, 2, 3]) })
      assert.deepStrictEqual([...fs.readFileSync(path.join(server.hostWorkDir, "up", "b.bin"))], [1, 2, 3])
    }).pipe(Effect.provide(client))
  )

  it.scopedLive("an empty VSCode token is none", () =>
    Effect.gen(function* () {
      const server = yield* start({ vscodeToken: "" })
      const token = yield* (yield* ActionServer).vscodeToken(endpointOf(server.url))
      assert.isTrue(Option.isNone(token))
    }).pipe(Effect.provide(client))
  )

  it.scopedLive("typed errors: refused, 403, 401, 502, malformed, crash", () =>
    Effect.gen(function* () {
      const api = yield* ActionServer
      const port = yield* freePort
      const refused = yield* Effect.either(api.alive(endpointOf(`http://127.0.0.1:${port}`)))
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "ConnectionRefused")

      const keyedServer = yield* start({ sessionApiKey: Option.some("another-key") })
      const forbidden = yield* Effect.either(api.listFiles(endpointOf(keyedServer.url)))
      assert.isTrue(
        Either.isLeft(forbidden) && forbidden.left._tag === "HttpStatusError" && forbidden.left.status === 403
      )
      if (Either.isLeft(forbidden)) assert.include(forbidden.left.message, "Invalid API Key")

      const privateServer = yield* start({ previewToken: Option.some("preview") })
      const unauthorized = yield* Effect.either(api.alive(endpointOf(privateServer.url)))
      assert.isTrue(
        Either.isLeft(unauthorized) && unauthorized.left._tag === "HttpStatusError" && unauthorized.left.status === 401
      )
      yield* api.alive(endpointOf(privateServer.url, "preview"))

      const faults = yield* Ref.make<ReadonlyArray<ActionServerFault>>([
        ActionServerFault.Status({ status: 502 }),
        ActionServerFault.Malformed(),
        ActionServerFault.Crash()
      ])
      const faulty = yield* start({
        nextFault: () => Ref.modify(faults, (all) => [Option.fromNullable(all[0]), all.slice(1)] as const)
      })
      const endpoint = endpointOf(faulty.url)
      const badGateway = yield* Effect.either(api.listFiles(endpoint))
      assert.isTrue(
        Either.isLeft(badGateway) && badGateway.left._tag === "HttpStatusError" && badGateway.left.status === 502
      )
      const malformed = yield* Effect.either(api.listFiles(endpoint))
      assert.isTrue(Either.isLeft(malformed) && malformed.left._tag === "DecodeError")
      const crashed = yield* Effect.either(api.execute(endpoint, Action.Run({ command: "sleep 5" })))
      assert.isTrue(Either.isLeft(crashed) && crashed.left._tag === "TransportError", String(crashed))
      const after = yield* Effect.either(api.alive(endpoint))
      assert.isTrue(Either.isLeft(after) && after.left._tag === "ConnectionRefused")
    }).pipe(Effect.provide(client))
  )

  it.scopedLive(
    "a 307 to a login page (Daytona's preview proxy) is not followed: HttpStatusError 307 with its hint",
    () =>
      Effect.gen(function* () {
        const api = yield* ActionServer
        let loginRequests = 0
        const login = yield* listen((_, response) => {
          loginRequests++
          response.writeHead(400, { "content-type": "text/html" }).end("<html>login</html>")
        })
        const proxy = yield* listen((request, response) => {
          const location = `${login}/oauth/authorize?client_id=daytona-proxy&state=c3RhdGU&redirect_uri=x`
          response
            .writeHead(307, { location, "content-type": "text/html; charset=utf-8" })
            .end(`<a href="${location}">Temporary Redirect</a>.\n\n`)
          request.resume()
        })
        const result = yield* Effect.either(api.listFiles(endpointOf(proxy, "old-token")))
        assert.isTrue(Either.isLeft(result) && result.left._tag === "HttpStatusError", String(result))
        if (Either.isLeft(result) && result.left._tag === "HttpStatusError") {
          assert.strictEqual(result.left.status, 307)
          assert.strictEqual(result.left.detail, `redirected to ${login}/oauth/authorize`)
          assert.notInclude(result.left.message, "state=")
          assert.include(result.left.message, "the preview proxy refused the preview token")
        }
        assert.strictEqual(loginRequests, 0, "the redirect was not followed")
      }).pipe(Effect.provide(client))
  )

  it.scopedLive(
    "a slow-loris answer ends in RequestTimeout at the action's timeout + 5 s",
    () =>
      Effect.gen(function* () {
        const api = yield* ActionServer
        const server = yield* start({
          nextFault: () => Effect.succeed(Option.some(ActionServerFault.SlowLoris({ duration: "20 seconds" })))
        })
        const started = Date.now()
        const result = yield* Effect.either(
          api.execute(endpointOf(server.url), Action.Run({ command: "true", timeout: "1 second" }))
        )
        const took = Date.now() - started
        assert.isTrue(Either.isLeft(result) && result.left._tag === "RequestTimeout", String(result))
        assert.isAtLeast(took, 5_500)
        assert.isBelow(took, 10_000)
      }).pipe(Effect.provide(client)),
    30_000
  )

  it.scopedLive("a body that is not an observation is a DecodeError naming what is wrong", () =>
    Effect.gen(function* () {
      const api = yield* ActionServer
      const server = yield* start({
        nextFault: (route) =>
          Effect.succeed(
            route === "execute_action"
              ? Option.some(ActionServerFault.Status({ status: 200, body: "x" }))
              : Option.none()
          )
      })
      const result = yield* Effect.either(api.execute(endpointOf(server.url), Action.Run({ command: "true" })))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "DecodeError", String(result))
    }).pipe(Effect.provide(client))
  )
})
