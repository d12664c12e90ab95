import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { DaytonaConfig, DaytonaRuntime, Logging } from "../../../src/index.js"

// One sandbox for the program: obtained by acquire, closed (stopped) when the scope ends —
// on success, failure or Ctrl-C alike.
const program = Effect.scoped(
  Effect.gen(function* () {
    const runtime = yield* DaytonaRuntime.acquire({ sid: "readme-example" })
    yield* Console.log(`sandbox ${runtime.sandboxId} ready at ${runtime.actionServerUrl}`)
    const result = yield* runtime.run("echo hello from the sandbox")
    yield* Console.log(`exit code ${result.exitCode}: ${result.output}`)
    yield* runtime.run("echo notes > notes.txt")
    yield* Console.log(`workspace: ${(yield* runtime.listFiles()).join(", ")}`)
  })
)

// DaytonaRuntime.layer needs only a DaytonaConfig; DaytonaConfig.layer reads DAYTONA_API_KEY & co.
const MainLayer = DaytonaRuntime.layer.pipe(Layer.provideMerge(DaytonaConfig.layer), Layer.merge(Logging.layer))

NodeRuntime.runMain(program.pipe(Effect.provide(MainLayer)))
