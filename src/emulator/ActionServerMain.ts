/**
 * The child-process entry of the built-in action execution server:
 *
 * `node ActionServerMain.js [--port] P --working-dir DIR [--plugins P ...] [--username U] [--boot-delay-ms N]
 * [--bad-gateway-burst N]` (the real server's arguments, plus the emulator's)
 *
 * - the session key comes from `SESSION_API_KEY` (when set and non-empty), the VSCode token (answered with the
 *   `vscode` plugin and `VSCODE_PORT` set) from `VSCODE_CONNECTION_TOKEN` (default: a random hex token), the preview
 *   token from `DAYTONA_PREVIEW_TOKEN`;
 * - it runs inside its sandbox: paths are the sandbox's own, and its shell gets this process's environment (less
 *   the two tokens above, which are the emulator's);
 * - log lines go to stdout; SIGTERM/SIGINT stop it with exit code 0, a Crash fault with 1, bad usage with 2.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { randomBytes } from "node:crypto"
import { serve } from "./ActionServerApp.js"
import { parseArgs } from "./ActionServerArgs.js"

class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

class Crashed extends Data.TaggedError("Crashed")<{}> {
  override get message(): string {
    return "The action execution server crashed"
  }
}

const nonEmpty = (value: string | undefined): Option.Option<string> =>
  Option.filter(Option.fromNullable(value), (text) => text !== "")

const program = Effect.gen(function* () {
  const parsed = parseArgs(process.argv.slice(2))
  if (Either.isLeft(parsed)) return yield* new UsageError({ message: parsed.left })
  const args = parsed.right
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== "DAYTONA_PREVIEW_TOKEN" && name !== "VSCODE_CONNECTION_TOKEN") env[name] = value
  }
  const server = yield* serve({
    port: args.port,
    workingDir: args.workingDir,
    env,
    sessionApiKey: nonEmpty(process.env.SESSION_API_KEY),
    previewToken: nonEmpty(process.env.DAYTONA_PREVIEW_TOKEN),
    vscodeToken: process.env.VSCODE_CONNECTION_TOKEN ?? randomBytes(16).toString("hex"),
    plugins: args.plugins,
    username: args.username,
    bootDelay: Duration.millis(args.bootDelayMs),
    badGatewayBurst: args.badGatewayBurst,
    log: (line) => Console.log(line)
  })
  yield* server.awaitCrash
  return yield* new Crashed()
}).pipe(
  Effect.scoped,
  Effect.tapError((error) => Console.error(`ERROR:    ${error.message}`))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return onExit(0)
    const usage = Cause.failureOption(exit.cause).pipe(Option.exists(Predicate.isTagged("UsageError")))
    onExit(usage ? 2 : 1)
  }
})
