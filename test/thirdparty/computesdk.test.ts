/**
 * `@computesdk/daytona` 1.7.32, unchanged (it ships SDK 0.192 and makes a client per call with only the API key, so
 * the API URL and target come from `DAYTONA_API_URL` and `DAYTONA_TARGET`, set for this test file's process), against
 * the standalone emulator: create with env and metadata, runCommand with cwd and env, its shell-based filesystem,
 * getUrl, getById, list, snapshot/template listing, destroy.
 */
import { daytona } from "@computesdk/daytona"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { useStandaloneEmulator } from "./support.js"

const emulator = useStandaloneEmulator()
const saved = { url: process.env.DAYTONA_API_URL, target: process.env.DAYTONA_TARGET }

beforeAll(() => {
  process.env.DAYTONA_API_URL = emulator().apiUrl
  process.env.DAYTONA_TARGET = "us"
})

afterAll(() => {
  for (const [name, value] of [
    ["DAYTONA_API_URL", saved.url],
    ["DAYTONA_TARGET", saved.target]
  ] as const) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
})

describe("@computesdk/daytona 1.7.32", () => {
  it("create, runCommand, filesystem, getUrl, getById, list, snapshots, destroy", async () => {
    const provider = daytona({ apiKey: emulator().apiKey })
    const sandbox = await provider.sandbox.create({
      envs: { GREETING: "hi" },
      metadata: { suite: "thirdparty-computesdk" }
    })
    const id = sandbox.sandboxId
    const hello = await sandbox.runCommand("echo $GREETING; pwd")
    assert.deepStrictEqual([hello.exitCode, hello.stdout], [0, "hi\n/home/daytona\n"])
    // It prefixes `X="y"` to the command, so the variable reaches the program, not the shell's own expansion.
    const placed = await sandbox.runCommand("printenv X; pwd", { cwd: "/tmp", env: { X: "y" } })
    assert.strictEqual(placed.stdout, "y\n/tmp\n")
    assert.strictEqual((await sandbox.runCommand("exit 5")).exitCode, 5)

    await sandbox.filesystem.mkdir("/home/daytona/cs")
    await sandbox.filesystem.writeFile("/home/daytona/cs/a.txt", "content\n")
    assert.strictEqual(await sandbox.filesystem.readFile("/home/daytona/cs/a.txt"), "content\n")
    assert.isTrue(await sandbox.filesystem.exists("/home/daytona/cs/a.txt"))
    assert.deepStrictEqual(
      (await sandbox.filesystem.readdir("/home/daytona/cs")).map((entry) => [entry.name, entry.type]),
      [["a.txt", "file"]]
    )
    await sandbox.filesystem.remove("/home/daytona/cs")
    assert.isFalse(await sandbox.filesystem.exists("/home/daytona/cs"))

    assert.match(await sandbox.getUrl({ port: 3000 }), /^http:\/\/127\.0\.0\.1:\d+\/?$/)
    const found = await provider.sandbox.getById(id)
    assert.strictEqual(found?.sandboxId, id)
    assert.include(
      (await provider.sandbox.list()).map((listed) => listed.sandboxId),
      id
    )
    const snapshots = (await provider.snapshot?.list()) as { items?: ReadonlyArray<{ name: string }> } | undefined
    assert.include(
      (snapshots?.items ?? []).map((snapshot) => snapshot.name),
      "daytonaio/sandbox:emulator"
    )

    await sandbox.destroy()
    const left = (await emulator().sandboxes()).filter(
      (listed) => listed.id === id && !["destroying", "destroyed"].includes(listed.state)
    )
    assert.deepStrictEqual(left, [])
    assert.isNull(await provider.sandbox.getById("no-such-sandbox"))
  })
})
