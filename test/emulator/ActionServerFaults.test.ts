import { HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Ref, Scope } from "effect"
import type { ActionServerRoute } from "../../src/emulator/ActionServerApp.js"
import { ActionServerFault } from "../../src/emulator/ActionServerApp.js"
import { jsonOf, livePidsWith, post, refused, run, send, start, waitFor } from "./ActionServerTestkit.js"

/** A fault registry that hands out each scripted fault once, to the first request on its route. */
const scripted = (faults: ReadonlyArray<readonly [ActionServerRoute, ActionServerFault]>) =>
  Effect.gen(function* () {
    const pending = yield* Ref.make(faults)
    const seen = yield* Ref.make<ReadonlyArray<ActionServerRoute>>([])
    const nextFault = (route: ActionServerRoute) =>
      Effect.zipRight(
        Ref.update(seen, (all) => [...all, route]),
        Ref.modify(pending, (all) => {
          const index = all.findIndex(([r]) => r === route)
          return index === -1
            ? [Option.none(), all]
            : [Option.some(all[index]![1]), [...all.slice(0, index), ...all.slice(index + 1)]]
        })
      )
    return { nextFault, seen }
  })

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => [Duration.toMillis(duration), value] as const)

layer(NodeHttpClient.layerUndici, { excludeTestServices: true })("ActionServerApp faults", (it) => {
  describe("injected faults", () => {
    it.scoped("Status answers the status with a detail, once; every route asks the registry", () =>
      Effect.gen(function* () {
        const registry = yield* scripted([
          ["alive", ActionServerFault.Status({ status: 503, body: "busy" })],
          ["list_files", ActionServerFault.Status({ status: 500 })]
        ])
        const server = yield* start({ nextFault: registry.nextFault })
        const first = yield* send(HttpClientRequest.get(`${server.url}/alive`))
        assert.strictEqual(first.status, 503)
        assert.deepStrictEqual(yield* jsonOf(first), { detail: "busy" })
        assert.strictEqual((yield* send(HttpClientRequest.get(`${server.url}/alive`))).status, 200)
        const listed = yield* post(`${server.url}/list_files`, {})
        assert.strictEqual(listed.status, 500)
        assert.deepStrictEqual(yield* jsonOf(listed), { detail: "Internal Server Error" })
        yield* send(HttpClientRequest.get(`${server.url}/vscode/connection_token`))
        yield* post(`${server.url}/execute_action`, { action: { action: "read", args: { path: "/x" } } })
        yield* send(HttpClientRequest.post(`${server.url}/upload_file`))
        assert.deepStrictEqual(yield* Ref.get(registry.seen), [
          "alive",
          "alive",
          "list_files",
          "vscode_token",
          "execute_action",
          "upload_file"
        ])
      })
    )

    it.scoped("Malformed answers 200 with a body that is not JSON", () =>
      Effect.gen(function* () {
        const registry = yield* scripted([["alive", ActionServerFault.Malformed()]])
        const server = yield* start({ nextFault: registry.nextFault })
        const response = yield* send(HttpClientRequest.get(`${server.url}/alive`))
        assert.strictEqual(response.status, 200)
        const text = yield* response.text
        assert.strictEqual(text, "<html>oops")
        assert.throws(() => JSON.parse(text))
      })
    )

    it.scoped("Latency waits, then answers normally", () =>
      Effect.gen(function* () {
        const registry = yield* scripted([["alive", ActionServerFault.Latency({ duration: "400 millis" })]])
        const server = yield* start({ nextFault: registry.nextFault })
        const [millis, body] = yield* timed(Effect.flatMap(send(HttpClientRequest.get(`${server.url}/alive`)), jsonOf))
        assert.isAtLeast(millis, 380)
        assert.deepStrictEqual(body, { status: "ok" })
      })
    )

    it.scoped("SlowLoris sends 200 headers at once and trickles the normal body over the duration", () =>
      Effect.gen(function* () {
        const registry = yield* scripted([["execute_action", ActionServerFault.SlowLoris({ duration: "800 millis" })]])
        const server = yield* start({ nextFault: registry.nextFault })
        const request = post(`${server.url}/execute_action`, {
          action: { action: "run", args: { command: "echo slow" } }
        })
        const [headersAfter, response] = yield* timed(request)
        assert.strictEqual(response.status, 200)
        assert.isBelow(headersAfter, 600)
        const [bodyAfter, body] = yield* timed(jsonOf(response))
        assert.isAtLeast(bodyAfter, 600)
        assert.strictEqual(body.content, "slow")
        assert.strictEqual(body.extras.metadata.exit_code, 0)
      })
    )

    it.scoped("Crash destroys the connection, stops listening and kills running commands", () =>
      Effect.gen(function* () {
        const registry = yield* scripted([["alive", ActionServerFault.Crash()]])
        const server = yield* start({ nextFault: registry.nextFault })
        const running = yield* Effect.fork(run(server, "sleep 31.1111", { blocking: true, timeout: 60 }))
        yield* waitFor(() => livePidsWith("sleep 31.1111").length > 0, "the command should run")
        assert.isFalse(yield* server.crashed)
        const crashed = yield* Effect.exit(send(HttpClientRequest.get(`${server.url}/alive`)))
        assert.isTrue(Exit.isFailure(crashed))
        assert.isTrue(yield* server.crashed)
        yield* server.awaitCrash
        assert.isTrue(yield* refused(server.port))
        yield* waitFor(() => livePidsWith("sleep 31.1111").length === 0, "the running command should be killed")
        const outcome = yield* Fiber.await(running).pipe(Effect.timeout("3 seconds"))
        assert.isTrue(Exit.isFailure(outcome))
        assert.isTrue((yield* Ref.get(server.lines)).some((line) => line.includes("crashed")))
      })
    )
  })

  describe("lifecycle", () => {
    it.scoped("a background job does not hold the answer, and outlives its command as in a shell session", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const [millis, body] = yield* timed(run(server, "sleep 31.2222 & echo started"))
        assert.isBelow(millis, 1500)
        assert.match(body.content, /^\[1\] \d+\nstarted$/)
        assert.strictEqual(body.extras.metadata.exit_code, 0)
        assert.isAbove(body.extras.metadata.pid, 0, "the job's pid, as $! shows it")
        yield* waitFor(() => livePidsWith("sleep 31.2222").length > 0, "the job should run")
      })
    )

    it.scoped("closing the scope ends the shell, its running command and its background jobs", () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const server = yield* Scope.extend(start(), scope)
        yield* run(server, "sleep 31.3333 >/dev/null 2>&1 &")
        const running = yield* Effect.fork(run(server, "sleep 31.4444", { blocking: true, timeout: 60 }))
        yield* waitFor(
          () => livePidsWith("sleep 31.3333").length > 0 && livePidsWith("sleep 31.4444").length > 0,
          "both should run"
        )
        assert.strictEqual(server.groups.size, 1)
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("3 seconds"))
        assert.isTrue(yield* refused(server.port))
        yield* waitFor(
          () => livePidsWith("sleep 31.3333").length === 0 && livePidsWith("sleep 31.4444").length === 0,
          "the command and the job should be killed"
        )
        assert.strictEqual(server.groups.size, 0)
        yield* Fiber.await(running).pipe(Effect.timeout("3 seconds"))
        assert.isFalse(yield* server.crashed)
      })
    )
  })
})
