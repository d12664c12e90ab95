/**
 * The layers behind the commands, built only when a command runs: the configuration (from the
 * environment, or an embedded emulator with `--emulator`), the Daytona client, and everything
 * `DaytonaRuntime.acquire` needs. The modules behind them (the emulator, the runtime, the SDK) are
 * imported on first use, so `--help` and `--version` load none of them.
 *
 * @since 0.1.0
 */
import { Config, Duration, Effect, Layer, Option } from "effect"
import type { ActionServer } from "../services/ActionServer.js"
import type { DaytonaClient } from "../services/DaytonaClient.js"
import { DaytonaConfig, Defaults, strictBoolean, Variables } from "../services/DaytonaConfig.js"
import type { RuntimeEvents } from "../services/RuntimeEvents.js"
import type { Coordinator } from "../programs/Coordinator.js"
import { UsageError } from "./Errors.js"

/**
 * The flags every command takes.
 *
 * @since 0.1.0
 */
export interface CommonFlags {
  /** Run against an embedded emulator instead of `DAYTONA_API_URL`. */
  readonly emulator: boolean
  /** Print exactly one JSON document on stdout. */
  readonly json: boolean
  /** Show the cause of a failure. */
  readonly verbose: boolean
  /** With the emulator: the command run instead of its built-in action server. */
  readonly actionServerCommand?: Option.Option<string> | undefined
  /** With `emulator`: without bubblewrap, run sandbox commands unisolated instead of refusing to start. */
  readonly unsafeHostProcesses?: boolean | undefined
}

/**
 * Test-only knobs of an emulator the CLI runs (`--emulator` and the `emulator` command), in milliseconds:
 * the boot delay of its action servers (to hold a runtime in its wait for `/alive`), how long a stop
 * takes (to hold a runtime in its cleanup) and how long a create takes (to hold it while creating).
 *
 * @since 0.1.0
 */
export const BOOT_DELAY_VARIABLE = "EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS"

/** @see BOOT_DELAY_VARIABLE */
export const STOP_DELAY_VARIABLE = "EFFECT_DAYTONA_EMULATOR_STOP_DELAY_MS"

/** How long a create takes (to hold a runtime while its sandbox is being created). @see BOOT_DELAY_VARIABLE */
export const CREATE_DELAY_VARIABLE = "EFFECT_DAYTONA_EMULATOR_CREATE_DELAY_MS"

/**
 * The emulator options the test-only knobs set (nothing when they are unset).
 *
 * @since 0.1.0
 */
export const emulatorKnobs = Config.all({
  bootDelayMs: Config.option(Config.integer(BOOT_DELAY_VARIABLE)),
  stopDelayMs: Config.option(Config.integer(STOP_DELAY_VARIABLE)),
  createDelayMs: Config.option(Config.integer(CREATE_DELAY_VARIABLE))
}).pipe(
  Config.map(({ bootDelayMs, createDelayMs, stopDelayMs }) => {
    const latencies = {
      ...Option.match(stopDelayMs, {
        onNone: () => ({}),
        onSome: (ms) => ({ stop: Duration.millis(Math.max(0, ms)) })
      }),
      ...Option.match(createDelayMs, {
        onNone: () => ({}),
        onSome: (ms) => ({ create: Duration.millis(Math.max(0, ms)) })
      })
    }
    return {
      ...Option.match(bootDelayMs, {
        onNone: () => ({}),
        onSome: (ms) => ({ actionServer: { bootDelay: Duration.millis(Math.max(0, ms)) } })
      }),
      ...(Object.keys(latencies).length === 0 ? {} : { latencies })
    }
  })
)

/**
 * What an embedded emulator takes from the environment: `DAYTONA_PUBLIC`, `DAYTONA_DELETE_ON_CLOSE`,
 * `DAYTONA_DISABLE_AUTO_STOP` and the test-only knobs.
 *
 * @since 0.1.0
 */
export const emulatorEnv = Config.all({
  public: strictBoolean(Variables.public, Defaults.public),
  deleteOnClose: strictBoolean(Variables.deleteOnClose, Defaults.deleteOnClose),
  disableAutoStop: strictBoolean(Variables.disableAutoStop, Defaults.disableAutoStop),
  knobs: emulatorKnobs
})

/**
 * The configuration: `DaytonaConfig.layer` (the environment), or an embedded emulator (with
 * `--unsafe-host-processes`, one that runs sandbox commands unisolated where bubblewrap is missing). The flag
 * without `--emulator` is a usage error: it would change nothing.
 *
 * @since 0.1.0
 */
export const configLayer = (flags: CommonFlags): Layer.Layer<DaytonaConfig, unknown> => {
  const actionServerCommand = Option.getOrUndefined(flags.actionServerCommand ?? Option.none())
  if (!flags.emulator) {
    return actionServerCommand !== undefined
      ? Layer.fail(
          new UsageError({
            what: "--action-server-command works only with --emulator",
            fix: "Add --emulator, or leave --action-server-command out to use DAYTONA_API_URL"
          })
        )
      : flags.unsafeHostProcesses === true
        ? Layer.fail(
            new UsageError({
              what: "--unsafe-host-processes applies to the local emulator only",
              fix: "Add --emulator, or leave the flag out: a real Daytona sandbox is isolated by Daytona"
            })
          )
        : DaytonaConfig.layer
  }
  return Layer.unwrapEffect(
    Effect.gen(function* () {
      const env = yield* emulatorEnv
      const Emulator = yield* Effect.promise(() => import("../emulator/Emulator.js"))
      return Emulator.layer({
        public: env.public,
        deleteOnClose: env.deleteOnClose,
        disableAutoStop: env.disableAutoStop,
        unsafeHostProcesses: flags.unsafeHostProcesses === true,
        actionServerCommand,
        ...env.knobs
      })
    })
  )
}

/**
 * The configuration and the Daytona client.
 *
 * @since 0.1.0
 */
export const clientLayer = (flags: CommonFlags): Layer.Layer<DaytonaClient | DaytonaConfig, unknown> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("../layers/DaytonaClientLive.js")),
      (Live) => Live.layer.pipe(Layer.provideMerge(configLayer(flags)))
    )
  )

/**
 * What a runtime command needs: the configuration and `DaytonaRuntime.layer`.
 *
 * @since 0.1.0
 */
export const runtimeLayer = (
  flags: CommonFlags
): Layer.Layer<DaytonaClient | ActionServer | RuntimeEvents | Coordinator | DaytonaConfig, unknown> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("../DaytonaRuntime.js")),
      (DaytonaRuntime) => DaytonaRuntime.layer.pipe(Layer.provideMerge(configLayer(flags)))
    )
  )
