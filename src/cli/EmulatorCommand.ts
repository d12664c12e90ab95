/**
 * `emulator [--port N] [--api-key K] [--json] [--action-server-command CMD]`: runs the local Daytona emulator until
 * Ctrl-C (or SIGTERM),
 * which ends every sandbox process and removes its data folder. It prints where it listens and its API
 * key (a local, throw-away key: printing it is how a client learns it).
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import * as Standalone from "../emulator/Standalone.js"
import * as Env from "./Env.js"

/**
 * The flags of `emulator`.
 *
 * @since 0.1.0
 */
export interface EmulatorFlags {
  readonly json: boolean
  readonly verbose: boolean
  readonly port: number
  readonly apiKey: Option.Option<string>
  readonly actionServerCommand: Option.Option<string>
}

/**
 * Runs the emulator until interrupted.
 *
 * @since 0.1.0
 */
export const emulator = (flags: EmulatorFlags) =>
  Effect.flatMap(Env.emulatorKnobs, (knobs) =>
    Standalone.run({
      port: flags.port,
      apiKey: Option.getOrUndefined(flags.apiKey),
      json: flags.json,
      actionServerCommand: Option.getOrUndefined(flags.actionServerCommand),
      ...knobs
    })
  )
