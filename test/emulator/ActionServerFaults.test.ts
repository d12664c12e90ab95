import { HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Ref, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ActionServerRoute } from "../../src/emulator/ActionServerApp.js"
import { ActionServerFault } from "../../src/emulator/ActionServerApp.js"
import { alive, jsonOf, post, readPid, refused, run, send, start, waitFor } from "./ActionServerTestkit.js"

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
        yield* post(`${server.url}/execute_action`, { action: { action: "read", args: { path: "x" } } })
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
        const pidFile = path.join(server.workingDir, "sleep.pid")
        const running = yield* Effect.fork(run(server, `sleep 30 & echo $! > ${pidFile}; wait`))
        yield* waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n"), "pid file")
        assert.isFalse(yield* server.crashed)
        const crashed = yield* Effect.exit(send(HttpClientRequest.get(`${server.url}/alive`)))
        assert.isTrue(Exit.isFailure(crashed))
        assert.isTrue(yield* server.crashed)
        yield* server.awaitCrash
        assert.isTrue(yield* refused(server.port))
        const sleeper = readPid(pidFile)
        yield* waitFor(() => !alive(sleeper), "the running command should be killed")
        const outcome = yield* Fiber.await(running).pipe(Effect.timeout("3 seconds"))
        assert.isTrue(Exit.isFailure(outcome))
        assert.isTrue((yield* Ref.get(server.lines)).some((line) => line.includes("crashed")))
      })
    )
  })

  describe("lifecycle", () => {
    it.scoped("a background job that holds the output open does not hold the answer", () =>
      Effect.gen(function* () {
        const server = yield* start()
        const [millis, body] = yield* timed(run(server, `sleep 30 & echo $! > job.pid; echo started`))
        assert.isBelow(millis, 1500)
        assert.strictEqual(body.content, "started")
        assert.strictEqual(body.extras.metadata.exit_code, 0)
        const job = readPid(path.join(server.workingDir, "job.pid"))
        assert.isTrue(alive(job), "background jobs outlive their command, as in a shell session")
      })
    )

    it.scoped("closing the scope stops the server and kills running commands and background jobs", () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const server = yield* Scope.extend(start(), scope)
        const jobFile = path.join(server.workingDir, "job.pid")
        const job = yield* run(server, `sleep 30 >/dev/null 2>&1 & echo $! > ${jobFile}`)
        assert.strictEqual(job.extras.metadata.exit_code, 0)
        const pidFile = path.join(server.workingDir, "sleep.pid")
        const running = yield* Effect.fork(run(server, `sleep 30 & echo $! > ${pidFile}; wait`))
        yield* waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n"), "pid file")
        const background = readPid(jobFile)
        const sleeper = readPid(pidFile)
        assert.isTrue(alive(background) && alive(sleeper))
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("3 seconds"))
        assert.isTrue(yield* refused(server.port))
        yield* waitFor(() => !alive(sleeper) && !alive(background), "commands should be killed")
        yield* Fiber.await(running).pipe(Effect.timeout("3 seconds"))
        assert.isFalse(yield* server.crashed)
      })
    )
  })
})
