/**
 * How every CLI command runs its body: with the logger from the environment, its failure reported (exit code, what
 * to fix, `--json`), and its module imported on first use so that `--help` and `--version` load nothing else.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as Logging from "../layers/Logging.js"
import * as Output from "./Output.js"

/**
 * Runs a command's effect with the logger from the environment, reporting its failure.
 *
 * @since 0.2.0
 */
export const handle =
  <F extends { readonly json: boolean; readonly verbose: boolean }, R>(
    body: (flags: F) => Effect.Effect<void, unknown, R>
  ) =>
  (flags: F) =>
    Effect.suspend(() => body(flags)).pipe(Effect.provide(Logging.layer), Output.reportFailures(flags))

/**
 * Imports a command module on first use.
 *
 * @since 0.2.0
 */
export const lazy = <M, R>(load: () => Promise<M>, use: (module: M) => Effect.Effect<void, unknown, R>) =>
  Effect.flatMap(Effect.promise(load), use)
