/**
 * The emulator in a process of its own, for the benchmarks that measure the client process alone:
 * `node emulator-child.js '<EmulatorOptions as JSON>'`. It prints one line `{"apiUrl", "apiKey"}`, then answers
 * each line read on stdin — `sandboxes` (a JSON array of `{id, state}`) or `live` (the processes and in-process
 * servers still running) — with one JSON line, and stops (ending every sandbox) when stdin closes.
 */
import { Effect, Exit, Redacted, Scope } from "effect"
import { createInterface } from "node:readline"
import * as Emulator from "../src/emulator/Emulator.js"

const main = async () => {
  const options = JSON.parse(process.argv[2] ?? "{}") as Emulator.EmulatorOptions
  const scope = Effect.runSync(Scope.make())
  const control = await Effect.runPromise(Emulator.make(options).pipe(Scope.extend(scope)))
  process.stdout.write(`${JSON.stringify({ apiUrl: control.apiUrl, apiKey: Redacted.value(control.apiKey) })}\n`)
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    if (line === "sandboxes") {
      const sandboxes = await Effect.runPromise(control.sandboxes)
      process.stdout.write(`${JSON.stringify(sandboxes.map(({ id, state }) => ({ id, state })))}\n`)
    } else if (line === "live") {
      process.stdout.write(`${JSON.stringify(await Effect.runPromise(control.liveProcesses))}\n`)
    }
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(0)
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
