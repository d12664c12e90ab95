import { Effect, Stream } from "effect"
import { Action, DaytonaRuntime } from "../../../src/index.js"

const agentTurn = (runtime: DaytonaRuntime.DaytonaRuntimeHandle) =>
  runtime
    .bridge(
      Stream.make(
        { id: 1, action: Action.Run({ command: "ls" }) },
        { id: 2, action: Action.Read({ path: "README.md", start: 0, end: 20 }) },
        { id: 3, action: Action.Edit({ path: "/workspace/app.py", command: "create", fileText: "print(1)\n" }) }
      )
    )
    .pipe(Stream.runForEach(({ cause, observation }) => Effect.log(`#${cause}: ${observation._tag}`)))

export { agentTurn } // (not in the README)
