import { Console, Effect } from "effect"
import { DaytonaRuntime } from "../../../src/index.js"

const build = (runtime: DaytonaRuntime.DaytonaRuntimeHandle) =>
  Effect.gen(function* () {
    let result = yield* runtime.run("npm run build", { timeout: "30 seconds" })
    while (result._tag === "StillRunning") {
      yield* Console.log(`still building: ${result.output.split("\n").at(-1)}`)
      result = yield* runtime.readOutput({ timeout: "30 seconds" })
    }
    return yield* DaytonaRuntime.RunResult.$match(result, {
      Completed: ({ exitCode, output }) => Effect.succeed({ exitCode, output }),
      StillRunning: () => Effect.dieMessage("unreachable"),
      NotExecuted: ({ reason }) => Effect.fail(`another command runs: ${reason}`),
      NothingRunning: ({ reason }) => Effect.fail(reason)
    })
  })

// A command waiting for input, answered; one that never ends, interrupted.
const interactive = (runtime: DaytonaRuntime.DaytonaRuntimeHandle) =>
  Effect.gen(function* () {
    yield* runtime.run('read -p "name? " name; echo "hello $name"', { timeout: "2 seconds" }) // StillRunning
    const answered = yield* runtime.sendInput("Ada") // Completed, output "hello Ada"
    yield* runtime.run("sleep 600", { timeout: "2 seconds" }) // StillRunning
    const stopped = yield* runtime.interrupt() // Completed, exitCode 130
    return [answered.output, stopped.exitCode] as const
  })

export { build, interactive } // (not in the README)
