/**
 * The README's examples of long-running commands and of the event-stream bridge are the code of
 * test/real/readme/*.ts (type-checked with the project), and they do what their comments say against the
 * REAL OpenHands server run by the emulator.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Scope } from "effect"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { agentTurn } from "./readme/bridge.js"
import { interactive } from "./readme/long-running.js"
import { available, realTest, ROOT, SERVE, skipReason } from "./support.js"

if (!available) console.log(skipReason)

/** A fixture as the README shows it: imported from the package root, without its export line. */
const asInReadme = (name: string) =>
  readFileSync(Path.join(ROOT, "test/real/readme", name), "utf8")
    .replace(`from "../../../src/index.js"`, `from "effect-daytona"`)
    .split("\n")
    .filter((line) => !line.includes("(not in the README)"))
    .join("\n")
    .trim()

describe("README: long-running commands and the bridge", () => {
  it("the README shows exactly the code of the fixtures", () => {
    const readme = readFileSync(Path.join(ROOT, "README.md"), "utf8")
    for (const name of ["long-running.ts", "bridge.ts"]) {
      assert.include(readme, `\`\`\`ts\n${asInReadme(name)}\n\`\`\``, `README.md must show test/real/readme/${name}`)
    }
  })
})

let runtime: DaytonaRuntime.DaytonaRuntimeHandle
let close: () => Promise<void> = async () => {}

beforeAll(async () => {
  if (!available) return
  const scope = Effect.runSync(Scope.make())
  const stack = DaytonaRuntime.layer.pipe(Layer.provideMerge(Emulator.layer({ actionServerCommand: SERVE })))
  const context = await Effect.runPromise(Layer.buildWithScope(stack, scope))
  runtime = await Effect.runPromise(
    DaytonaRuntime.acquire({ sid: "readme-real" }).pipe(Effect.provide(context), Scope.extend(scope))
  )
  close = () => Effect.runPromise(Scope.close(scope, Exit.void))
}, 120_000)

afterAll(() => close())

describe.skipIf(!available)("README examples against the real server", () => {
  it.live(
    "interactive: the answer to a prompt, then an endless command interrupted (130)",
    () =>
      Effect.gen(function* () {
        const [answered, stopped] = yield* interactive(runtime)
        assert.include(answered, "hello Ada")
        assert.strictEqual(stopped, 130)
      }),
    realTest
  )

  it.live(
    "agentTurn: one log line per action, in order, naming its cause",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ message }) => lines.push(String(Array.isArray(message) ? message[0] : message)))
        )
        yield* agentTurn(runtime).pipe(Effect.provide(capture))
        // README.md is not in the workspace: the read is an error observation, a value like the others.
        assert.deepStrictEqual(lines, ["#1: Run", "#2: Error", "#3: Edit"])
      }),
    realTest
  )
})
