/**
 * The built-in action server's one persistent shell, as OpenHands' `BashSession` (`runtime/utils/bash.py`): an
 * interactive bash on a terminal, whose prompt (`PS1`) prints a JSON block of metadata after every command. The real
 * server runs it in a tmux pane and polls the pane; here `script` (util-linux) gives bash its terminal and
 * {@link ActionScreen} plays the pane, and the logic that reads it — completion, the no-change and hard timeouts, a
 * command refused while another runs, input to a running command, leftovers — is the real one's.
 *
 * The shell starts on the first command that needs it, so an idle server costs nothing.
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { Ps1Match } from "./ActionPrompt.js"
import {
  CONTINUE_PREFIX,
  PS1,
  PS1_END,
  TIMEOUT_MESSAGE_TEMPLATE,
  combine,
  isSpecialKey,
  lineCount,
  lstrip,
  metadataOf,
  ps1Matches,
  removePrefix,
  rstrip
} from "./ActionPrompt.js"
import type { CmdOutputMetadata, Observation } from "./ActionObservations.js"
import { truthy } from "./ActionEvents.js"
import { emptyMetadata, errorObservation, runObservation } from "./ActionObservations.js"
import { NO_COMMAND_ERROR, escapeBashSpecialChars, splitBashCommands, tmuxKeys } from "./BashSplit.js"
import { reprFloat, toFloat, typeName } from "./PyWire.js"
import type { ShellOptions } from "./ActionTerminal.js"
import { Terminal } from "./ActionTerminal.js"

/** The time between libtmux's two `send-keys` calls (the text, then Enter). */
const ENTER_DELAY = "5 millis"

type Status = "continue" | "completed" | "no_change_timeout" | "hard_timeout"

/**
 * A run action's fields as the shell reads them (raw JSON values: the real code uses Python's truth values).
 *
 * @since 0.2.0
 */
export interface RunRequest {
  readonly command: unknown
  readonly isInput: unknown
  readonly blocking: unknown
  readonly hidden: unknown
  /** The top-level `timeout`, when the body has one. */
  readonly timeout: { readonly value: unknown } | undefined
}

/** Raised inside {@link BashSession.execute} for what the real server turns into an error observation. */
class Failure extends Data.TaggedError("ShellFailure")<{ readonly message: string }> {}

/** Waits for the shell's start; a failure of it, typed or not, becomes a `Failure`. */
const awaitStart = (started: Promise<void>): Effect.Effect<void, Failure> =>
  Effect.tryPromise({
    try: () => started,
    catch: (error) =>
      error instanceof Failure
        ? error
        : new Failure({ message: error instanceof Error ? error.message : String(error) })
  })

/**
 * One persistent shell.
 *
 * @since 0.2.0
 */
export class BashSession {
  private readonly terminal: Terminal
  private prevStatus: Status | undefined = undefined
  private prevOutput = ""
  private started: Promise<void> | undefined
  /** The shell's current folder as its prompt last reported it. */
  cwd: string

  constructor(private readonly options: ShellOptions) {
    this.cwd = options.workDir
    this.terminal = new Terminal(options)
  }

  private pane() {
    return this.terminal.pane()
  }

  private write(text: string) {
    this.terminal.write(text)
  }

  private waitChange(ms: number) {
    return this.terminal.waitChange(ms)
  }

  /** Starts the shell (once): its prompt set as the real session sets it, the screen cleared, `git` without pager. */
  private ensureStarted(): Effect.Effect<void, Failure> {
    if (this.terminal.closed) return Effect.fail(new Failure({ message: "Bash session was likely interrupted..." }))
    if (this.started === undefined) {
      this.started = this.terminal.start().then(async () => {
        this.write(`export PROMPT_COMMAND='export PS1="${PS1}"'; export PS2=""\r`)
        const deadline = Date.now() + 30_000
        while (ps1Matches(this.pane()).length === 0) {
          if (!this.terminal.running || Date.now() > deadline) throw new Failure({ message: "The shell did not start" })
          await Effect.runPromise(this.waitChange(deadline - Date.now()))
        }
        this.clearScreen()
        this.prevStatus = undefined
        this.prevOutput = ""
      })
      const started = this.started.catch((error) => {
        this.close()
        throw error
      })
      return awaitStart(started).pipe(
        Effect.zipRight(
          Effect.ignore(
            this.execute({
              command: 'alias git="git --no-pager"',
              isInput: false,
              blocking: false,
              hidden: false,
              timeout: { value: 300 }
            })
          )
        )
      )
    }
    return awaitStart(this.started)
  }

  private clearScreen() {
    const pane = this.pane()
    const matches = ps1Matches(pane)
    const last = matches[matches.length - 1]
    this.terminal.clear(last === undefined ? "" : `\n${pane.slice(last.start, last.end)}\n`)
  }

  private output(command: string, raw: string, metadata: CmdOutputMetadata, continuePrefix = ""): string {
    let output = raw
    if (this.prevOutput !== "") {
      output = removePrefix(raw, this.prevOutput)
      metadata.prefix = continuePrefix
    }
    this.prevOutput = raw
    output = lstrip(removePrefix(lstrip(output), lstrip(command)))
    return rstrip(output)
  }

  private completed(command: string, pane: string, matches: ReadonlyArray<Ps1Match>, hidden: boolean) {
    const metadata = metadataOf(matches[matches.length - 1]!)
    const beforeLast = matches.length === 1
    if (metadata.working_dir !== null && metadata.working_dir !== "" && metadata.working_dir !== this.cwd) {
      this.cwd = metadata.working_dir
    }
    const raw = combine(pane, matches, beforeLast)
    if (beforeLast) {
      metadata.prefix = `[Previous command outputs are truncated. Showing the last ${lineCount(raw)} lines of the output below.]\n`
    }
    metadata.suffix = isSpecialKey(command)
      ? `\n[The command completed with exit code ${metadata.exit_code}. CTRL+${command[command.length - 1]!.toUpperCase()} was sent.]`
      : `\n[The command completed with exit code ${metadata.exit_code}.]`
    const content = this.output(command, raw, metadata)
    this.prevStatus = "completed"
    this.prevOutput = ""
    this.clearScreen()
    return runObservation(content, command, metadata, hidden)
  }

  private timedOut(command: string, pane: string, matches: ReadonlyArray<Ps1Match>, status: Status, reason: string) {
    this.prevStatus = status
    const metadata = emptyMetadata()
    metadata.suffix = `\n[${reason} ${TIMEOUT_MESSAGE_TEMPLATE}]`
    const content = this.output(command, combine(pane, matches), metadata, CONTINUE_PREFIX)
    return runObservation(content, command, metadata)
  }

  /**
   * `BashSession.execute`: runs a command (or sends input) and answers as the real session does.
   *
   * @since 0.2.0
   */
  execute(request: RunRequest): Effect.Effect<Observation> {
    return Effect.catchAll(this.executeOrFail(request), (failure) => Effect.succeed(errorObservation(failure.message)))
  }

  private executeOrFail(request: RunRequest): Effect.Effect<Observation, Failure> {
    const self = this
    return Effect.gen(function* () {
      if (typeof request.command !== "string") {
        return yield* new Failure({
          message: `'${typeName(request.command)}' object has no attribute 'strip'`
        })
      }
      let command = request.command.replace(/^\s+|\s+$/gu, "")
      const isInput = truthy(request.isInput)
      const hidden = truthy(request.hidden)
      const running = self.prevStatus !== undefined && self.prevStatus !== "completed"
      if (!running && command === "") {
        return runObservation("ERROR: No previous running command to retrieve logs from.", "", emptyMetadata())
      }
      if (!running && isInput) {
        return runObservation("ERROR: No previous running command to interact with.", "", emptyMetadata())
      }
      const commands = splitBashCommands(command)
      if (commands.length > 1) {
        return errorObservation(
          "ERROR: Cannot execute multiple commands at once.\n" +
            "Please run each command separately OR chain them into a single command via && or ;\n" +
            "Provided commands:\n" +
            commands.map((c, i) => `(${i + 1}) ${c}`).join("\n")
        )
      }
      yield* self.ensureStarted()
      const initial = self.pane()
      const initialCount = ps1Matches(initial).length
      const start = Date.now()
      let lastChange = start
      let last = initial
      const promptShown = (pane: string) => rstrip(pane).endsWith(PS1_END)
      if (
        (self.prevStatus === "hard_timeout" || self.prevStatus === "no_change_timeout") &&
        !promptShown(initial) &&
        !isInput &&
        command !== ""
      ) {
        const metadata = emptyMetadata()
        metadata.suffix =
          `\n[Your command "${command}" is NOT executed. The previous command is still running - You CANNOT send new ` +
          "commands until the previous command is completed. By setting `is_input` to `true`, you can interact with " +
          `the current process: ${TIMEOUT_MESSAGE_TEMPLATE}]`
        const content = self.output(command, combine(initial, ps1Matches(initial)), metadata, CONTINUE_PREFIX)
        return runObservation(content, command, metadata, hidden)
      }
      let sent = false
      if (command !== "") {
        const special = isSpecialKey(command)
        if (!isInput) {
          const escaped = escapeBashSpecialChars(command)
          if (escaped === undefined) return yield* new Failure({ message: NO_COMMAND_ERROR })
          command = escaped
        }
        // libtmux types the text, then Enter with a second tmux command a few milliseconds later: a line that runs
        // at once (a command of several lines) may see that Enter arrive while bash is busy, echoed by the terminal.
        self.write(tmuxKeys(command))
        if (!special) {
          yield* Effect.sleep(ENTER_DELAY)
          self.write("\r")
        }
        sent = true
      }
      const noChangeMs = self.options.noChangeTimeoutSeconds * 1000
      for (;;) {
        let pane = self.pane()
        let matches = ps1Matches(pane)
        const now = Date.now()
        if (pane !== last) {
          last = pane
          lastChange = now
        }
        // The real session polls every 0.5 s, after tmux has echoed what it typed: a prompt still showing from
        // before this command does not count until the terminal has shown something new.
        const changed = !sent || pane !== initial
        if (matches.length > initialCount || (changed && promptShown(pane))) {
          if (command.includes("\n")) {
            yield* self.settle()
            pane = self.pane()
            matches = ps1Matches(pane)
          }
          return self.completed(command, pane, matches, hidden)
        }
        if (!truthy(request.blocking) && now - lastChange >= noChangeMs) {
          const reason = `The command has no new output after ${self.options.noChangeTimeoutSeconds} seconds.`
          return self.timedOut(command, pane, matches, "no_change_timeout", reason)
        }
        let timeoutMs = Infinity
        if (request.timeout !== undefined && request.timeout.value !== null) {
          const seconds = toFloat(request.timeout.value)
          if ("error" in seconds) return yield* new Failure({ message: seconds.error })
          if (seconds.value !== 0 && !Number.isNaN(seconds.value)) {
            timeoutMs = seconds.value * 1000
            if (now - start >= timeoutMs) {
              const reason = `The command timed out after ${reprFloat(seconds.value)} seconds.`
              return self.timedOut(command, pane, matches, "hard_timeout", reason)
            }
          }
        }
        if (self.terminal.closed) return yield* new Failure({ message: "Bash session was likely interrupted..." })
        const deadlines = [start + timeoutMs, truthy(request.blocking) ? Infinity : lastChange + noChangeMs]
        yield* self.waitChange(Math.min(60_000, Math.min(...deadlines) - Date.now()))
      }
    })
  }

  /** Waits until the shell has printed nothing for a moment (a command of several lines runs line by line). */
  private settle(): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      const until = Date.now() + 2000
      for (;;) {
        const before = self.pane()
        yield* Effect.sleep("100 millis")
        if (self.pane() === before || Date.now() > until) return
      }
    })
  }

  /**
   * Ends the shell and everything it started.
   *
   * @since 0.2.0
   */
  close(): void {
    this.terminal.close()
  }
}
