/**
 * `emulator [--port N] [--ssh-port N] [--api-key K] [--unsafe-host-processes] [--action-server-command CMD] [--json]`:
 * runs the local Daytona emulator until Ctrl-C (or SIGTERM), which ends every sandbox process and removes its data
 * folder. It prints where it listens (API and SSH) and its API key (a local, throw-away key: printing it is how a
 * client learns it).
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
  readonly sshPort: number
  readonly apiKey: Option.Option<string>
  readonly actionServerCommand: Option.Option<string>
  /** Without bubblewrap, run sandbox commands unisolated instead of refusing to start. */
  readonly unsafeHostProcesses: boolean
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
      sshPort: flags.sshPort,
      apiKey: Option.getOrUndefined(flags.apiKey),
      unsafeHostProcesses: flags.unsafeHostProcesses,
      json: flags.json,
      actionServerCommand: Option.getOrUndefined(flags.actionServerCommand),
      ...knobs
    })
  )
