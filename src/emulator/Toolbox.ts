/**
 * The toolbox daemon's process sessions. Every command is a real `bash -c` process in its own process group,
 * run in the sandbox folder with the sandbox env; everything a session starts lives in the sandbox's current
 * run, so a stop, a delete, a session delete or the end of the emulator ends the whole process group.
 *
 * (Sessions are in `Sessions.ts`; the launch of the built-in action server in `ActionLaunch.ts`.)
 *
 * @since 0.1.0
 */
import { Command, CommandExecutor } from "@effect/platform"
import { Deferred, Effect, Either, ExecutionStrategy, Fiber, Option, Ref, Scope, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { constants } from "node:os"
import { HttpFailure } from "./Dto.js"
import type { SandboxRecord } from "./Dto.js"
import type { Isolation, SandboxFs } from "./Isolation.js"
import { toCommand } from "./Isolation.js"
import type { SandboxRun } from "./Runs.js"
import type { Store } from "./Store.js"
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

const signalExitCode = (message: string): number => {
  const name = /signal: (\w+)/.exec(message)?.[1]
  const number = name === undefined ? undefined : (constants.signals as Record<string, number>)[name]
  return number === undefined ? -1 : 128 + number
}

/**
 * A fresh command record (running).
 *
 * @since 0.1.0
 */
export const newCommand = (command: string): Effect.Effect<RunningCommand> =>
  Effect.all({
    state: Ref.make<CommandState>({
      id: randomUUID(),
      command,
      output: "",
      stdout: "",
      stderr: "",
      exitCode: undefined
    }),
    done: Deferred.make<void>()
  })

/**
 * Appends output to a command (`output` interleaves both streams in arrival order).
 *
 * @since 0.1.0
 */
export const appendOutput = (command: RunningCommand, stream: "stdout" | "stderr", text: string) =>
  Ref.update(command.state, (state) => {
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
    const process = host.isolation.command(options.sandbox, ["bash", "-c", options.script], {
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
 * The toolbox's view of a sandbox: its current run, or the daemon's error when it has none.
 *
 * @since 0.1.0
 */
export const requireRun = (store: Store, sandboxId: string): Effect.Effect<SandboxRun, HttpFailure> =>
  Effect.gen(function* () {
    const record = yield* store
      .get(sandboxId)
      .pipe(
        Effect.mapError(
          () => new HttpFailure({ status: 404, detail: `sandbox ${sandboxId} not found`, code: "NOT_FOUND" })
        )
      )
    const run = yield* store.run(record.id)
    if (Option.isNone(run)) {
      return yield* new HttpFailure({
        status: 409,
        detail: `sandbox ${record.id} is not running (state: ${record.state}): start it first`,
        code: "CONFLICT"
      })
    }
    yield* store.touch(record.id)
    return run.value
  })

/**
 * Runs one command outside any session (`POST /process/execute`): waits for it (at most `timeout` seconds), then
 * ends whatever it left behind.
 *
 * @since 0.1.0
 */
export const executeOnce = (
  host: ProcessHost,
  run: SandboxRun,
  request: {
    readonly command: string
    readonly cwd?: string | undefined
    readonly envs?: Readonly<Record<string, string>> | undefined
    readonly timeout?: number | undefined
  }
): Effect.Effect<{ readonly result: string; readonly exitCode: number }, HttpFailure> =>
  Effect.scoped(
    Effect.gen(function* () {
      // A child of the run, so a stop in the middle ends the command too.
      const scope = yield* Effect.acquireRelease(Scope.fork(run.scope, ExecutionStrategy.sequential), (child, exit) =>
        Scope.close(child, exit)
      )
      const command = yield* newCommand(request.command)
      yield* spawn(
        host,
        scope,
        { sandbox: run.sandbox, script: request.command, cwd: request.cwd, env: commandEnv(run.sandbox, request.envs) },
        command
      )
      const seconds = request.timeout !== undefined && request.timeout > 0 ? request.timeout : 360
      const finished = yield* Deferred.await(command.done).pipe(Effect.timeoutOption(`${seconds} seconds`))
      if (Option.isNone(finished)) {
        return yield* new HttpFailure({
          status: 408,
          detail: `command timed out after ${seconds} seconds`,
          code: "PROCESS_EXECUTION_TIMEOUT"
        })
      }
      const state = yield* Ref.get(command.state)
      return { result: state.output, exitCode: state.exitCode ?? -1 }
    })
  )

/**
 * How many of the emulator's process groups still have a live member.
 *
 * @since 0.1.0
 */
export const liveGroups = (host: ProcessHost): number => [...host.groups].filter(groupAlive).length
