/**
 * `emulator [--port N] [--api-key K] [--json]`: runs the local Daytona emulator until Ctrl-C (or SIGTERM),
 * which ends every sandbox process and removes its data folder. It prints where it listens and its API
 * key (a local, throw-away key: printing it is how a client learns it).
 *
 * @since 0.1.0
 */
import { Console, Effect, Option, Redacted } from "effect"
import { make } from "../emulator/Emulator.js"
import * as Env from "./Env.js"
import * as Output from "./Output.js"

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
}

/**
 * Runs the emulator until interrupted.
 *
 * @since 0.1.0
 */
export const emulator = (flags: EmulatorFlags) =>
  Effect.scoped(
    Effect.gen(function* () {
      const control = yield* make({
        port: flags.port,
        apiKey: Option.getOrUndefined(flags.apiKey),
        ...(yield* Env.emulatorKnobs)
      })
      const apiKey = Redacted.value(control.apiKey)
      if (flags.json) {
        yield* Output.printJson({ apiUrl: control.apiUrl, apiKey })
      } else {
        yield* Console.log(`Daytona emulator listening on ${control.apiUrl}`)
        yield* Console.log(`API key: ${apiKey}`)
        yield* Console.log(`Use it with: DAYTONA_API_URL=${control.apiUrl} DAYTONA_API_KEY=${apiKey}`)
        yield* Output.note("Press Ctrl-C to stop it (every sandbox process is ended).")
      }
      return yield* Effect.never
    })
  )
