/**
 * Helpers for the CLI tests: the built CLI spawned as a process, against a standalone emulator that
 * the test starts itself (`effect-daytona emulator --port 0 --json`), all on 127.0.0.1.
 */
import { assert, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
export const BIN = Path.join(ROOT, "dist/bin/effect-daytona.js")

/** Fails with a clear message when the CLI has not been built (`npm test` builds it first). */
export const requireBuild = () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`)
}

/** The environment of a spawned CLI: this process's, without any Daytona or logging settings. */
export const cleanEnv = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(DAYTONA_|LOG_|DEBUG|EFFECT_DAYTONA_)/.test(key)) env[key] = value
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

/** A spawned process whose output is collected as it comes. */
export interface Spawned {
  readonly child: ChildProcess
  stdout: string
  stderr: string
  /** Resolves once `pattern` appears on the stream (rejects after `timeoutMs`). */
  readonly waitFor: (stream: "stdout" | "stderr", pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
  /** Resolves with the exit code (or the signal that ended the process). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export const spawnNode = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, cwd = ROOT): Spawned => {
  const child = spawn(process.execPath, [...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"] })
  const listeners = new Set<() => void>()
  const spawned: Spawned = {
    child,
    stdout: "",
    stderr: "",
    waitFor: (stream, pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = spawned[stream].match(pattern)
          if (match === null) return false
          listeners.delete(listener)
          clearTimeout(timer)
          resolve(match)
          return true
        }
        const listener = () => void check()
        const timer = setTimeout(() => {
          listeners.delete(listener)
          reject(
            new Error(
              `timed out waiting for ${pattern} on ${stream}; stdout:\n${spawned.stdout}\nstderr:\n${spawned.stderr}`
            )
          )
        }, timeoutMs)
        if (!check()) listeners.add(listener)
      }),
    exited: new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })))
  }
  child.stdout!.on("data", (chunk: Buffer) => {
    spawned.stdout += chunk.toString()
    listeners.forEach((listener) => listener())
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    spawned.stderr += chunk.toString()
    listeners.forEach((listener) => listener())
  })
  return spawned
}

/** Spawns the built CLI. */
export const spawnCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Spawned => spawnNode([BIN, ...args], env)

/** Runs the built CLI to its end. */
export const runCli = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeoutMs = 45_000) => {
  const spawned = spawnCli(args, env)
  const timer = setTimeout(() => spawned.child.kill("SIGKILL"), timeoutMs)
  const { code, signal } = await spawned.exited
  clearTimeout(timer)
  // "exit" can come before the last output is read.
  await new Promise((resolve) => setImmediate(resolve))
  return { code, signal, stdout: spawned.stdout, stderr: spawned.stderr }
}

/** A sandbox as the emulator's API lists it. */
export interface ListedSandbox {
  readonly id: string
  readonly state: string
  readonly labels: Record<string, string>
}

/** A standalone emulator run by the built CLI. */
export interface StandaloneEmulator {
  readonly apiUrl: string
  readonly apiKey: string
  /** Its SSH endpoint's port on 127.0.0.1. */
  readonly sshPort: number
  /** The environment pointing a CLI at this emulator. */
  readonly env: (extra?: Record<string, string | undefined>) => NodeJS.ProcessEnv
  /** Every sandbox, straight from the emulator's API. */
  readonly sandboxes: () => Promise<ReadonlyArray<ListedSandbox>>
  readonly stop: () => Promise<void>
}

export const startEmulator = async (extraEnv: Record<string, string> = {}): Promise<StandaloneEmulator> => {
  requireBuild()
  const spawned = spawnCli(["emulator", "--port", "0", "--json"], cleanEnv(extraEnv))
  const [line] = await spawned.waitFor("stdout", /^\{.*\}\n/m, 30_000)
  const { apiKey, apiUrl, sshPort } = JSON.parse(line) as { apiUrl: string; apiKey: string; sshPort: number }
  return {
    apiUrl,
    apiKey,
    sshPort,
    env: (extra = {}) => cleanEnv({ DAYTONA_API_URL: apiUrl, DAYTONA_API_KEY: apiKey, ...extra }),
    sandboxes: async () => {
      const response = await fetch(`${apiUrl}/sandbox`, { headers: { authorization: `Bearer ${apiKey}` } })
      const body = (await response.json()) as ReadonlyArray<ListedSandbox> | { items: ReadonlyArray<ListedSandbox> }
      return Array.isArray(body) ? body : (body as { items: ReadonlyArray<ListedSandbox> }).items
    },
    stop: async () => {
      spawned.child.kill("SIGTERM")
      await spawned.exited
    }
  }
}

/** No line of a stack trace ("    at …"). */
export const hasStackTrace = (text: string) => /^\s+at\s/m.test(text)

/** Exactly one JSON document on stdout. */
export const parseJson = (stdout: string): Record<string, any> => {
  assert.strictEqual(stdout.trim().split("\n").length, 1, `one line of JSON, got:\n${stdout}`)
  return JSON.parse(stdout) as Record<string, any>
}

/**
 * One test per bad command line: exit 2, `pattern` on stderr, no stack trace, nothing on stdout. The API URL points
 * at a closed port, so a command that wrongly went on would fail otherwise.
 */
export const refusesUsage = (cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]>): void => {
  const env = () => cleanEnv({ DAYTONA_API_URL: "http://127.0.0.1:9/api", DAYTONA_API_KEY: "k" })
  for (const [label, args, pattern] of cases) {
    it(label, async () => {
      const result = await runCli(args, env())
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, pattern)
      assert.isFalse(hasStackTrace(result.stderr), result.stderr)
      assert.strictEqual(result.stdout, "")
    })
  }
}
