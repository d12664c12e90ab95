/**
 * Processes of the toolbox: commands recorded with their output and exit code, and `spawn`, which runs one command
 * inside the sandbox (through the host's isolation) as its own process group in a scope, so closing the scope (a
 * session delete, a stop, a delete, the end of the emulator) ends the whole group.
 *
 * (Sessions are in `Sessions.ts` and `SessionShell.ts`, one-off execution in `ToolboxProcess.ts`, the launch of the
 * built-in action server in `ActionLaunch.ts`.)
 *
 * @since 0.1.0
 */
import { Command, CommandExecutor } from "@effect/platform"
import { Deferred, Effect, Either, ExecutionStrategy, Fiber, Ref, Scope, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { appendFileSync } from "node:fs"
import { constants } from "node:os"
import type { SandboxRecord } from "./Dto.js"
import type { Isolation, SandboxFs } from "./Isolation.js"
import { toCommand } from "./Isolation.js"
import { labelled } from "./SessionLogs.js"
import { groupAlive, terminateGroup } from "./System.js"

/**
 * One session command as the toolbox reports it.
 *
 * @since 0.1.0
 */
export interface CommandState {
  readonly id: string
  readonly command: string
  readonly output: string
  readonly stdout: string
  readonly stderr: string
  /** Unset while the command runs. */
  readonly exitCode: number | undefined
}

/**
 * A running (or finished) command: its state and a signal for its end.
 *
 * @since 0.1.0
 */
export interface RunningCommand {
  readonly state: Ref.Ref<CommandState>
  readonly done: Deferred.Deferred<void>
  /**
   * The host path of the command's log file (a session command): output is appended there, each line labelled
   * with its stream's marker, instead of being kept in memory.
   */
  readonly log?: string | undefined
}

/**
 * The things the toolbox needs from its surroundings.
 *
 * @since 0.1.0
 */
export interface ProcessHost {
  readonly executor: CommandExecutor.CommandExecutor
  /** Process groups started by the emulator that may still be alive. */
  readonly groups: Set<number>
  /** How sandbox processes are isolated from the host. */
  readonly isolation: Isolation
}

/**
 * The environment of a sandbox command on top of the sandbox user's defaults (`PATH`, `HOME`, `USER`, which the
 * isolation sets): the sandbox env, then `extra`.
 */
export const commandEnv = (
  sandbox: SandboxRecord,
  extra: Readonly<Record<string, string>> = {}
): Record<string, string> => ({
  ...sandbox.env,
  ...extra,
  DAYTONA_SANDBOX_USER: sandbox.user
})

/** Output kept per command (characters); the rest is dropped. */
const MAX_OUTPUT = 8 * 1024 * 1024

/**
 * The exit code of a process ended by a signal (128 + the signal's number), from Node's error message.
 *
 * @since 0.2.0
 */
export const signalExitCode = (message: string): number => {
  const name = /signal: (\w+)/.exec(message)?.[1]
  const number = name === undefined ? undefined : (constants.signals as Record<string, number>)[name]
  return number === undefined ? -1 : 128 + number
}

/**
 * A fresh command record (running).
 *
 * @since 0.1.0
 */
export const newCommand = (
  command: string,
  options: { readonly id?: string; readonly log?: string } = {}
): Effect.Effect<RunningCommand> =>
  Effect.map(
    Effect.all({
      state: Ref.make<CommandState>({
        id: options.id ?? randomUUID(),
        command,
        output: "",
        stdout: "",
        stderr: "",
        exitCode: undefined
      }),
      done: Deferred.make<void>()
    }),
    (made) => (options.log === undefined ? made : { ...made, log: options.log })
  )

/**
 * Appends output to a command: to its log file when it has one, else to memory (`output` interleaves both streams
 * in arrival order).
 *
 * @since 0.1.0
 */
export const appendOutput = (command: RunningCommand, stream: "stdout" | "stderr", text: string) =>
  command.log !== undefined
    ? Effect.sync(() => {
        try {
          appendFileSync(command.log!, labelled(stream, text))
        } catch {
          // the session's folder is gone (deleted meanwhile)
        }
      })
    : Ref.update(command.state, (state) => {
        if (state.output.length >= MAX_OUTPUT) return state
        const kept =
          state.output.length + text.length > MAX_OUTPUT
            ? `${text.slice(0, MAX_OUTPUT - state.output.length)}\n[output truncated]\n`
            : text
        return { ...state, output: state.output + kept, [stream]: state[stream] + kept }
      })

/**
 * Marks a command finished (the first exit code wins).
 *
 * @since 0.1.0
 */
export const finish = (command: RunningCommand, exitCode: number) =>
  Effect.zipRight(
    Ref.update(command.state, (state) => (state.exitCode === undefined ? { ...state, exitCode } : state)),
    Deferred.succeed(command.done, undefined)
  )

/**
 * What {@link spawn} runs: `bash -c script` as the sandbox user inside the sandbox.
 *
 * @since 0.2.0
 */
export interface SpawnOptions {
  readonly sandbox: SandboxFs
  readonly script: string
  /** The working folder as the sandbox sees it (default the user's home). */
  readonly cwd?: string | undefined
  readonly env: Readonly<Record<string, string>>
  /** Host paths the command may read (mounted read-only at the same path). */
  readonly readOnly?: ReadonlyArray<string> | undefined
  /**
   * How to run it, when not as every sandbox command (the host's isolation): `Isolation.host` for a program the
   * emulator's user supplied and trusts, such as an external action execution server.
   */
  readonly isolation?: Isolation | undefined
}

/**
 * Runs `bash -c script` inside the sandbox (through the host's isolation) as its own process group in a new child
 * scope of `parent`. Closing that scope ends the whole group (SIGTERM, then SIGKILL); a command that is still
 * running then gets exit code 143/137. Returns when the process has been spawned (uninterruptibly, so no process
 * escapes its scope); `command.done` completes when it exits.
 *
 * @since 0.1.0
 */
export const spawn = (
  host: ProcessHost,
  parent: Scope.Scope,
  options: SpawnOptions,
  command: RunningCommand
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    yield* Scope.addFinalizer(scope, finish(command, 143))
    const process = (options.isolation ?? host.isolation).command(options.sandbox, ["bash", "-c", options.script], {
      cwd: options.cwd,
      env: options.env,
      readOnly: options.readOnly
    })
    const started = yield* toCommand(process).pipe(
      Command.start,
      Scope.extend(scope),
      Effect.provideService(CommandExecutor.CommandExecutor, host.executor),
      Effect.either
    )
    if (Either.isLeft(started)) {
      yield* appendOutput(command, "stderr", `bash: could not start: ${started.left.message}\n`)
      yield* finish(command, 127)
      return
    }
    const proc = started.right
    host.groups.add(proc.pid)
    yield* Scope.addFinalizer(
      scope,
      terminateGroup(proc.pid).pipe(Effect.ensuring(Effect.sync(() => host.groups.delete(proc.pid))))
    )
    const reader = (stream: "stdout" | "stderr") => {
      const decoder = new TextDecoder()
      return proc[stream].pipe(
        Stream.runForEach((chunk) => appendOutput(command, stream, decoder.decode(chunk, { stream: true }))),
        Effect.ignore
      )
    }
    yield* Effect.gen(function* () {
      const readers = yield* Effect.fork(Effect.all([reader("stdout"), reader("stderr")], { concurrency: 2 }))
      const exit = yield* Effect.either(proc.exitCode)
      // A background job may keep the pipes open: take what is there, then stop waiting.
      yield* Fiber.join(readers).pipe(Effect.timeoutOption("250 millis"))
      yield* Fiber.interrupt(readers)
      yield* finish(command, Either.isRight(exit) ? exit.right : signalExitCode(exit.left.message))
    }).pipe(Effect.interruptible, Effect.forkIn(scope))
  }).pipe(Effect.uninterruptible)

/**
 * How many of the emulator's process groups still have a live member.
 *
 * @since 0.1.0
 */
export const liveGroups = (host: ProcessHost): number => [...host.groups].filter(groupAlive).length
