/**
 * The toolbox's process sessions, per sandbox run (a restart starts with none, as the daemon restarts). A session
 * owns a scope and, from its first command on, one long-lived shell (`SessionShell.ts`): deleting the session, a stop,
 * a delete or the end of the emulator ends the shell and everything it left running. Each command keeps its files
 * where the daemon keeps them, `~/.daytona/sessions/<session>/<command>/` inside the sandbox (`cmd.sh`, `output.log`,
 * `exit_code`, `input.pipe`); a launch of the built-in action server is recognized and started by `ActionLaunch.ts`.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, ExecutionStrategy, Exit, Option, Ref, Schedule, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { appendFileSync, constants, mkdirSync, rmSync, writeFileSync } from "node:fs"
import { open } from "node:fs/promises"
import * as NodePath from "node:path"
import { launchActionServer, parseLaunch } from "./ActionLaunch.js"
import type { LauncherOptions } from "./ActionLaunch.js"
import type { HttpFailure } from "./Dto.js"
import type { SandboxRun } from "./Runs.js"
import { commandBlock, startShell } from "./SessionShell.js"
import type { SessionShell } from "./SessionShell.js"
import type { Store } from "./Store.js"
import { commandEnv, finish, newCommand } from "./Toolbox.js"
import type { ProcessHost, RunningCommand } from "./Toolbox.js"
import { badRequest, daemonFailure } from "./ToolboxHttp.js"
import type { Target } from "./ToolboxHttp.js"

/** The session the daemon reserves for the sandbox's entrypoint. */
export const ENTRYPOINT = "entrypoint"

/**
 * A command as `GET …/command/{id}` reports it.
 *
 * @since 0.2.0
 */
export interface CommandView {
  readonly id: string
  readonly command: string
  readonly exitCode?: number
}

/**
 * A session as `GET /process/session/{id}` reports it.
 *
 * @since 0.1.0
 */
export interface SessionView {
  readonly sessionId: string
  readonly commands: ReadonlyArray<CommandView>
}

/**
 * One command of a session.
 *
 * @since 0.2.0
 */
export interface SessionCommand {
  readonly id: string
  readonly command: string
  readonly running: RunningCommand
  /** The host path of its `output.log`. */
  readonly log: string
  /** The host path of its `input.pipe`. */
  readonly input: string
  readonly suppressInputEcho: boolean
}

/**
 * The session operations of the toolbox routes.
 *
 * @since 0.1.0
 */
export interface Sessions {
  readonly create: (target: Target, sessionId: string) => Effect.Effect<void, HttpFailure>
  /** Starts a command; a synchronous one is awaited. */
  readonly exec: (
    target: Target,
    sessionId: string,
    request: { readonly command: string; readonly runAsync: boolean; readonly suppressInputEcho: boolean }
  ) => Effect.Effect<SessionCommand, HttpFailure>
  readonly command: (target: Target, sessionId: string, commandId: string) => Effect.Effect<SessionCommand, HttpFailure>
  readonly get: (target: Target, sessionId: string) => Effect.Effect<SessionView, HttpFailure>
  readonly list: (target: Target) => Effect.Effect<ReadonlyArray<SessionView>>
  readonly remove: (target: Target, sessionId: string) => Effect.Effect<void, HttpFailure>
  readonly input: (
    target: Target,
    sessionId: string,
    commandId: string,
    data: string
  ) => Effect.Effect<void, HttpFailure>
  /** Completes when the session is deleted (or its sandbox stopped). */
  readonly ended: (target: Target, sessionId: string) => Effect.Effect<Deferred.Deferred<void>, HttpFailure>
}

interface Session {
  readonly id: string
  readonly scope: Scope.CloseableScope
  readonly commands: Map<string, SessionCommand>
  /** The session's folder as the sandbox sees it. */
  readonly dir: string
  readonly ended: Deferred.Deferred<void>
  shell: SessionShell | undefined
}

/** Input sent to a command, in its log as stdout (as the daemon logs it). */
const echo = (log: string, line: string) => {
  try {
    appendFileSync(log, `\u0001\u0001\u0001${line}`)
  } catch {
    // the session was deleted meanwhile
  }
}

const sessionNotFound = () => daemonFailure(404, "PROCESS_NOT_FOUND", "not found: session not found")
const commandNotFound = () => daemonFailure(404, "PROCESS_NOT_FOUND", "not found: command not found")

/**
 * The view of a command.
 *
 * @since 0.2.0
 */
export const commandView = (command: SessionCommand): Effect.Effect<CommandView> =>
  Effect.map(Ref.get(command.running.state), (state) => ({
    id: command.id,
    command: command.command,
    ...(state.exitCode === undefined ? {} : { exitCode: state.exitCode })
  }))

const view = (session: Session): Effect.Effect<SessionView> =>
  Effect.map(Effect.forEach([...session.commands.values()], commandView), (commands) => ({
    sessionId: session.id,
    commands
  }))

/**
 * Makes the sessions of every sandbox.
 *
 * @since 0.1.0
 */
export const makeSessions = (store: Store, host: ProcessHost, launcher: LauncherOptions): Sessions => {
  const perSandbox = new Map<string, { readonly runId: number; readonly sessions: Map<string, Session> }>()

  /** The sessions of the sandbox's current run (a new run starts empty). */
  const sessionsOf = (run: SandboxRun) =>
    Effect.gen(function* () {
      const entry = perSandbox.get(run.sandbox.id)
      if (entry !== undefined && entry.runId === run.id) return entry.sessions
      const sessions = new Map<string, Session>()
      perSandbox.set(run.sandbox.id, { runId: run.id, sessions })
      yield* Scope.addFinalizer(
        run.scope,
        Effect.sync(() => {
          if (perSandbox.get(run.sandbox.id)?.runId === run.id) perSandbox.delete(run.sandbox.id)
        })
      )
      return sessions
    })
  const sessionOf = (target: Target, sessionId: string) =>
    Effect.flatMap(sessionsOf(target.run), (sessions) => {
      const found = sessions.get(sessionId)
      return found === undefined ? Effect.fail(sessionNotFound()) : Effect.succeed(found)
    })
  const commandOf = (target: Target, sessionId: string, commandId: string) =>
    Effect.flatMap(sessionOf(target, sessionId), (session) => {
      const found = session.commands.get(commandId)
      return found === undefined ? Effect.fail(commandNotFound()) : Effect.succeed(found)
    })
  /** A path of the sandbox as the session's shell sees it (the host path when sandbox processes run unisolated). */
  const shellPath = (target: Target, path: string) =>
    host.isolation.mode === "host" ? target.resolve(path) : NodePath.posix.resolve(path)

  const ensureShell = (target: Target, session: Session) =>
    Effect.gen(function* () {
      if (session.shell !== undefined) return session.shell
      const shell = yield* startShell(host, session.scope, {
        sandbox: target.sandbox,
        env: commandEnv(target.sandbox),
        onDone: (id, exitCode) => {
          const command = session.commands.get(id)
          return command === undefined ? Effect.void : finish(command.running, exitCode)
        },
        onExit: Effect.void
      })
      session.shell = shell
      return shell
    })

  return {
    create: (target, sessionId) =>
      Effect.gen(function* () {
        if (sessionId === ENTRYPOINT) {
          return yield* badRequest("provided session ID is reserved and cannot be created/overridden")
        }
        const sessions = yield* sessionsOf(target.run)
        if (sessions.has(sessionId)) return yield* daemonFailure(409, "CONFLICT", "conflict: session already exists")
        const scope = yield* Scope.fork(target.run.scope, ExecutionStrategy.sequential)
        const ended = yield* Deferred.make<void>()
        yield* Scope.addFinalizer(scope, Deferred.succeed(ended, undefined))
        const dir = NodePath.posix.join(target.home, ".daytona", "sessions", sessionId)
        sessions.set(sessionId, { id: sessionId, scope, commands: new Map(), dir, ended, shell: undefined })
      }),
    exec: (target, sessionId, request) =>
      Effect.gen(function* () {
        if (sessionId === ENTRYPOINT) return yield* badRequest("can't execute command in entrypoint session")
        const session = yield* sessionOf(target, sessionId)
        const id = randomUUID()
        const dir = NodePath.posix.join(session.dir, id)
        const hostDir = target.resolve(dir)
        const files = yield* Effect.try({
          try: () => {
            mkdirSync(hostDir, { recursive: true, mode: 0o755 })
            writeFileSync(NodePath.join(hostDir, "output.log"), "")
            writeFileSync(NodePath.join(hostDir, "cmd.sh"), request.command, { mode: 0o600 })
            return { log: NodePath.join(hostDir, "output.log"), input: NodePath.join(hostDir, "input.pipe") }
          },
          catch: (error) => badRequest(`failed to create log directory: ${String(error)}`)
        })
        const running = yield* newCommand(request.command, { id, log: files.log })
        const command: SessionCommand = {
          id,
          command: request.command,
          running,
          ...files,
          suppressInputEcho: request.suppressInputEcho
        }
        session.commands.set(id, command)
        const launch = parseLaunch(request.command)
        if (Option.isSome(launch)) {
          yield* launchActionServer(launcher, host, store, target.run, session.scope, running, launch.value)
        } else {
          const shell = yield* ensureShell(target, session)
          const sent = yield* shell.send(commandBlock({ dir: shellPath(target, dir), id, keepStdin: request.runAsync }))
          if (!sent) {
            return yield* daemonFailure(
              500,
              "INTERNAL_SERVER_ERROR",
              "failed to execute command: bad request: failed to write command: write |1: broken pipe"
            )
          }
        }
        if (request.runAsync) return command
        const finished = yield* Effect.raceFirst(
          Effect.as(Deferred.await(running.done), true),
          Effect.as(Deferred.await(session.ended), false)
        )
        if (!finished) {
          yield* finish(running, 1)
          return yield* badRequest("session cancelled")
        }
        return command
      }),
    command: commandOf,
    get: (target, sessionId) => Effect.flatMap(sessionOf(target, sessionId), view),
    list: (target) =>
      Effect.flatMap(sessionsOf(target.run), (sessions) => Effect.forEach([...sessions.values()], view)),
    remove: (target, sessionId) =>
      Effect.gen(function* () {
        if (sessionId === ENTRYPOINT) return yield* badRequest("can't delete entrypoint session")
        const session = yield* sessionOf(target, sessionId)
        ;(yield* sessionsOf(target.run)).delete(sessionId)
        yield* Effect.uninterruptible(Scope.close(session.scope, Exit.void))
        yield* Effect.try({
          try: () => rmSync(target.resolveNoFollow(session.dir), { recursive: true, force: true }),
          catch: (error) => badRequest(String(error))
        })
      }),
    input: (target, sessionId, commandId, data) =>
      Effect.gen(function* () {
        if (sessionId === ENTRYPOINT) return yield* badRequest("can't send input to entrypoint session")
        const session = yield* sessionOf(target, sessionId)
        if (session.shell !== undefined && !session.shell.alive()) {
          return yield* daemonFailure(410, "SESSION_ENDED", "gone: session process has exited")
        }
        const command = session.commands.get(commandId)
        if (command === undefined) return yield* commandNotFound()
        const { exitCode } = yield* Ref.get(command.running.state)
        if (exitCode !== undefined) {
          return yield* daemonFailure(
            410,
            "COMMAND_ALREADY_COMPLETED",
            `gone: command has already completed with exit code ${exitCode}`
          )
        }
        const line = data.endsWith("\n") ? data : `${data}\n`
        // The daemon's open waits for the command to read its stdin; so does this one, for a while, also when the
        // shell has not made the pipe yet (a client on the same machine can be quicker than that).
        yield* Effect.tryPromise({
          try: async () => {
            const pipe = await open(command.input, constants.O_WRONLY | constants.O_NONBLOCK)
            try {
              // Logged before it is written, so the echo comes before what the command answers to it.
              if (!command.suppressInputEcho) echo(command.log, line)
              await pipe.write(line)
            } finally {
              await pipe.close()
            }
          },
          catch: (error) => error as { readonly code?: string }
        }).pipe(
          Effect.retry({
            schedule: Schedule.intersect(Schedule.spaced("20 millis"), Schedule.recurs(250)),
            while: (error) => error.code === "ENOENT" || error.code === "ENXIO"
          }),
          Effect.mapError((error) =>
            daemonFailure(500, "INTERNAL_SERVER_ERROR", `internal server error: failed to open input pipe: ${error}`)
          )
        )
      }),
    ended: (target, sessionId) => Effect.map(sessionOf(target, sessionId), (session) => session.ended)
  }
}
