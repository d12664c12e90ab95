/**
 * Helpers shared by the action execution server tests: start a server for a fresh sandbox folder (through the
 * isolation, as the emulator starts it), send requests as the real client does, find processes on this host.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientResponse } from "@effect/platform"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Layer, Option, Ref, Schedule } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type { ActionServerOptions, RunningActionServer } from "../../src/emulator/ActionServerApp.js"
import { inSandbox, serve } from "../../src/emulator/ActionServerApp.js"
import * as Isolation from "../../src/emulator/Isolation.js"

export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "action-server-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

let found: Option.Option<string> | undefined

/**
 * Bubblewrap when it works here (as the emulator picks it), else commands on the host; its identity files in
 * `stateDir`.
 */
export const isolationIn = (stateDir: string) =>
  Effect.map(
    found !== undefined
      ? Effect.succeed(found)
      : Effect.tap(Isolation.detect, (bwrap) => Effect.sync(() => (found = bwrap))).pipe(
          Effect.provide(NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer)))
        ),
    (bwrap) => (Option.isSome(bwrap) ? Isolation.bubblewrap(bwrap.value, stateDir) : Isolation.host)
  )

export interface Started extends RunningActionServer {
  readonly url: string
  /** The working folder as the server names it (`/workspace` in a bubblewrap sandbox). */
  readonly workDir: string
  /** That folder on this host. */
  readonly hostWorkDir: string
  /** The same (the name older tests use). */
  readonly workingDir: string
  /** The sandbox folder on this host (its root). */
  readonly sandboxDir: string
  readonly lines: Ref.Ref<ReadonlyArray<string>>
  /** Process groups of the server's shells while they run. */
  readonly groups: Set<number>
}

export const start = (overrides: Partial<ActionServerOptions> = {}) =>
  Effect.gen(function* () {
    const base = yield* tempDir
    const sandboxDir = path.join(base, "sandbox")
    fs.mkdirSync(sandboxDir)
    const iso = yield* isolationIn(path.join(base, "state"))
    const placed = inSandbox(iso, { id: `sbx-${path.basename(base)}`, dir: sandboxDir, user: "daytona" }, "/workspace")
    const lines = yield* Ref.make<ReadonlyArray<string>>([])
    const groups = new Set<number>()
    const server = yield* serve({
      port: 0,
      ...placed,
      env: { GREETING: "hello from the sandbox" },
      sessionApiKey: Option.none(),
      previewToken: Option.none(),
      vscodeToken: "vscode-token",
      bootDelay: 0,
      badGatewayBurst: 0,
      log: (line) => Ref.update(lines, (all) => [...all, line]),
      processGroups: groups,
      ...overrides
    })
    const hostWorkDir = iso.mode === "bubblewrap" ? path.join(sandboxDir, placed.workingDir) : placed.workingDir
    return {
      ...server,
      url: `http://127.0.0.1:${server.port}`,
      workDir: placed.workingDir,
      hostWorkDir,
      workingDir: hostWorkDir,
      sandboxDir,
      lines,
      groups
    } satisfies Started
  })

export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(request))

export const jsonOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.json, (body) => body as any)

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  send(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson(body), HttpClientRequest.setHeaders(headers)))

export const execute = (server: Started, action: unknown) =>
  Effect.flatMap(post(`${server.url}/execute_action`, { action }), jsonOf)

export interface RunOptions {
  /** Seconds (default 30); `null` sends none. */
  readonly timeout?: unknown
  readonly blocking?: boolean
  readonly isInput?: boolean
}

/** A run as the real client sends it: `args` are exactly the `CmdRunAction` fields, `timeout` at the top. */
export const runBody = (command: unknown, options: RunOptions = {}) => ({
  action: "run",
  args: {
    command,
    is_input: options.isInput ?? false,
    thought: "",
    blocking: options.blocking ?? false,
    is_static: false,
    cwd: null,
    hidden: false,
    confirmation_state: "confirmed",
    security_risk: -1
  },
  ...(options.timeout === null ? {} : { timeout: options.timeout ?? 30 })
})

export const run = (server: Started, command: string, options: RunOptions = {}) =>
  execute(server, runBody(command, options))

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

/**
 * Live processes of this host whose command line contains `marker` (a sandboxed process has another pid inside its
 * namespace: tests find it by an argument no other process has, e.g. `sleep 31.4159`).
 */
export const livePidsWith = (marker: string): Array<number> =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").includes(marker) && alive(pid)
      } catch {
        return false
      }
    })

export const waitFor = (check: () => boolean, what: string) =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail(new Error(what)))).pipe(
    Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 }),
    Effect.orDie
  )
