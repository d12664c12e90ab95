/**
 * A runnable entry of the standalone emulator, for tests and scripts:
 *
 * `node dist/emulator/StandaloneMain.js [--port N] [--ssh-port N | --no-ssh] [--api-key K] [--json]
 * [--preview-mode direct|proxy] [--action-server-mode in-process|child] [--unsafe-host-processes]
 * [--action-server-command CMD]`
 *
 * Exit codes: 0 after SIGINT/SIGTERM (every sandbox process ended), 1 when the emulator cannot start, 2 on bad
 * usage.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Data, Effect, Either, Exit, Option, Predicate } from "effect"
import type { EmulatorError } from "./Emulator.js"
import { run } from "./Standalone.js"
import type { StandaloneOptions } from "./Standalone.js"

class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

const usage =
  "usage: StandaloneMain [--port N] [--ssh-port N | --no-ssh] [--api-key K] [--json] [--preview-mode direct|proxy] " +
  "[--action-server-mode in-process|child] [--unsafe-host-processes] [--action-server-command CMD]"

const portArg = (name: string, text: string | undefined): Either.Either<number, string> =>
  text === undefined || !/^\d+$/.test(text) || Number(text) > 65535
    ? Either.left(`${name} needs a number from 0 to 65535\n${usage}`)
    : Either.right(Number(text))

const parse = (argv: ReadonlyArray<string>): Either.Either<StandaloneOptions, string> => {
  let port = 0
  let sshPort = 0
  let ssh = true
  let unsafeHostProcesses = false
  let apiKey: string | undefined
  let json = false
  let previewMode: "direct" | "proxy" | undefined
  let actionServerMode: "in-process" | "child" | undefined
  let actionServerCommand: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => argv[++i]
    switch (arg) {
      case "--json":
        json = true
        break
      case "--port":
      case "--ssh-port": {
        const parsed = portArg(arg, value())
        if (Either.isLeft(parsed)) return Either.left(parsed.left)
        if (arg === "--port") port = parsed.right
        else sshPort = parsed.right
        break
      }
      case "--no-ssh":
        ssh = false
        break
      case "--unsafe-host-processes":
        unsafeHostProcesses = true
        break
      case "--api-key":
        apiKey = value()
        if (apiKey === undefined || apiKey === "") return Either.left(`--api-key needs a value\n${usage}`)
        break
      case "--preview-mode": {
        const text = value()
        if (text !== "direct" && text !== "proxy") return Either.left(`--preview-mode is direct or proxy\n${usage}`)
        previewMode = text
        break
      }
      case "--action-server-mode": {
        const text = value()
        if (text !== "in-process" && text !== "child") {
          return Either.left(`--action-server-mode is in-process or child\n${usage}`)
        }
        actionServerMode = text
        break
      }
      case "--action-server-command":
        actionServerCommand = value()
        if (actionServerCommand === undefined || actionServerCommand.trim() === "") {
          return Either.left(`--action-server-command needs a command\n${usage}`)
        }
        break
      default:
        return Either.left(`unknown argument ${JSON.stringify(arg)}\n${usage}`)
    }
  }
  return Either.right({
    port,
    sshPort,
    ssh,
    unsafeHostProcesses,
    apiKey,
    json,
    previewMode,
    actionServerMode,
    actionServerCommand
  })
}

const program = Effect.suspend((): Effect.Effect<never, UsageError | EmulatorError> => {
  const parsed = parse(process.argv.slice(2))
  return Either.isLeft(parsed) ? Effect.fail(new UsageError({ message: parsed.left })) : run(parsed.right)
}).pipe(Effect.tapError((error) => Console.error(error.message)))

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return onExit(0)
    const badUsage = Cause.failureOption(exit.cause).pipe(Option.exists(Predicate.isTagged("UsageError")))
    onExit(badUsage ? 2 : 1)
  }
})
