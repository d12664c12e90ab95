/**
 * The two servers the conformance suite drives: the built-in one (started as the emulator starts it, in a sandbox
 * through the isolation) and the real OpenHands one (`../shared/openhands-server/serve`, root, a temp working dir).
 * Both get a session key and a small `NO_CHANGE_TIMEOUT_SECONDS`.
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { inSandbox, serve } from "../../src/emulator/ActionServerApp.js"
import * as Isolation from "../../src/emulator/Isolation.js"

export const SESSION_KEY = "conformance-session-key"
export const NO_CHANGE_TIMEOUT_SECONDS = "1"

/** The real server's harness, beside this repository. */
export const REAL_SERVE = path.resolve("../shared/openhands-server/serve")
export const realAvailable = fs.existsSync(REAL_SERVE)

/** How a group's server starts. */
export interface GroupConfig {
  readonly plugins?: ReadonlyArray<string>
}

/** A started server: its URL, its working folder as it names it, and that folder on this host. */
export interface Started {
  readonly url: string
  readonly workDir: string
  readonly hostWorkDir: string
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

let bwrap: Option.Option<string> | undefined

/** Bubblewrap when it works here (as the emulator picks it), else commands on the host. */
const isolationIn = async (stateDir: string): Promise<Isolation.Isolation> => {
  if (bwrap === undefined) {
    bwrap = await Effect.runPromise(
      Isolation.detect.pipe(Effect.provide(NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))))
    )
  }
  return Option.isSome(bwrap) ? Isolation.bubblewrap(bwrap.value, stateDir) : Isolation.host
}

/** The built-in server in a fresh sandbox folder, as `ActionLaunch` starts it in process. */
export const startBuiltIn = async (config: GroupConfig): Promise<Started> => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "conf-builtin-"))
  const dir = path.join(base, "sandbox")
  fs.mkdirSync(dir)
  const iso = await isolationIn(path.join(base, "state"))
  const sandbox = { id: `conf-${path.basename(base)}`, dir, user: "daytona" }
  const placed = inSandbox(iso, sandbox, "/workspace")
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(
    serve({
      port: 0,
      ...placed,
      env: { SESSION_API_KEY: SESSION_KEY, NO_CHANGE_TIMEOUT_SECONDS },
      sessionApiKey: Option.some(SESSION_KEY),
      previewToken: Option.none(),
      vscodeToken: "conformance-vscode-token",
      plugins: config.plugins ?? [],
      username: "root",
      bootDelay: 0,
      badGatewayBurst: 0,
      tolerateArgsTimeout: false
    }).pipe(Scope.extend(scope))
  )
  const hostWorkDir = iso.mode === "bubblewrap" ? path.join(dir, placed.workingDir) : placed.workingDir
  return {
    url: `http://127.0.0.1:${server.port}`,
    workDir: placed.workingDir,
    hostWorkDir,
    stop: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      fs.rmSync(base, { recursive: true, force: true })
    }
  }
}

/** The real server on a free port, in a fresh temp working dir; resolves once `GET /alive` answers 200. */
export const startReal = async (config: GroupConfig): Promise<Started> => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "conf-real-"))
  const workDir = path.join(base, "ws")
  const cwd = path.join(base, "cwd")
  fs.mkdirSync(cwd)
  const port = await freePort()
  const args = [String(port), "--working-dir", workDir, "--username", "root", "--user-id", "0", "--no-enable-browser"]
  if (config.plugins !== undefined && config.plugins.length > 0) args.push("--plugins", ...config.plugins)
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value
  delete env["VSCODE_PORT"]
  const child = ChildProcess.spawn(REAL_SERVE, args, {
    cwd,
    env: { ...env, SESSION_API_KEY: SESSION_KEY, NO_CHANGE_TIMEOUT_SECONDS },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true
  })
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the real server exited at start-up: ${stderr}`)
    try {
      const alive = await fetch(`${url}/alive`)
      if (alive.status === 200 && ((await alive.json()) as { status?: string }).status === "ok") break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the real server did not answer within 30 s: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    workDir,
    hostWorkDir: workDir,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      fs.rmSync(base, { recursive: true, force: true })
    }
  }
}
