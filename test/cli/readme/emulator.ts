import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { DaytonaRuntime, Emulator, EmulatorControl } from "../../../src/index.js"

const program = Effect.gen(function* () {
  yield* Effect.scoped(
    Effect.gen(function* () {
      const runtime = yield* DaytonaRuntime.acquire({ sid: "local" })
      const result = yield* runtime.run("echo hello from the emulator")
      yield* Console.log(result.output)
    })
  )
  // The scope is closed: the emulator shows the sandbox stopped.
  const sandboxes = yield* Effect.flatMap(EmulatorControl, (emulator) => emulator.sandboxes)
  yield* Console.log(sandboxes.map((sandbox) => `${sandbox.id}: ${sandbox.state}`).join("\n"))
})

// Emulator.layer() provides a DaytonaConfig pointing at a local emulator, and its EmulatorControl.
const MainLayer = DaytonaRuntime.layer.pipe(Layer.provideMerge(Emulator.layer()))

NodeRuntime.runMain(program.pipe(Effect.provide(MainLayer)))
