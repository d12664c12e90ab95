/**
 * The commands that hold a runtime: `connect` (print where the sandbox answers, hold until Ctrl-C,
 * close) and `exec` (run one command, print its output, close, exit with its code).
 *
 * @since 0.1.0
 */
import { Console, Duration, Effect, Either, Option, Redacted } from "effect"
import { acquire } from "../programs/DaytonaRuntime.js"
import type { DaytonaRuntimeHandle } from "../programs/DaytonaRuntime.js"
import type { RuntimeOptions } from "../programs/Options.js"
import { RuntimeEvents } from "../services/RuntimeEvents.js"
import * as Env from "./Env.js"
import { UsageError } from "./Errors.js"
import * as Output from "./Output.js"
import { parseDuration } from "./Reap.js"

/**
 * The flags of `connect` and `exec`.
 *
 * @since 0.1.0
 */
export interface RuntimeFlags extends Env.CommonFlags {
  readonly sid: Option.Option<string>
  readonly attach: boolean
  /** `--plugin` (repeated): the action execution server's plugins; empty = the command's default. */
  readonly plugins?: ReadonlyArray<string> | undefined
  /** `--keep-alive`: how often the lease is renewed (a duration such as `30s`). */
  readonly keepAlive?: Option.Option<string> | undefined
}

/**
 * Acquires a runtime with its progress shown on stderr (subscribed before the acquire, so no event is
 * missed), uses it, and closes it — on success, failure and interruption alike.
 *
 * @since 0.1.0
 */
export const withRuntime = <A, E, R>(
  flags: RuntimeFlags,
  use: (runtime: DaytonaRuntimeHandle) => Effect.Effect<A, E, R>,
  options: RuntimeOptions = {}
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const events = yield* RuntimeEvents
      const progress = yield* Output.showProgress(yield* events.subscribe)
      const runtime = yield* acquire({
        ...options,
        ...(flags.plugins === undefined || flags.plugins.length === 0 ? {} : { plugins: flags.plugins }),
        ...Option.match(Option.flatMap(flags.keepAlive ?? Option.none(), parseDuration), {
          onNone: () => ({}),
          onSome: (keepAliveInterval) => ({ keepAliveInterval })
        }),
        sid: Option.getOrUndefined(flags.sid),
        attachToExisting: flags.attach
      })
      yield* progress.shownReady
      return yield* use(runtime)
    })
  ).pipe(Effect.provide(Env.runtimeLayer(flags)))

/** The facts about a ready runtime, for people on stderr. */
const describeRuntime = (runtime: DaytonaRuntimeHandle) =>
  [
    `  sandbox:       ${runtime.sandboxId} (sid ${runtime.sid}, ${runtime.public ? "public" : "private"} previews)`,
    `  action server: ${runtime.actionServerUrl}`
  ].join("\n")

/**
 * `connect`: starts the action server with the `vscode` plugin (unless `--plugin` names others), as OpenHands'
 * runtime does when not headless; once the runtime is ready, prints its sandbox id, action server URL, VSCode URL (the one
 * place a URL holding a token is printed, on purpose) and agent instructions; then holds until Ctrl-C
 * (or SIGTERM) and closes the sandbox by the close policy.
 *
 * @since 0.1.0
 */
export const connect = (flags: RuntimeFlags) =>
  withRuntime(
    flags,
    (runtime) =>
      Effect.gen(function* () {
        const vscode = yield* Effect.either(runtime.vscodeUrl)
        const instructions = yield* Effect.either(runtime.agentInstructions)
        const vscodeUrl = Either.match(vscode, {
          onLeft: () => Option.none<string>(),
          onRight: Option.map(Redacted.value)
        })
        const agentInstructions = Either.getRight(instructions)
        if (flags.json) {
          yield* Output.printJson({
            ok: true,
            status: "ready",
            sid: runtime.sid,
            sandboxId: runtime.sandboxId,
            actionServerUrl: runtime.actionServerUrl,
            public: runtime.public,
            vscodeUrl: Option.getOrNull(vscodeUrl),
            agentInstructions: Option.getOrNull(agentInstructions)
          })
        } else {
          const vscodeLine = Either.match(vscode, {
            onLeft: (error) => `unavailable (${error.message})`,
            onRight: Option.match({ onNone: () => "none (the server has no VSCode token)", onSome: Redacted.value })
          })
          yield* Console.log(
            [
              `ready: sandbox ${runtime.sandboxId} (sid ${runtime.sid}) answers at ${runtime.actionServerUrl}`,
              `  VSCode:             ${vscodeLine}`,
              `  agent instructions: ${Either.match(instructions, { onLeft: (error) => `unavailable (${error.message})`, onRight: (text) => text })}`
            ].join("\n")
          )
        }
        yield* Output.note("Holding the sandbox; press Ctrl-C to close it.")
        return yield* Effect.never
      }),
    // Not headless: OpenHands' runtime then loads the vscode plugin, which gives the VSCode URL.
    { plugins: ["vscode"] }
  )

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/

/**
 * The shell command line of `exec`'s arguments: a single argument is taken as a command line as it is;
 * several are quoted for the shell, word by word.
 *
 * @since 0.1.0
 */
export const commandLine = (args: ReadonlyArray<string>): string =>
  args.length === 1
    ? args[0]!
    : args.map((arg) => (SAFE_WORD.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(" ")

/** The exit code of `exec` when the command was still running at the end of its timeout (as `timeout(1)`). */
export const STILL_RUNNING_EXIT_CODE = 124

/**
 * `exec`: connects, runs the command through the action server (blocking, up to `timeout`), prints its output on
 * stdout (or one JSON document), closes, and exits with the command's exit code. A command still running at the
 * end of its timeout is interrupted (`C-c`, so that an attached sandbox's shell is free again); exec then prints
 * what it had printed, says so and exits 124.
 *
 * @since 0.1.0
 */
export const exec = (flags: RuntimeFlags, args: ReadonlyArray<string>, timeoutText = "120s") =>
  Effect.gen(function* () {
    const command = commandLine(args)
    if (command.trim() === "") {
      return yield* new UsageError({
        what: "No command given",
        fix: "Put the command after --, e.g. effect-daytona exec -- echo hi"
      })
    }
    // No command starts with a dash: this is a mistyped option that the parser passed on as the command.
    const first = args[0]!.trimStart()
    if (first.startsWith("-")) {
      return yield* new UsageError({
        what: `Unknown option for exec: ${first.split(/\s/)[0]}`,
        fix: "Put exec's options before --, and the command after it, e.g. effect-daytona exec --json -- echo hi"
      })
    }
    const timeout = Option.filter(parseDuration(timeoutText), Duration.greaterThan(Duration.zero))
    if (Option.isNone(timeout)) {
      return yield* new UsageError({
        what: `--timeout ${JSON.stringify(timeoutText)} is not a duration`,
        fix: "Use e.g. --timeout 30s, 10m or 1h"
      })
    }
    yield* withRuntime(flags, (runtime) =>
      Effect.gen(function* () {
        yield* Output.note(describeRuntime(runtime))
        yield* Output.note(`  running:       ${command}`)
        const result = yield* runtime.run(command, { timeout: timeout.value })
        const completed = result._tag === "Completed"
        const exitCode = completed ? result.exitCode : result._tag === "StillRunning" ? STILL_RUNNING_EXIT_CODE : 1
        const reason = completed ? undefined : result.reason
        if (result._tag === "StillRunning") {
          // Free the shell: the sandbox may be kept (--attach) and its next command would not be executed.
          yield* runtime.interrupt().pipe(Effect.timeout("15 seconds"), Effect.ignore)
        }
        if (flags.json) {
          yield* Output.printJson({
            ok: completed,
            status: completed ? "completed" : result._tag === "StillRunning" ? "still-running" : "not-executed",
            sid: runtime.sid,
            sandboxId: runtime.sandboxId,
            actionServerUrl: runtime.actionServerUrl,
            command,
            exitCode,
            output: result.output,
            ...(reason === undefined ? {} : { reason })
          })
        } else if (result.output !== "") {
          yield* Console.log(result.output)
        }
        if (result._tag === "StillRunning") {
          yield* Output.note(
            `  still running: the command did not finish within ${Duration.format(timeout.value)}; it was ` +
              `interrupted (C-c). Give it more time with --timeout, e.g. --timeout 10m`
          )
        } else if (!completed) {
          yield* Output.note(`  not run:       ${reason}`)
        }
        yield* Output.note(`  exit code:     ${exitCode}`)
        yield* Output.setExitCode(exitCode)
      })
    )
  })
