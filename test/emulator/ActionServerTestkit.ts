/**
 * Helpers shared by the action execution server tests: start a server on a free port with a temp workspace, send
 * requests, probe ports and processes.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientResponse } from "@effect/platform"
import { Effect, Option, Ref, Schedule } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type { ActionServerOptions, RunningActionServer } from "../../src/emulator/ActionServerApp.js"
import { serve } from "../../src/emulator/ActionServerApp.js"

export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "action-server-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

export interface Started extends RunningActionServer {
  readonly url: string
  readonly workingDir: string
  readonly lines: Ref.Ref<ReadonlyArray<string>>
}

export const start = (overrides: Partial<ActionServerOptions> = {}) =>
  Effect.gen(function* () {
    const workingDir = yield* tempDir
    const lines = yield* Ref.make<ReadonlyArray<string>>([])
    const server = yield* serve({
      port: 0,
      workingDir,
      env: { GREETING: "hello from the sandbox" },
      sessionApiKey: Option.none(),
      previewToken: Option.none(),
      vscodeToken: "vscode-token",
      bootDelay: 0,
      badGatewayBurst: 0,
      log: (line) => Ref.update(lines, (all) => [...all, line]),
      ...overrides
    })
    return { ...server, url: `http://127.0.0.1:${server.port}`, workingDir, lines } satisfies Started
  })

export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(request))

export const jsonOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.json, (body) => body as any)

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  send(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson(body), HttpClientRequest.setHeaders(headers)))

export const execute = (server: Started, action: unknown) =>
  Effect.flatMap(post(`${server.url}/execute_action`, { action }), jsonOf)

export const run = (server: Started, command: string, timeout?: number) =>
  execute(server, { action: "run", args: { command, ...(timeout === undefined ? {} : { timeout }) } })

/** Resolves true when a TCP connection to the port is refused. */
export const refused = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code === "ECONNREFUSED")))
  })

export const freePort = Effect.async<number>((resume) => {
  const probe = net.createServer()
  probe.listen(0, "127.0.0.1", () => {
    const port = (probe.address() as net.AddressInfo).port
    probe.close(() => resume(Effect.succeed(port)))
  })
})

/** A process is alive unless it is gone or a zombie. */
export const alive = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

export const waitFor = (check: () => boolean, what: string) =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail(new Error(what)))).pipe(
    Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 150 }),
    Effect.orDie
  )

export const readPid = (file: string) => Number(fs.readFileSync(file, "utf8").trim())
