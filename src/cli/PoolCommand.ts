/**
 * The `pool` command of the CLI and its subcommands (`list`, `create`, `update`, `delete`), run by `Pool.ts`, which is
 * imported on first use as every command module is.
 *
 * @since 0.2.0
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Effect } from "effect"
import { handle, lazy } from "./Handler.js"
import * as Output from "./Output.js"

/**
 * The flags every command takes (Cli.ts's `common`).
 *
 * @since 0.2.0
 */
export type CommonOptions = {
  readonly emulator: Options.Options<boolean>
  readonly unsafeHostProcesses: Options.Options<boolean>
  readonly json: Options.Options<boolean>
  readonly verbose: Options.Options<boolean>
}

/** Runs a subcommand of `Pool.ts`, imported on first use. */
const pool = <R>(use: (module: typeof import("./Pool.js")) => Effect.Effect<void, unknown, R>) =>
  lazy(() => import("./Pool.js"), use)

/**
 * The `pool` command, with the CLI's common flags.
 *
 * @since 0.2.0
 */
export const make = (common: CommonOptions) => {
  const sizeOption = (min: number, what: string) =>
    Options.integer("size").pipe(
      Options.mapEffect((size) =>
        size >= min
          ? Effect.succeed(size)
          : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--size: ${size} is below ${min}`)))
      ),
      Options.withDescription(what)
    )

  const poolId = Args.text({ name: "id" }).pipe(Args.withDescription("The warm pool's id (see pool list)"))

  const poolList = Command.make(
    "list",
    common,
    handle((flags) => pool((m) => m.list(flags)))
  ).pipe(Command.withDescription("List the organization's warm pools: id, snapshot, region, ready of desired"))

  const poolCreate = Command.make(
    "create",
    {
      ...common,
      snapshot: Options.text("snapshot").pipe(Options.withDescription("The snapshot (id or name) to keep ready")),
      size: sizeOption(1, "How many ready sandboxes to keep (at least 1)"),
      target: Options.text("target").pipe(
        Options.optional,
        Options.withDescription("The region (default: the organization's default region)")
      )
    },
    handle((flags) => pool((m) => m.create(flags)))
  ).pipe(Command.withDescription("Create a warm pool of a snapshot"))

  const poolUpdate = Command.make(
    "update",
    { ...common, size: sizeOption(0, "The new number of ready sandboxes (0 drains the pool)"), id: poolId },
    handle((flags) => pool((m) => m.update(flags)))
  ).pipe(Command.withDescription("Set a warm pool's size"))

  const poolDelete = Command.make(
    "delete",
    { ...common, id: poolId },
    handle((flags) => pool((m) => m.remove(flags)))
  ).pipe(Command.withDescription("Delete a warm pool and its ready sandboxes"))

  return Command.make("pool", {}, () =>
    Effect.zipRight(
      Console.error("effect-daytona pool: give a subcommand: list, create, update or delete (see --help)"),
      Output.setExitCode(2)
    )
  ).pipe(
    Command.withDescription(
      "Daytona's warm pools: ready sandboxes of a snapshot, served at once to creates without custom env vars"
    ),
    Command.withSubcommands([poolList, poolCreate, poolUpdate, poolDelete])
  )
}
