/**
 * The live client runs in the SDK's default mode, which opens a Socket.IO connection (and, when the gateway cannot be
 * reached, keeps trying to reconnect for minutes). A process that builds the layer, uses it and closes it must still
 * end at once: the SDK client, its socket and its reconnect timers close with the layer. Each case spawns the built
 * package in a process of its own and times the gap between "closed" and the process's exit.
 */
import { assert, describe, it } from "@effect/vitest"
import { existsSync } from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { cleanEnv, ROOT, spawnNode, startEmulator, type StandaloneEmulator } from "../cli/support.js"

const FIXTURE = Path.join(ROOT, "test/layers/fixtures/live-layer-exit.mjs")
const built = existsSync(Path.join(ROOT, "dist/layers/DaytonaClientLive.js"))
/** Well under the SDK's first reconnect delay (1 s) plus the server's answer. */
const PROMPT_MS = 1_500

/** A Daytona API without an event gateway: the create answers `creating`, the next read `started`. */
const startApiWithoutGateway = async () => {
  let socketAttempts = 0
  const reads = new Map<string, number>()
  const server = Http.createServer((request, response) => {
    request.resume()
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://127.0.0.1")
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo | null)?.port ?? 0}`
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { "content-type": "application/json" })
        response.end(JSON.stringify(body))
      }
      if (url.pathname.startsWith("/api/socket.io/")) {
        socketAttempts++
        return send(404, { statusCode: 404, message: "Cannot GET /api/socket.io/" })
      }
      const dto = (state: string) => ({
        id: "sbx-exit",
        organizationId: "org",
        name: "sbx-exit",
        user: "daytona",
        env: {},
        labels: { exit: "test" },
        public: false,
        target: "us",
        cpu: 1,
        gpu: 0,
        memory: 1,
        disk: 3,
        state,
        toolboxProxyUrl: `${origin}/toolbox`
      })
      if (request.method === "POST" && url.pathname === "/api/sandbox") return send(200, dto("creating"))
      if (request.method === "GET" && url.pathname === "/api/sandbox/sbx-exit") {
        const seen = (reads.get("sbx-exit") ?? 0) + 1
        reads.set("sbx-exit", seen)
        return send(200, dto(seen < 2 ? "creating" : "started"))
      }
      send(404, { statusCode: 404, message: `Cannot ${request.method} ${url.pathname}` })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`,
    socketAttempts: () => socketAttempts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** Runs the fixture; the time from its "closed" line to its exit. */
const runFixture = async (apiUrl: string, apiKey: string) => {
  const spawned = spawnNode([FIXTURE, apiUrl, apiKey], cleanEnv())
  // Without the dispose the SDK reconnects for minutes: a kill after 15 s turns that into a failed assertion.
  const killer = setTimeout(() => spawned.child.kill("SIGKILL"), 15_000)
  let closedAt = 0
  spawned.child.stdout!.on("data", () => {
    if (closedAt === 0 && spawned.stdout.includes("closed\n")) closedAt = Date.now()
  })
  const exit = await spawned.exited
  clearTimeout(killer)
  return { ...exit, stdout: spawned.stdout, stderr: spawned.stderr, gapMs: Date.now() - closedAt, closedAt }
}

describe.skipIf(!built)("the live layer never holds the process open (needs npm run build)", () => {
  let emulator: StandaloneEmulator

  beforeAll(async () => {
    emulator = await startEmulator()
  })

  afterAll(async () => {
    await emulator?.stop()
  })

  it("with the emulator's event gateway: the process ends as soon as the layer is closed", async () => {
    const run = await runFixture(emulator.apiUrl, emulator.apiKey)
    assert.strictEqual(run.code, 0, run.stderr)
    assert.match(run.stdout, /^created \S+ started$/m)
    assert.isAbove(run.closedAt, 0, run.stdout)
    assert.isBelow(run.gapMs, PROMPT_MS, "exit right after the layer closed")
  })

  it("with no gateway (the socket keeps reconnecting): the process still ends as soon as the layer is closed", async () => {
    const api = await startApiWithoutGateway()
    try {
      const run = await runFixture(api.apiUrl, "key")
      assert.strictEqual(run.code, 0, run.stderr)
      assert.match(run.stdout, /^created sbx-exit started$/m)
      assert.isAbove(api.socketAttempts(), 0, "the SDK tried its event socket")
      assert.isAbove(run.closedAt, 0, run.stdout)
      assert.isBelow(run.gapMs, PROMPT_MS, "exit right after the layer closed")
    } finally {
      await api.close()
    }
  })
})
