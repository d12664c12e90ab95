/**
 * The one long-lived shell of a toolbox session, as the daemon keeps it: a `bash` reading commands from its stdin,
 * inside the sandbox (through the host's isolation, in its own pid namespace, so everything it leaves running ends
 * with it). Each session command is written to that stdin as a block that sources the command's file in the shell
 * itself — so `cd`, `export`, functions and background jobs carry over to the next command, and `exit` ends the
 * session's shell, as in Daytona — with stdout and stderr labelled line by line into the command's `output.log`, its
 * stdin a named pipe (`input.pipe`, held open for asynchronous commands so input can be sent, at end-of-file at once
 * for synchronous ones), and its exit code written to `exit_code` after the log is complete.
 *
 * When a block ends, the shell also prints a notice line on its own stdout, which only the emulator reads, so a
 * finished command is known at once without polling its `exit_code` file.
 *
 * @since 0.2.0
 */
import { Command, CommandExecutor } from "@effect/platform"
import { Effect, Either, ExecutionStrategy, Queue, Scope, Stream } from "effect"
import type { SandboxFs } from "./Isolation.js"
import { toCommand } from "./Isolation.js"
import { terminateGroup } from "./System.js"
import type { ProcessHost } from "./Toolbox.js"

/** The first byte of a notice line (ASCII record separator: never part of what the emulator writes otherwise). */
const NOTICE = "\u001e"

/**
 * The files of one session command, as the shell inside the sandbox sees them.
 *
 * @since 0.2.0
 */
export interface CommandFiles {
  /** The command's folder: `<home>/.daytona/sessions/<session>/<command>`. */
  readonly dir: string
  readonly id: string
  /** Whether stdin stays open for input (asynchronous commands). */
  readonly keepStdin: boolean
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/**
 * The block the shell runs for one command. Its variables start with `__dtn_` (they stay in the shell, as the
 * daemon's do).
 *
 * @since 0.2.0
 */
export const commandBlock = (files: CommandFiles): string => {
  const dir = quote(files.dir)
  const label = (marker: string, fifo: string) =>
    `( while IFS= read -r __dtn_l || [ -n "$__dtn_l" ]; do printf '${marker}%s\\n' "$__dtn_l"; done ` +
    `< "$__dtn_d/${fifo}" >> "$__dtn_d/output.log" ) &`
  const holder = files.keepStdin ? `sleep infinity > "$__dtn_d/input.pipe" &` : `: > "$__dtn_d/input.pipe" &`
  return [
    "{",
    `__dtn_d=${dir}`,
    `rm -f "$__dtn_d/stdout.pipe" "$__dtn_d/stderr.pipe" "$__dtn_d/input.pipe"`,
    `mkfifo "$__dtn_d/stdout.pipe" "$__dtn_d/stderr.pipe" "$__dtn_d/input.pipe"`,
    label("\\001\\001\\001", "stdout.pipe"),
    "__dtn_o=$!",
    label("\\002\\002\\002", "stderr.pipe"),
    "__dtn_e=$!",
    holder,
    "__dtn_i=$!",
    // A command that ends the shell (`exit`) must not take its output with it: the labellers run in the shell's
    // pid namespace, which ends with the shell. On the way out the shell closes its ends of the pipes and waits
    // (at most 2 s) for the labellers to write the log.
    `__dtn_exit() { exec >&- 2>&- <&-; kill "$__dtn_i" 2>/dev/null; ( sleep 2; kill "$__dtn_o" "$__dtn_e" ) ` +
      `>/dev/null 2>&1 & wait "$__dtn_o" "$__dtn_e" 2>/dev/null; }`,
    "trap __dtn_exit EXIT",
    `{ . "$__dtn_d/cmd.sh"; } < "$__dtn_d/input.pipe" > "$__dtn_d/stdout.pipe" 2> "$__dtn_d/stderr.pipe"`,
    "__dtn_c=$?",
    "trap - EXIT",
    `kill "$__dtn_i" 2>/dev/null; wait "$__dtn_i" 2>/dev/null`,
    `wait "$__dtn_o" "$__dtn_e"`,
    `echo "$__dtn_c" >> "$__dtn_d/exit_code"`,
    `rm -f "$__dtn_d/stdout.pipe" "$__dtn_d/stderr.pipe" "$__dtn_d/input.pipe"`,
    `printf '${NOTICE}%s %s\\n' ${quote(files.id)} "$__dtn_c"`,
    "}",
    ""
  ].join("\n")
}

/**
 * A running session shell.
 *
 * @since 0.2.0
 */
export interface SessionShell {
  /** Writes a block to the shell; false when the shell has exited (the write would fail: broken pipe). */
  readonly send: (block: string) => Effect.Effect<boolean>
  readonly alive: () => boolean
}

/**
 * Starts a session's shell in `scope` (closing it ends the shell's whole process group). `onDone` is called for
 * each finished command with its exit code; `onExit` once, when the shell itself has ended.
 *
 * @since 0.2.0
 */
export const startShell = (
  host: ProcessHost,
  scope: Scope.Scope,
  options: {
    readonly sandbox: SandboxFs
    readonly env: Readonly<Record<string, string>>
    readonly onDone: (commandId: string, exitCode: number) => Effect.Effect<void>
    readonly onExit: Effect.Effect<void>
  }
): Effect.Effect<SessionShell> =>
  Effect.gen(function* () {
    const shellScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    const input = yield* Queue.unbounded<Uint8Array>()
    yield* Scope.addFinalizer(shellScope, Queue.shutdown(input))
    let alive = true
    const process = host.isolation.command(options.sandbox, ["bash"], { env: options.env })
    const started = yield* toCommand(process).pipe(
      Command.stdin(Stream.fromQueue(input)),
      Command.start,
      Scope.extend(shellScope),
      Effect.provideService(CommandExecutor.CommandExecutor, host.executor),
      Effect.either
    )
    if (Either.isLeft(started)) {
      alive = false
      yield* options.onExit
      return { send: () => Effect.succeed(false), alive: () => false }
    }
    const proc = started.right
    host.groups.add(proc.pid)
    yield* Scope.addFinalizer(
      shellScope,
      terminateGroup(proc.pid).pipe(Effect.ensuring(Effect.sync(() => host.groups.delete(proc.pid))))
    )
    const notices = proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => {
        const at = line.lastIndexOf(NOTICE)
        if (at < 0) return Effect.void
        const [id, code] = line.slice(at + 1).split(" ")
        const exitCode = Number(code)
        return id === undefined || !Number.isInteger(exitCode) ? Effect.void : options.onDone(id, exitCode)
      }),
      Effect.ignore
    )
    yield* Effect.gen(function* () {
      yield* Effect.fork(Stream.runDrain(proc.stderr).pipe(Effect.ignore))
      yield* notices
      yield* Effect.ignore(proc.exitCode)
      alive = false
      yield* options.onExit
    }).pipe(Effect.interruptible, Effect.forkIn(shellScope))
    const encoder = new TextEncoder()
    return {
      alive: () => alive,
      send: (block: string) =>
        alive ? Effect.as(Queue.offer(input, encoder.encode(block)), true) : Effect.succeed(false)
    }
  }).pipe(Effect.uninterruptible)
