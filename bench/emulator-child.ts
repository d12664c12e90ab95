/**
 * The emulator in a process of its own, for the benchmarks that measure the client process alone:
 * `node emulator-child.js '<EmulatorOptions as JSON>'`. It prints one line `{"apiUrl", "apiKey"}`, then answers
 * each line read on stdin — `sandboxes` (a JSON array of `{id, state}`), `live` (the processes and in-process
 * servers still running), `throttled` (the 429s answered since the last reset) or `reset` (forgets the request log
 * and the throttlers' counters: a fresh window) — with one JSON line, and stops (ending every sandbox) when stdin
 * closes.
 */
import { Effect, Exit, Redacted, Scope } from "effect"
import { createInterface } from "node:readline"
import * as Emulator from "../src/emulator/Emulator.js"

const main = async () => {
  const options = JSON.parse(process.argv[2] ?? "{}") as Emulator.EmulatorOptions
  const scope = Effect.runSync(Scope.make())
  const control = await Effect.runPromise(Emulator.make(options).pipe(Scope.extend(scope)))
  // The throttlers in force, set again (counters cleared) on `reset`.
  const limits: Emulator.RateLimitsConfig = {
    ...(options.createsPerMinute === undefined
      ? {}
      : { "sandbox-create": { limit: options.createsPerMinute, ttlSeconds: 60 } }),
    ...options.rateLimits
  }
  process.stdout.write(`${JSON.stringify({ apiUrl: control.apiUrl, apiKey: Redacted.value(control.apiKey) })}\n`)
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    if (line === "sandboxes") {
      const sandboxes = await Effect.runPromise(control.sandboxes)
      process.stdout.write(`${JSON.stringify(sandboxes.map(({ id, state }) => ({ id, state })))}\n`)
    } else if (line === "live") {
      process.stdout.write(`${JSON.stringify(await Effect.runPromise(control.liveProcesses))}\n`)
    } else if (line === "throttled") {
      const requests = await Effect.runPromise(control.requests)
      process.stdout.write(`${requests.filter((entry) => entry.status === 429).length}\n`)
    } else if (line === "reset") {
      await Effect.runPromise(Effect.zipRight(control.resetRequests, control.setRateLimits(limits)))
      process.stdout.write("true\n")
    }
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(0)
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
