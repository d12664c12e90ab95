/**
 * The README's library examples are true: their code is the code of test/cli/readme/*.ts (type-checked
 * with the project), and both run to a clean exit — the live one against a standalone emulator through
 * DAYTONA_API_URL/DAYTONA_API_KEY, the other with its own embedded emulator.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { ROOT, spawnNode, startEmulator, type StandaloneEmulator } from "./support.js"

const VITE_NODE = Path.join(ROOT, "node_modules/vite-node/vite-node.mjs")
const fixture = (name: string) => Path.join(ROOT, "test/cli/readme", name)

/** The fixture's code as the README shows it: imported from the package root. */
const asInReadme = (name: string) =>
  readFileSync(fixture(name), "utf8").replace(`from "../../../src/index.js"`, `from "effect-daytona"`).trim()

let emulator: StandaloneEmulator

beforeAll(async () => {
  emulator = await startEmulator({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" })
})

afterAll(async () => {
  await emulator?.stop()
})

const runFixture = async (name: string, env: NodeJS.ProcessEnv) => {
  const spawned = spawnNode([VITE_NODE, fixture(name)], env)
  const exit = await spawned.exited
  await new Promise((resolve) => setImmediate(resolve))
  return { ...exit, stdout: spawned.stdout, stderr: spawned.stderr }
}

describe("README examples", () => {
  it("the README shows exactly the code of the fixtures", () => {
    const readme = readFileSync(Path.join(ROOT, "README.md"), "utf8")
    for (const name of ["live.ts", "emulator.ts"]) {
      assert.include(readme, `\`\`\`ts\n${asInReadme(name)}\n\`\`\``, `README.md must show test/cli/readme/${name}`)
    }
  })

  it("both run to a clean exit and close their sandbox", async () => {
    const [live, embedded] = await Promise.all([
      runFixture("live.ts", emulator.env()),
      runFixture("emulator.ts", emulator.env({ DAYTONA_API_URL: undefined, DAYTONA_API_KEY: undefined }))
    ])
    assert.strictEqual(live.code, 0, live.stderr)
    // A preview URL is the root of its own origin, as Daytona's `{port}-{sandboxId}.{proxyDomain}` is.
    assert.match(live.stdout, /^sandbox \S+ ready at http:\/\/127\.0\.0\.1:\d+$/m)
    assert.match(live.stdout, /^exit code 0: hello from the sandbox$/m)
    assert.match(live.stdout, /^workspace: notes\.txt$/m)
    const mine = (await emulator.sandboxes()).filter((sandbox) => sandbox.labels.OpenHands_SID === "readme-example")
    assert.deepStrictEqual(
      mine.map((sandbox) => sandbox.state),
      ["stopped"]
    )

    assert.strictEqual(embedded.code, 0, embedded.stderr)
    assert.match(embedded.stdout, /^hello from the emulator\n\S+: stopped$/m)
  })
})
