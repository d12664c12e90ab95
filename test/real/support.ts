/**
 * The real OpenHands action execution server for the tests of `test/real` and `test/conformance/*.real.test.ts`:
 * `../shared/openhands-server/serve` (OpenHands 0.62.0, see its README), started once per test file on a free
 * loopback port with a temporary working folder and a session key, and ended (SIGTERM to its process group)
 * after. Those tests skip, with one line saying why, where the folder is absent.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type { RunResult } from "../../src/programs/Commands.js"

/** The repository's root. */
export const ROOT = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
/** The real server's folder, beside the repository. */
export const SERVER_HOME = Path.resolve(ROOT, "../shared/openhands-server")
/** Its start command: `serve PORT --working-dir DIR [...]`. */
export const SERVE = Path.join(SERVER_HOME, "serve")
/** Whether the real server is here. */
export const available = existsSync(SERVE)
/** The one line a skipped file prints. */
export const skipReason = `skipped: the real OpenHands server (${SERVE}) is not here`

/** The arguments after the port that OpenHands' Daytona runtime (and this library's default launch) sends. */
export const DEFAULT_ARGS = ["--username", "openhands", "--user-id", "1000", "--no-enable-browser"] as const

/** A free TCP port on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** A running real server. */
export interface RealServer {
  readonly url: string
  readonly port: number
  readonly workingDir: string
  readonly sessionKey: string
  /** What it printed so far (stdout and stderr). */
  readonly output: () => string
  readonly stop: () => Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

/**
 * Starts the real server as the runtime would (`--username openhands --user-id 1000 --no-enable-browser` unless
 * `args` says otherwise) and waits until `GET /alive` answers 200.
 */
export const startRealServer = async (args: ReadonlyArray<string> = DEFAULT_ARGS): Promise<RealServer> => {
  const port = await freePort()
  const workingDir = mkdtempSync(Path.join(Os.tmpdir(), "effect-daytona-real-"))
  const sessionKey = `real-test-key-${process.pid}-${port}`
  let output = ""
  const child = spawn(SERVE, [String(port), "--working-dir", workingDir, ...args], {
    env: { ...process.env, SESSION_API_KEY: sessionKey },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGTERM")
      } catch {
        // gone already
      }
      const ended = await Promise.race([exited(child).then(() => true), sleep(10_000).then(() => false)])
      if (!ended) {
        try {
          process.kill(-child.pid, "SIGKILL")
        } catch {
          // gone already
        }
        await exited(child)
      }
    }
    rmSync(workingDir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break
    const alive = await fetch(`${url}/alive`).then(
      (response) => response.status === 200,
      () => false
    )
    if (alive) return { url, port, workingDir, sessionKey, output: () => output, stop }
    await sleep(200)
  }
  await stop()
  throw new Error(`the real server did not come up on ${url}; its output:\n${output.slice(-3000)}`)
}

/**
 * Runs `code` with the real server's Python and OpenHands on its path (as `maint/real_bodies.py` does), with
 * `input` on stdin; returns stdout.
 */
export const realPython = (code: string, input: string): string => {
  const python = spawnSync("bash", ["-c", `. "${SERVER_HOME}/lib/common.sh" && ohs_pick_python`], {
    encoding: "utf8"
  }).stdout.trim()
  if (python === "") throw new Error("no Python for the real server: run ../shared/openhands-server/install")
  const result = spawnSync(python, ["-c", code], {
    input,
    encoding: "utf8",
    env: { ...process.env, OHS_HOME: SERVER_HOME, PYTHONPATH: Path.join(SERVER_HOME, "lib") },
    maxBuffer: 16 * 1024 * 1024
  })
  if (result.status !== 0) throw new Error(`python failed (${result.status}):\n${result.stderr}`)
  return result.stdout
}

/** A zip archive of the given files, made with Python's zipfile (the format the server unpacks). */
export const zipOf = (files: Readonly<Record<string, string>>): Uint8Array => {
  const result = spawnSync(
    "python3",
    [
      "-c",
      "import io, json, sys, zipfile\n" +
        "b = io.BytesIO()\n" +
        "with zipfile.ZipFile(b, 'w') as z:\n" +
        "    for name, text in json.load(sys.stdin).items(): z.writestr(name, text)\n" +
        "sys.stdout.buffer.write(b.getvalue())"
    ],
    { input: JSON.stringify(files) }
  )
  if (result.status !== 0) throw new Error(`zip failed: ${result.stderr.toString()}`)
  return new Uint8Array(result.stdout)
}

/** The names in a zip archive (Python's zipfile). */
export const zipNames = (zip: Uint8Array): ReadonlyArray<string> => {
  const result = spawnSync(
    "python3",
    [
      "-c",
      "import io, sys, zipfile\nprint('\\n'.join(sorted(zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())).namelist())))"
    ],
    { input: zip }
  )
  if (result.status !== 0) throw new Error(`not a zip: ${result.stderr.toString()}`)
  return result.stdout
    .toString()
    .trim()
    .split("\n")
    .filter((line) => line !== "")
}

/**
 * The real server's race under CPU load: `BashSession.execute` reads the tmux pane right after sending the keys;
 * when the shell has not echoed them yet, the pane still ends with the previous prompt and the server answers
 * "completed" at once, with no output and a "[Previous command outputs are truncated…]" prefix, while the command
 * runs on (its output then comes with the next command). A legitimate completion never looks like that (a
 * truncated output is never empty). Seen here on a 2-core machine shared with other test runs.
 */
export const racedAhead = (result: RunResult): boolean =>
  result._tag === "Completed" &&
  result.output === "" &&
  result.metadata.prefix.startsWith("[Previous command outputs are truncated")

/**
 * Waits until the shell is idle and its screen holds nothing left over: a marker echoed back alone (what runs is
 * interrupted first).
 */
export const drain = <E, R>(
  run: (command: string) => Effect.Effect<RunResult, E, R>,
  interrupt: Effect.Effect<RunResult, E, R>
): Effect.Effect<void, E, R> =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 12; attempt++) {
      const marker = `drained-${attempt}`
      const result = yield* run(`echo ${marker}`)
      if (result._tag === "Completed" && result.output === marker && !racedAhead(result)) return
      if (result._tag !== "Completed") yield* interrupt
      yield* Effect.sleep("300 millis")
    }
    return yield* Effect.dieMessage("the real server's shell did not settle")
  })

/**
 * `run` that works around {@link racedAhead}: when the server answered before the command was typed, it waits
 * for the shell to settle ({@link drain}) and runs the command again (the tests' commands are idempotent: absolute
 * `cd`s, `mkdir -p`, …). Every other result is returned as it is.
 */
export const steady =
  <O, E, R>(
    run: (command: string, options?: O) => Effect.Effect<RunResult, E, R>,
    interrupt: Effect.Effect<RunResult, E, R>
  ) =>
  (command: string, options?: O): Effect.Effect<RunResult, E, R> =>
    Effect.gen(function* () {
      for (let attempt = 0; attempt < 4; attempt++) {
        const result = yield* run(command, options)
        if (!racedAhead(result)) return result
        yield* drain((marker) => run(marker), interrupt)
      }
      return yield* Effect.dieMessage(`the real server kept answering ${JSON.stringify(command)} before running it`)
    })

/** Options of a test against the real server: retried (see {@link racedAhead}), with time for its polling. */
export const realTest = { retry: 2, timeout: 90_000 } as const
