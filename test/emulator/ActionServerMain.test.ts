import { HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { launchFlags, parseLaunch } from "../../src/emulator/ActionLaunch.js"
import { parseArgs } from "../../src/emulator/ActionServerArgs.js"
import { freePort, jsonOf, post, refused, send, tempDir, waitFor } from "./ActionServerTestkit.js"

describe("parseArgs", () => {
  it("reads the real server's arguments and the emulator's, with defaults for the optional ones", () => {
    assert.deepStrictEqual(
      parseArgs(["--port", "4444", "--working-dir", "/tmp/ws"]),
      Either.right({
        port: 4444,
        workingDir: "/tmp/ws",
        bootDelayMs: 0,
        badGatewayBurst: 0,
        plugins: [],
        username: "openhands"
      })
    )
    assert.deepStrictEqual(
      parseArgs(["--port=0", "--working-dir=/w", "--boot-delay-ms", "250", "--bad-gateway-burst=3"]),
      Either.right({
        port: 0,
        workingDir: "/w",
        bootDelayMs: 250,
        badGatewayBurst: 3,
        plugins: [],
        username: "openhands"
      })
    )
    assert.deepStrictEqual(
      parseArgs([
        "4444",
        "--working-dir",
        "rel",
        "--plugins",
        "agent_skills",
        "vscode",
        "--username",
        "root",
        "--user-id",
        "0",
        "--no-enable-browser"
      ]),
      Either.right({
        port: 4444,
        workingDir: path.resolve("rel"),
        bootDelayMs: 0,
        badGatewayBurst: 0,
        plugins: ["agent_skills", "vscode"],
        username: "root"
      })
    )
  })

  it("rejects missing, unknown and malformed arguments with a message", () => {
    const message = (argv: ReadonlyArray<string>) =>
      Either.getLeft(parseArgs(argv)).pipe((o) => (o._tag === "Some" ? o.value : ""))
    assert.include(message(["--working-dir", "/w"]), "--port is required")
    assert.include(message(["--port", "1"]), "--working-dir is required")
    assert.include(message(["--port", "70000", "--working-dir", "/w"]), "at most 65535")
    assert.include(message(["--port", "x", "--working-dir", "/w"]), "--port needs a non-negative integer")
    assert.include(message(["--port", "1", "--working-dir", "/w", "--boot-delay-ms", "-5"]), "--boot-delay-ms")
    assert.include(message(["--port", "1", "--working-dir", "/w", "--fly", "x"]), "unknown argument")
    assert.include(message(["--port", "1", "--working-dir", "/w", "--plugins"]), "--plugins needs at least one")
    assert.include(message(["--port", "1", "--working-dir"]), "--working-dir needs a value")
  })

  it("launchFlags reads --plugins and --username of a launch command line", () => {
    assert.deepStrictEqual(
      launchFlags(
        Option.getOrThrow(
          parseLaunch(
            "mkdir -p /workspace && cd /openhands/code && python -u -m openhands.runtime.action_execution_server 4444 " +
              "--working-dir /workspace --plugins jupyter vscode --username openhands --user-id 1000"
          )
        )
      ),
      { plugins: ["jupyter", "vscode"], username: "openhands" }
    )
    assert.deepStrictEqual(
      launchFlags(
        Option.getOrThrow(parseLaunch("python -m openhands.runtime.action_execution_server 1 --username=root"))
      ),
      { plugins: [], username: "root" }
    )
  })
})

const mainPath = path.resolve("dist/emulator/ActionServerMain.js")
const built = fs.existsSync(mainPath)

interface Child {
  readonly process: ChildProcess.ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Effect.Effect<number | null>
}

const spawnMain = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = ChildProcess.spawn(process.execPath, [mainPath, ...args], {
        env: { PATH: process.env.PATH ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
      const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      return { process: child, stdout: () => stdout, stderr: () => stderr, exited: Effect.promise(() => exit) }
    }),
    (child) => Effect.sync(() => child.process.exitCode === null && child.process.kill("SIGKILL"))
  )

const waitForOutput = (child: Child, text: string) =>
  waitFor(() => child.stdout().includes(text), `the child should print ${JSON.stringify(text)}`)

describe.skipIf(!built)(
  `child process entry (${built ? mainPath : "skipped: dist/ is missing, run npm run build"})`,
  () => {
    layer(NodeHttpClient.layerUndici, { excludeTestServices: true })((it) => {
      it.scoped("boots after the delay, checks the key, answers the burst, runs commands, exits 0 on SIGTERM", () =>
        Effect.gen(function* () {
          const workingDir = yield* tempDir
          const port = yield* freePort
          const child = yield* spawnMain(
            [
              String(port),
              "--working-dir",
              workingDir,
              "--plugins",
              "vscode",
              "--username",
              "root",
              "--boot-delay-ms",
              "300",
              "--bad-gateway-burst",
              "1"
            ],
            {
              SESSION_API_KEY: "child-key",
              VSCODE_CONNECTION_TOKEN: "child-vscode",
              VSCODE_PORT: "4445",
              WORKSPACE_BASE: workingDir,
              FROM_ENV: "inherited"
            }
          )
          assert.isTrue(yield* refused(port))
          yield* waitForOutput(child, `http://127.0.0.1:${port}`)
          const url = `http://127.0.0.1:${port}`
          assert.strictEqual((yield* send(HttpClientRequest.get(`${url}/vscode/connection_token`))).status, 403)
          const keyed = { "x-session-api-key": "child-key" }
          const aliveRequest = HttpClientRequest.get(`${url}/alive`).pipe(HttpClientRequest.setHeaders(keyed))
          assert.strictEqual((yield* send(aliveRequest)).status, 502)
          assert.strictEqual((yield* send(aliveRequest)).status, 200)
          const token = yield* send(
            HttpClientRequest.get(`${url}/vscode/connection_token`).pipe(HttpClientRequest.setHeaders(keyed))
          )
          assert.deepStrictEqual(yield* jsonOf(token), { token: "child-vscode" })
          const ran = yield* Effect.flatMap(
            post(
              `${url}/execute_action`,
              { action: { action: "run", args: { command: 'echo "$FROM_ENV:$VSCODE_CONNECTION_TOKEN"; pwd' } } },
              keyed
            ),
            jsonOf
          )
          assert.strictEqual(ran.content, `inherited:\n${workingDir}`, "the emulator's tokens stay out of the shell")
          assert.isTrue(fs.existsSync(path.join(workingDir, ".vscode/settings.json")))
          assert.include(child.stdout(), "POST /execute_action 200")
          assert.notInclude(child.stdout(), "child-key")
          child.process.kill("SIGTERM")
          assert.strictEqual(yield* child.exited, 0)
          assert.isTrue(yield* refused(port))
        })
      )

      it.scoped("exits 0 on SIGINT; without the vscode plugin the token is null", () =>
        Effect.gen(function* () {
          const workingDir = yield* tempDir
          const port = yield* freePort
          const child = yield* spawnMain(["--port", String(port), "--working-dir", workingDir], {
            VSCODE_CONNECTION_TOKEN: "unused",
            VSCODE_PORT: "4445"
          })
          yield* waitForOutput(child, `http://127.0.0.1:${port}`)
          const token = yield* send(HttpClientRequest.get(`http://127.0.0.1:${port}/vscode/connection_token`))
          assert.deepStrictEqual(yield* jsonOf(token), { token: null })
          child.process.kill("SIGINT")
          assert.strictEqual(yield* child.exited, 0)
        })
      )

      it.scoped("bad usage exits 2 with the usage; a taken port exits 1", () =>
        Effect.gen(function* () {
          const workingDir = yield* tempDir
          const usage = yield* spawnMain(["--working-dir", workingDir], {})
          assert.strictEqual(yield* usage.exited, 2)
          assert.include(usage.stderr(), "--port is required")
          const holder = yield* Effect.acquireRelease(
            Effect.async<net.Server>((resume) => {
              const server = net.createServer()
              server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
            }),
            (server) => Effect.sync(() => server.close())
          )
          const port = (holder.address() as net.AddressInfo).port
          const second = yield* spawnMain(["--port", String(port), "--working-dir", workingDir], {})
          assert.strictEqual(yield* second.exited, 1)
          assert.include(second.stderr(), `127.0.0.1:${port}`)
        })
      )
    })
  }
)
