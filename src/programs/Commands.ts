/**
 * Shell commands as OpenHands' action execution server runs them: one bash session whose commands may outlive
 * their timeout. A `run` observation is read into a {@link RunResult} that says whether the command completed,
 * is still running, was not executed (another one still runs) or had nothing to talk to.
 *
 * The server's only signals are the exit code and the `metadata.suffix` text of `runtime/utils/bash.py`:
 * a completed command has its exit code from the shell prompt (and the prompt's user, host and folder); the
 * others have exit code -1, no prompt data, and a suffix that says why.
 *
 * @since 0.1.0
 */
import { Data, type Duration } from "effect"
import { Action, type Observation, type RunMetadata } from "../services/ActionServer.js"

/**
 * Fields of every {@link RunResult}.
 *
 * @since 0.1.0
 */
export interface RunResultCommon {
  /** The command (or input) as the server echoes it. */
  readonly command: string
  /** The shell's exit code; -1 unless `Completed`. */
  readonly exitCode: number
  /** The output (so far): the screen text the server read, without its prefix and suffix notes. */
  readonly output: string
  /** Everything the server reported with it. */
  readonly metadata: RunMetadata
}

/**
 * The result of a shell command (or of input sent to one).
 *
 * @since 0.1.0
 */
export type RunResult = Data.TaggedEnum<{
  /** The command ended; `exitCode` is its exit code (130 after `C-c`). */
  Completed: RunResultCommon
  /**
   * The command outlived its timeout (the hard timeout, or no new output for the server's no-change timeout when
   * not blocking) and keeps running. `output` is what it printed so far; read more with `readOutput`, answer it
   * with `sendInput`, or stop it with `interrupt`. `reason` is the server's note.
   */
  StillRunning: RunResultCommon & { readonly reason: string }
  /** Not run: the previous command still runs. `output` is new output of that command. */
  NotExecuted: RunResultCommon & { readonly reason: string }
  /** Input or a read was sent, but no command is running. */
  NothingRunning: RunResultCommon & { readonly reason: string }
}>

/**
 * Constructors and matchers for {@link RunResult}.
 *
 * @since 0.1.0
 */
export const RunResult = Data.taggedEnum<RunResult>()

/**
 * How to run a command.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  /**
   * The hard timeout. Without one: 120 s and not blocking, so the command also returns (still running) once its
   * output has not changed for the server's no-change timeout (10 s by default). With one: blocking.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** Wait for the whole timeout even when the output stops changing (default: whether a timeout was given). */
  readonly blocking?: boolean | undefined
  /**
   * Run in a fresh shell started in this folder (OpenHands' `is_static`): nothing of the main shell's state
   * (folder, variables, a running command) applies, and nothing persists. Without it, the main shell runs it.
   */
  readonly cwd?: string | undefined
  /** Mark the command and its observation hidden (not meant for the agent or a UI). */
  readonly hidden?: boolean | undefined
}

/**
 * The `run` action of a command.
 *
 * @since 0.1.0
 */
export const runAction = (command: string, options: RunOptions = {}): Action =>
  Action.Run({
    command,
    timeout: options.timeout,
    blocking: options.blocking,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd, isStatic: true }),
    hidden: options.hidden
  })

/**
 * The `run` action that sends input to the running command (`""` reads more output, `"C-c"` interrupts).
 *
 * @since 0.1.0
 */
export const inputAction = (input: string, options: Pick<RunOptions, "timeout" | "blocking"> = {}): Action =>
  Action.Run({ command: input, isInput: true, timeout: options.timeout, blocking: options.blocking })

/** The server's note, without the brackets and line breaks it wraps it in. */
const noteOf = (suffix: string): string => suffix.trim().replace(/^\[/, "").replace(/\]$/, "")

const NOT_EXECUTED = /is NOT executed\. The previous command is still running/
const STILL_RUNNING = /^\[?The command (timed out after|has no new output after) /
const NOTHING_RUNNING = /^ERROR: No previous running command to (retrieve logs from|interact with)/

/**
 * Reads a `run` observation. The texts are those of OpenHands' `BashSession.execute`; an exit code of -1
 * without prompt data and without a known note is taken as still running (the server said nothing ended).
 *
 * @since 0.1.0
 */
export const fromObservation = (observation: Extract<Observation, { _tag: "Run" }>): RunResult => {
  const common: RunResultCommon = {
    command: observation.command,
    exitCode: observation.exitCode,
    output: observation.content,
    metadata: observation.metadata
  }
  const note = noteOf(observation.metadata.suffix)
  if (observation.exitCode !== -1) return RunResult.Completed(common)
  if (NOT_EXECUTED.test(note)) return RunResult.NotExecuted({ ...common, reason: note })
  if (STILL_RUNNING.test(note)) return RunResult.StillRunning({ ...common, reason: note })
  if (note === "" && NOTHING_RUNNING.test(observation.content)) {
    return RunResult.NothingRunning({ ...common, output: "", reason: observation.content })
  }
  if (observation.metadata.workingDir !== null) return RunResult.Completed(common)
  return RunResult.StillRunning({
    ...common,
    reason: note === "" ? "the server returned before the command completed" : note
  })
}
