/**
 * Helpers for the reliability suites that spawn the built CLI: runs bounded by a timeout (a hang is a
 * failure, never a stuck suite), the states of a SID's sandboxes in a standalone emulator, the processes
 * still running with a marker in their command line, and the checks every CLI failure must pass.
 */
import { assert } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { BIN, hasStackTrace, type Spawned, spawnCli, type StandaloneEmulator } from "../cli/support.js"

/** What a bounded CLI run ended with. */
export interface BoundedRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** True when the timeout was reached and the process was killed. */
  readonly timedOut: boolean
  readonly millis: number
}

/**
 * Waits for a spawned process to exit; kills it (SIGKILL) when `timeoutMs` passes first and reports
 * `timedOut`.
 */
export const exitWithin = async (spawned: Spawned, timeoutMs: number): Promise<BoundedRun> => {
  const started = Date.now()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    spawned.child.kill("SIGKILL")
  }, timeoutMs)
  const { code, signal } = await spawned.exited
  clearTimeout(timer)
  // "exit" can come before the last output is read.
  await new Promise((resolve) => setTimeout(resolve, 20))
  return { code, signal, stdout: spawned.stdout, stderr: spawned.stderr, timedOut, millis: Date.now() - started }
}

/** Runs the built CLI to its end, killed after `timeoutMs`. */
export const runBounded = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeoutMs = 30_000) =>
  exitWithin(spawnCli(args, env), timeoutMs)

/** Asserts a run ended by itself (no timeout) with `code`. */
export const assertExit = (run: BoundedRun, code: number, label: string) => {
  assert.isFalse(run.timedOut, `${label}: hung (killed after ${run.millis} ms)\n${run.stderr}`)
  assert.strictEqual(run.code, code, `${label}: exit code\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
}

/**
 * Asserts the shape of a reported failure: `error: …` then `  fix: …` on stderr, no stack trace on
 * either stream; with `twoLines`, nothing else on stderr.
 */
export const assertReported = (run: BoundedRun, label: string, options: { readonly twoLines?: boolean } = {}) => {
  assert.match(run.stderr, /^error: \S.*$/m, `${label}: an error line\n${run.stderr}`)
  assert.match(run.stderr, /^ {2}fix: \S.*$/m, `${label}: a fix line\n${run.stderr}`)
  assert.isFalse(hasStackTrace(run.stderr), `${label}: no stack trace on stderr\n${run.stderr}`)
  assert.isFalse(hasStackTrace(run.stdout), `${label}: no stack trace on stdout\n${run.stdout}`)
  if (options.twoLines === true) {
    assert.strictEqual(run.stderr.trim().split("\n").length, 2, `${label}: exactly two lines\n${run.stderr}`)
  }
}

/** The states of every sandbox carrying the SID label, straight from the emulator's API. */
export const sidStates = async (emulator: StandaloneEmulator, sid: string): Promise<ReadonlyArray<string>> =>
  (await emulator.sandboxes()).filter((sandbox) => sandbox.labels.OpenHands_SID === sid).map((s) => s.state)

/** The command lines of the processes (of this machine, the CLI itself left out) that hold `marker`. */
export const processesWith = (marker: string): ReadonlyArray<string> =>
  execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(marker) && !line.includes(BIN))

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export const eventually = async (check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
