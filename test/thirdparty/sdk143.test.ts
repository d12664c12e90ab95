/**
 * `@daytonaio/sdk` 0.143, unchanged — the one `@langchain/daytona` 0.1.2 and `@mastra/daytona` 0.4.1 ship — used
 * directly against the standalone emulator: `findOne`, the deprecated page-numbered `list` (`GET
 * /sandbox/paginated`), one-off and session commands (its logs in the daemon's plain-text format with stream
 * markers), files, stop/start/delete. It polls; it has no event socket.
 */
import { createRequire } from "node:module"
import { assert, describe, it } from "vitest"
import { useStandaloneEmulator } from "./support.js"

type Sdk143 = typeof import("../../node_modules/@langchain/daytona/node_modules/@daytonaio/sdk/src/index.js")

const { Daytona } = createRequire(import.meta.url)(
  "../../node_modules/@langchain/daytona/node_modules/@daytonaio/sdk/src/index.js"
) as Sdk143

const emulator = useStandaloneEmulator()

describe("SDK 0.143, as deepagents' and Mastra's Daytona backends ship it", () => {
  it("findOne, page-numbered list, commands, session logs, files, stop/start/delete", async () => {
    const daytona = new Daytona({ apiKey: emulator().apiKey, apiUrl: emulator().apiUrl, target: "us" })
    const sandbox = await daytona.create({ labels: { suite: "thirdparty-143", n: "1" }, envVars: { A: "1" } })
    assert.strictEqual(sandbox.state, "started")
    const other = await daytona.create({ labels: { suite: "thirdparty-143", n: "2" } })

    assert.strictEqual((await daytona.findOne({ idOrName: sandbox.id })).id, sandbox.id)
    assert.strictEqual((await daytona.findOne({ labels: { suite: "thirdparty-143", n: "2" } })).id, other.id)
    const page = await daytona.list({ suite: "thirdparty-143" }, 1, 1)
    assert.deepStrictEqual([page.items.length, page.total, page.page, page.totalPages], [1, 2, 1, 2])
    const second = await daytona.list({ suite: "thirdparty-143" }, 2, 1)
    assert.notStrictEqual(second.items[0]?.id, page.items[0]?.id)

    assert.deepStrictEqual(
      [
        (await sandbox.process.executeCommand("echo $A")).result,
        (await sandbox.process.executeCommand("exit 2")).exitCode
      ],
      ["1\n", 2]
    )
    await sandbox.process.createSession("old")
    const sync = await sandbox.process.executeSessionCommand("old", { command: "echo out; echo err >&2" })
    assert.deepStrictEqual([sync.exitCode, sync.stdout, sync.stderr], [0, "out\n", "err\n"])
    const later = await sandbox.process.executeSessionCommand("old", {
      command: "sleep 0.2; echo later",
      runAsync: true
    })
    let logs = await sandbox.process.getSessionCommandLogs("old", later.cmdId!)
    for (let i = 0; i < 30 && logs.stdout !== "later\n"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      logs = await sandbox.process.getSessionCommandLogs("old", later.cmdId!)
    }
    assert.deepStrictEqual([logs.stdout, logs.stderr], ["later\n", ""])

    await sandbox.fs.uploadFile(Buffer.from("q"), "/home/daytona/q.txt")
    assert.strictEqual((await sandbox.fs.downloadFile("/home/daytona/q.txt")).toString(), "q")

    await sandbox.stop()
    assert.strictEqual(sandbox.state, "stopped")
    await sandbox.start()
    assert.strictEqual(sandbox.state, "started")
    assert.strictEqual((await sandbox.fs.downloadFile("/home/daytona/q.txt")).toString(), "q")
    await sandbox.delete()
    await other.delete()
    const left = (await daytona.list({ suite: "thirdparty-143" })).items.filter(
      (listed) => !["destroying", "destroyed"].includes(listed.state ?? "")
    )
    assert.deepStrictEqual(left, [])
  })
})
