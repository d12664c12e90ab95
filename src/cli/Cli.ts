/**
 * The `effect-daytona` commands (@effect/cli). Each handler imports its module on first use, so
 * `--help` and `--version` load neither the runtime, the Daytona SDK nor the emulator.
 *
 * @since 0.1.0
 */
import { Args, CliConfig, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import type { CliApp } from "@effect/cli"
import { Cause, Console, Effect, Option, Ref } from "effect"
import { readFileSync } from "node:fs"
import * as Errors from "./Errors.js"
import { handle, lazy } from "./Handler.js"
import * as Output from "./Output.js"
import * as PoolCommand from "./PoolCommand.js"

/**
 * The package version, from package.json.
 *
 * @since 0.1.0
 */
export const version: string = (() => {
  try {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8")
    return String((JSON.parse(text) as { version?: unknown }).version ?? "0.0.0")
  } catch {
    return "0.0.0"
  }
})()

const common = {
  emulator: Options.boolean("emulator").pipe(
    Options.withDescription(
      "Run against an embedded local emulator instead of DAYTONA_API_URL (no account needed; " +
        "DAYTONA_PUBLIC, DAYTONA_DELETE_ON_CLOSE and DAYTONA_DISABLE_AUTO_STOP still apply)"
    )
  ),
  unsafeHostProcesses: Options.boolean("unsafe-host-processes").pipe(
    Options.withDescription(
      "With --emulator, where bubblewrap is missing: run sandbox commands UNISOLATED, as your own user on this " +
        "machine's filesystem, instead of refusing to start (with bubblewrap they are isolated either way)"
    )
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print exactly one JSON document on stdout")),
  verbose: Options.boolean("verbose").pipe(Options.withDescription("On failure, also print the cause"))
}

const sidOption = Options.text("sid").pipe(
  Options.withDescription("The session id: the sandbox label OpenHands_SID (default: default)")
)

const actionServerCommand = Options.text("action-server-command").pipe(
  Options.optional,
  Options.withDescription(
    "With the emulator: run this command as the action execution server instead of the built-in one, as " +
      "CMD <port> <the launch arguments> (e.g. the real OpenHands server: ../shared/openhands-server/serve)"
  )
)

const durationText = /^(0|(\d+(\.\d+)?(ms|s|m|h|d))+)$/

const runtimeOptions = {
  ...common,
  sid: Options.optional(sidOption),
  attach: Options.boolean("attach").pipe(
    Options.withDescription("Attach to the sandbox of the SID (or create it); close then keeps it")
  ),
  actionServerCommand,
  keepAlive: Options.text("keep-alive").pipe(
    Options.optional,
    Options.mapEffect((text) =>
      Option.match(text, {
        onNone: () => Effect.succeed(text),
        onSome: (value) =>
          durationText.test(value.trim()) && value.trim() !== "0"
            ? Effect.succeed(text)
            : Effect.fail(
                ValidationError.invalidValue(
                  HelpDoc.p(`--keep-alive: ${JSON.stringify(value)} is not a duration; use e.g. 30s, 5m`)
                )
              )
      })
    ),
    Options.withDescription(
      "How often the sandbox's lease is renewed while held (default 5m; it lasts three times that)"
    )
  ),
  plugins: Options.text("plugin").pipe(
    Options.repeated,
    Options.withDescription(
      "A plugin of the action execution server (repeat for more, e.g. --plugin agent_skills --plugin jupyter); " +
        "connect loads vscode unless plugins are given, exec none"
    )
  )
}

const connect = Command.make(
  "connect",
  runtimeOptions,
  handle((flags) =>
    lazy(
      () => import("./Session.js"),
      (m) => m.connect(flags)
    )
  )
).pipe(
  Command.withDescription(
    "Connect (create, or attach with --attach), print the sandbox id, action server URL, VSCode URL and " +
      "agent instructions, hold until Ctrl-C, then close"
  )
)

const exec = Command.make(
  "exec",
  {
    ...runtimeOptions,
    timeout: Options.text("timeout").pipe(
      Options.withDefault("120s"),
      Options.mapEffect((text) =>
        /^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text.trim())
          ? Effect.succeed(text.trim())
          : Effect.fail(
              ValidationError.invalidValue(
                HelpDoc.p(`--timeout: ${JSON.stringify(text)} is not a duration; use e.g. 30s, 10m or 1h`)
              )
            )
      ),
      Options.withDescription(
        "How long the command may run (default 120s); still running then, it is interrupted (C-c) and exec exits 124"
      )
    ),
    command: Args.text({ name: "command" }).pipe(
      Args.atLeast(1),
      Args.withDescription(
        "The command, after --: one argument is a shell command line; several are quoted word by word"
      )
    )
  },
  handle((flags) =>
    lazy(
      () => import("./Session.js"),
      (m) => m.exec(flags, flags.command, flags.timeout)
    )
  )
).pipe(
  Command.withDescription(
    "Connect, run a command through the action execution server, print its output, close; exit with its exit code"
  )
)

const list = Command.make(
  "list",
  common,
  handle((flags) =>
    lazy(
      () => import("./Manage.js"),
      (m) => m.list(flags)
    )
  )
).pipe(Command.withDescription("List the sandboxes carrying the OpenHands_SID label: id, sid, state"))

const stop = Command.make(
  "stop",
  { ...common, sid: sidOption },
  handle((flags) =>
    lazy(
      () => import("./Manage.js"),
      (m) => m.stopOrDelete(flags, "stop")
    )
  )
).pipe(Command.withDescription("Stop the sandbox(es) of a SID"))

const del = Command.make(
  "delete",
  { ...common, sid: sidOption },
  handle((flags) =>
    lazy(
      () => import("./Manage.js"),
      (m) => m.stopOrDelete(flags, "delete")
    )
  )
).pipe(Command.withDescription("Delete the sandbox(es) of a SID"))

const durationOption = (name: string, fallback: string, description: string, alias?: string) =>
  Options.text(name).pipe(
    (option) => (alias === undefined ? option : Options.withAlias(option, alias)),
    Options.withDefault(fallback),
    Options.mapEffect((text) =>
      durationText.test(text.trim())
        ? Effect.succeed(text.trim())
        : Effect.fail(
            ValidationError.invalidValue(
              HelpDoc.p(
                `--${alias === undefined ? name : `${name}/--${alias}`}: ${JSON.stringify(text)} is not a duration; ` +
                  "use e.g. 90s, 30m, 1h, 1h30m, 2d or 0"
              )
            )
          )
    ),
    Options.withDescription(description)
  )

const reap = Command.make(
  "reap",
  {
    ...common,
    ttl: durationOption(
      "ttl",
      "24h",
      "Reap a sandbox whose lease was last renewed longer ago than this (default 24h); a live lease is never reaped",
      "older-than"
    ),
    errorTtl: durationOption("error-ttl", "2h", "The same for sandboxes in error or build_failed (default 2h)"),
    apply: Options.boolean("apply").pipe(Options.withDescription("Stop them (without it, only list them)")),
    delete: Options.boolean("delete").pipe(
      Options.withDescription("Delete instead of stop (stopped and failed sandboxes can only be deleted)")
    )
  },
  handle((flags) =>
    lazy(
      () => import("./Reap.js"),
      (m) =>
        m.reap({
          ...flags,
          ttl: Option.getOrThrow(m.parseDuration(flags.ttl)),
          errorTtl: Option.getOrThrow(m.parseDuration(flags.errorTtl))
        })
    )
  )
).pipe(
  Command.withDescription(
    "List the sandboxes this tool created whose holder stopped renewing their lease longer ago than --ttl, with " +
      "what they cost per hour; stop (or --delete) them with --apply. A live lease is never touched"
  )
)

const doctor = Command.make(
  "doctor",
  {
    ...common,
    connect: Options.boolean("connect").pipe(
      Options.withDescription("Also create a sandbox, start its action server, run a command and delete it")
    )
  },
  handle((flags) =>
    lazy(
      () => import("./Doctor.js"),
      (m) => m.doctor(flags)
    )
  )
).pipe(
  Command.withDescription(
    "Check the configuration, API reachability and latency, authentication and broken sandboxes; say what to fix"
  )
)

const pool = PoolCommand.make(common)

const portOption = (name: string, what: string) =>
  Options.integer(name).pipe(
    Options.withDefault(0),
    Options.mapEffect((port) =>
      port >= 0 && port <= 65535
        ? Effect.succeed(port)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: ${port} is not a port; use 0 to 65535`)))
    ),
    Options.withDescription(`${what} on 127.0.0.1 (default 0: any free port)`)
  )

const ssh = Command.make(
  "ssh",
  {
    ...common,
    sid: sidOption,
    expires: Options.integer("expires").pipe(
      Options.withDefault(60),
      Options.mapEffect((minutes) =>
        minutes >= 1
          ? Effect.succeed(minutes)
          : Effect.fail(
              ValidationError.invalidValue(HelpDoc.p(`--expires: ${minutes} is not a positive number of minutes`))
            )
      ),
      Options.withDescription("Minutes the access lasts (default 60)")
    ),
    revoke: Options.text("revoke").pipe(
      Options.optional,
      Options.withDescription("Revoke this token of the sandbox instead of creating one")
    )
  },
  handle((flags) =>
    lazy(
      () => import("./Ssh.js"),
      (m) => m.ssh(flags)
    )
  )
).pipe(
  Command.withDescription(
    "Create SSH access to the sandbox of a SID and print the command that uses it (ssh <token>@<gateway>; the token " +
      "is secret); a new access replaces the sandbox's earlier one; --revoke TOKEN ends one early"
  )
)

const emulator = Command.make(
  "emulator",
  {
    json: common.json,
    verbose: common.verbose,
    unsafeHostProcesses: Options.boolean("unsafe-host-processes").pipe(
      Options.withDescription(
        "Where bubblewrap is missing, run sandbox commands UNISOLATED, as your own user on this machine's " +
          "filesystem, instead of refusing to start (with bubblewrap they are isolated either way)"
      )
    ),
    port: portOption("port", "The API's port"),
    sshPort: portOption("ssh-port", "The SSH endpoint's port"),
    apiKey: Options.text("api-key").pipe(
      Options.optional,
      Options.withDescription("The API key clients must send (default: a random one, printed)")
    ),
    actionServerCommand
  },
  handle((flags) =>
    lazy(
      () => import("./EmulatorCommand.js"),
      (m) => m.emulator(flags)
    )
  )
).pipe(
  Command.withDescription("Run the local Daytona emulator until Ctrl-C and print its API URL, API key and SSH port")
)

const root = Command.make("effect-daytona", {}, () =>
  Effect.zipRight(
    Console.error(
      "effect-daytona: give a command: connect, exec, list, stop, delete, reap, ssh, pool, doctor or emulator (see --help)"
    ),
    Output.setExitCode(2)
  )
).pipe(
  Command.withDescription(
    "Daytona sandboxes for AI agents, from the command line. Every command takes --help; --version prints the version"
  ),
  Command.withSubcommands([connect, exec, list, stop, del, reap, ssh, pool, doctor, emulator])
)

const cli = Command.run(root, { name: "effect-daytona", version })

// The help lists this tool's own flags; --help and --version work on every command.
const cliConfig = CliConfig.make({ showBuiltIns: false })

/**
 * Runs the CLI on `process.argv`-style arguments and returns the exit code: 0, the command's own for
 * `exec`, 2 for usage and configuration errors, 1 for other failures. Interruption is passed on.
 *
 * @since 0.1.0
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number, never, CliApp.CliApp.Environment> =>
  Effect.gen(function* () {
    const exitCode = yield* Ref.make(0)
    yield* cli(argv).pipe(
      Effect.provideService(Output.ExitCode, exitCode),
      Effect.provideService(CliConfig.CliConfig, cliConfig),
      Effect.catchAllCause((cause) =>
        Effect.gen(function* () {
          const error = Cause.failureOption(cause)
          if (Option.exists(error, ValidationError.isValidationError)) {
            // @effect/cli has printed what is wrong with the command line; add what to do.
            yield* Console.error("  fix: see effect-daytona --help, or effect-daytona <command> --help")
            if (argv.includes("--json")) {
              yield* Output.printJson(
                Errors.toJson({ tag: "ValidationError", what: "Invalid command line", fix: "See --help", exitCode: 2 })
              )
            }
            yield* Ref.set(exitCode, 2)
          } else {
            // Anything the commands did not report themselves (a defect outside any command).
            yield* Effect.asVoid(
              Output.reportFailures({ json: argv.includes("--json"), verbose: argv.includes("--verbose") })(
                Effect.failCause(cause)
              ).pipe(Effect.provideService(Output.ExitCode, exitCode))
            )
          }
          if (Cause.isInterrupted(cause)) return yield* Effect.interrupt
        })
      )
    )
    return yield* Ref.get(exitCode)
  })
