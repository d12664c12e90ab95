/**
 * The emulator as a standalone server (`effect-daytona emulator --port N`): it prints where it listens (its API and
 * its SSH endpoint) and its API key, then serves until interrupted; the interruption (SIGINT/SIGTERM under `NodeRuntime.runMain`) ends every
 * sandbox process and removes its data folder.
 *
 * @since 0.1.0
 */
import { Console, Effect, Redacted } from "effect"
import { make } from "./Emulator.js"
import type { EmulatorError, EmulatorOptions } from "./Emulator.js"

/**
 * How to run the standalone emulator.
 *
 * @since 0.1.0
 */
export interface StandaloneOptions extends EmulatorOptions {
  /** 0 = any free port. */
  readonly port: number
  /** Print exactly one line `{"apiUrl": …, "apiKey": …, "sshPort": …}` instead of the human lines. */
  readonly json: boolean
}

/**
 * Runs the emulator until interrupted.
 *
 * @since 0.1.0
 */
export const run = (options: StandaloneOptions): Effect.Effect<never, EmulatorError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { json: _json, ...emulatorOptions } = options
      const control = yield* make(emulatorOptions)
      const apiKey = Redacted.value(control.apiKey)
      if (options.json) {
        yield* Console.log(JSON.stringify({ apiUrl: control.apiUrl, apiKey, sshPort: control.sshPort ?? null }))
      } else {
        yield* Console.log(`Daytona emulator listening on ${control.apiUrl}`)
        yield* Console.log(`API key: ${apiKey}`)
        yield* Console.log(`Use it with: DAYTONA_API_URL=${control.apiUrl} DAYTONA_API_KEY=${apiKey}`)
        if (control.sshPort !== undefined) {
          yield* Console.log(
            `SSH: ssh -p ${control.sshPort} <token>@127.0.0.1 (a token: effect-daytona ssh --sid <sid>, with the variables above)`
          )
        }
        yield* Console.error("Press Ctrl-C to stop (every sandbox process is ended).")
      }
      return yield* Effect.never
    })
  ).pipe(Effect.withSpan("Emulator.standalone"))
