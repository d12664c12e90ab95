#!/usr/bin/env node
/**
 * The `effect-daytona` executable: provides the platform and runs the CLI with `NodeRuntime.runMain`.
 *
 * Ctrl-C (SIGINT) or SIGTERM interrupts the command; once its cleanup is done (the sandbox closed) the
 * process exits 130 or 143. A second Ctrl-C exits at once.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { main } from "./Cli.js"

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const
type Signal = keyof typeof SIGNAL_EXIT_CODES

let received: Signal | undefined
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  // runMain interrupts the program on the first signal; this listener records which one came, and
  // ends the process at once on the next.
  process.on(signal, () => {
    if (received !== undefined) process.exit(SIGNAL_EXIT_CODES[signal])
    received = signal
  })
}

NodeRuntime.runMain(main(process.argv).pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: true,
  // The commands install the logger of LOG_FORMAT (on stderr); runMain's own pretty logger would print every
  // line a second time, on stdout, where results (and the one JSON document of --json) go.
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    const code =
      received !== undefined
        ? SIGNAL_EXIT_CODES[received]
        : Exit.isSuccess(exit)
          ? Number(exit.value)
          : Cause.isInterruptedOnly(exit.cause)
            ? 130
            : 1
    process.exitCode = code
    // Exits now unless nothing is left to run; a handle left open must not keep the process alive.
    setTimeout(() => process.exit(code), 500).unref()
    onExit(code)
  }
})
