/**
 * The toolbox's process sessions, per sandbox run: a restart starts with no sessions (as the daemon restarts),
 * and each session owns a scope, so deleting it ends every process it started.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, ExecutionStrategy, Exit, Option, Ref, Scope } from "effect"
import { launchActionServer, parseLaunch } from "./ActionLaunch.js"
import type { LauncherOptions } from "./ActionLaunch.js"
import { HttpFailure } from "./Dto.js"
import type { SandboxRun } from "./Runs.js"
import type { Store } from "./Store.js"
import { commandEnv, executeOnce, newCommand, requireRun, spawn } from "./Toolbox.js"
import type { CommandState, ProcessHost, RunningCommand } from "./Toolbox.js"

/**
 * A session as `GET /process/session/{id}` reports it.
 *
 * @since 0.1.0
 */
export interface SessionView {
  readonly sessionId: string
  readonly commands: ReadonlyArray<{ readonly id: string; readonly command: string; readonly exitCode?: number }>
}

/**
 * The session operations of the toolbox routes.
 *
 * @since 0.1.0
 */
export interface Sessions {
  readonly create: (sandboxId: string, sessionId: string) => Effect.Effect<void, HttpFailure>
  /** Starts a command; a synchronous one is awaited. */
  readonly exec: (
    sandboxId: string,
    sessionId: string,
    command: string,
    runAsync: boolean
  ) => Effect.Effect<CommandState, HttpFailure>
  readonly command: (
    sandboxId: string,
    sessionId: string,
    commandId: string
  ) => Effect.Effect<CommandState, HttpFailure>
  readonly get: (sandboxId: string, sessionId: string) => Effect.Effect<SessionView, HttpFailure>
  readonly list: (sandboxId: string) => Effect.Effect<ReadonlyArray<SessionView>, HttpFailure>
  readonly remove: (sandboxId: string, sessionId: string) => Effect.Effect<void, HttpFailure>
  readonly execute: (
    sandboxId: string,
    request: Parameters<typeof executeOnce>[2]
  ) => Effect.Effect<{ readonly result: string; readonly exitCode: number }, HttpFailure>
}

interface Session {
  readonly id: string
  readonly scope: Scope.CloseableScope
  readonly commands: Map<string, RunningCommand>
}

const sessionNotFound = (sessionId: string) =>
  new HttpFailure({ status: 404, detail: `session ${sessionId} not found`, code: "PROCESS_NOT_FOUND" })

const view = (session: Session): Effect.Effect<SessionView> =>
  Effect.map(
    Effect.forEach([...session.commands.values()], (command) => Ref.get(command.state)),
    (states) => ({
      sessionId: session.id,
      commands: states.map((state) => ({
        id: state.id,
        command: state.command,
        ...(state.exitCode === undefined ? {} : { exitCode: state.exitCode })
      }))
    })
  )

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
  const session = (sandboxId: string, sessionId: string) =>
    Effect.gen(function* () {
      const run = yield* requireRun(store, sandboxId)
      const found = (yield* sessionsOf(run)).get(sessionId)
      if (found === undefined) return yield* sessionNotFound(sessionId)
      return { run, session: found }
    })
  const commandOf = (sandboxId: string, sessionId: string, commandId: string) =>
    Effect.gen(function* () {
      const { session: found } = yield* session(sandboxId, sessionId)
      const command = found.commands.get(commandId)
      if (command === undefined) {
        return yield* new HttpFailure({
          status: 404,
          detail: `command ${commandId} not found in session ${sessionId}`,
          code: "PROCESS_NOT_FOUND"
        })
      }
      return command
    })

  return {
    create: (sandboxId, sessionId) =>
      Effect.gen(function* () {
        if (sessionId.trim() === "") return yield* new HttpFailure({ status: 400, detail: "sessionId is required" })
        const run = yield* requireRun(store, sandboxId)
        const sessions = yield* sessionsOf(run)
        if (sessions.has(sessionId)) {
          return yield* new HttpFailure({
            status: 409,
            detail: `session ${sessionId} already exists`,
            code: "CONFLICT"
          })
        }
        const scope = yield* Scope.fork(run.scope, ExecutionStrategy.sequential)
        sessions.set(sessionId, { id: sessionId, scope, commands: new Map() })
      }),
    exec: (sandboxId, sessionId, script, runAsync) =>
      Effect.gen(function* () {
        const { run, session: found } = yield* session(sandboxId, sessionId)
        const command = yield* newCommand(script)
        const { id } = yield* Ref.get(command.state)
        found.commands.set(id, command)
        const launch = parseLaunch(script)
        yield* Option.match(launch, {
          onNone: () =>
            spawn(host, found.scope, { sandbox: run.sandbox, script, env: commandEnv(run.sandbox) }, command),
          onSome: (parsed) => launchActionServer(launcher, host, store, run, found.scope, command, parsed)
        })
        if (!runAsync) yield* Deferred.await(command.done)
        return yield* Ref.get(command.state)
      }),
    command: (sandboxId, sessionId, commandId) =>
      Effect.flatMap(commandOf(sandboxId, sessionId, commandId), (command) => Ref.get(command.state)),
    get: (sandboxId, sessionId) => Effect.flatMap(session(sandboxId, sessionId), ({ session: found }) => view(found)),
    list: (sandboxId) =>
      Effect.gen(function* () {
        const run = yield* requireRun(store, sandboxId)
        return yield* Effect.forEach([...(yield* sessionsOf(run)).values()], view)
      }),
    remove: (sandboxId, sessionId) =>
      Effect.gen(function* () {
        const { run, session: found } = yield* session(sandboxId, sessionId)
        ;(yield* sessionsOf(run)).delete(sessionId)
        yield* Effect.uninterruptible(Scope.close(found.scope, Exit.void))
      }),
    execute: (sandboxId, request) =>
      Effect.flatMap(requireRun(store, sandboxId), (run) => executeOnce(host, run, request))
  }
}
