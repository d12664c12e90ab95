/**
 * `@langchain/daytona` 0.1.2 (deepagents' Daytona backend), unchanged, against the standalone emulator: its own
 * nested SDK 0.143 does the talking. The flow of an agent's sandbox: create, execute, upload/download, deepagents'
 * write/read/edit/ls/grep/glob/delete (built on execute and the file transfers), stop/start, reattach by id, and
 * `deleteAll` by labels (SDK 0.143's `GET /sandbox/paginated`).
 */
import { DaytonaSandbox } from "@langchain/daytona"
import { assert, describe, it } from "vitest"
import { useStandaloneEmulator } from "./support.js"

const emulator = useStandaloneEmulator()
const options = () => ({ auth: { apiKey: emulator().apiKey, apiUrl: emulator().apiUrl }, target: "us" as const })
const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes))

describe("@langchain/daytona 0.1.2", () => {
  it("create, execute, files, deepagents' file tools, stop/start, fromId, deleteAll by labels", async () => {
    const sandbox = await DaytonaSandbox.create({ ...options(), labels: { suite: "thirdparty-langchain" } })
    assert.isTrue(sandbox.isRunning)
    assert.deepStrictEqual(await sandbox.execute("echo hi; pwd"), {
      output: "hi\n/home/daytona\n",
      exitCode: 0,
      truncated: false
    })
    assert.strictEqual((await sandbox.execute("exit 4")).exitCode, 4)
    assert.strictEqual(await sandbox.getWorkDir(), "/home/daytona")

    const uploaded = await sandbox.uploadFiles([["/home/daytona/dir/a.txt", new TextEncoder().encode("alpha\nbeta\n")]])
    assert.deepStrictEqual(uploaded, [{ path: "/home/daytona/dir/a.txt", error: null }])
    const downloaded = await sandbox.downloadFiles(["/home/daytona/dir/a.txt", "/home/daytona/none.txt"])
    assert.deepStrictEqual(
      downloaded.map((file) => [file.path, file.error, text(file.content)]),
      [
        ["/home/daytona/dir/a.txt", null, "alpha\nbeta\n"],
        ["/home/daytona/none.txt", "file_not_found", null]
      ]
    )

    assert.deepStrictEqual(await sandbox.write("/home/daytona/w.txt", "one\ntwo\nthree\n"), {
      path: "/home/daytona/w.txt",
      filesUpdate: null
    })
    const edited = await sandbox.edit("/home/daytona/w.txt", "two", "TWO")
    assert.strictEqual(edited.error, undefined)
    const read = await sandbox.read("/home/daytona/w.txt")
    assert.strictEqual(read.content, "     1\tone\n     2\tTWO\n     3\tthree\n")
    const listed = await sandbox.ls("/home/daytona")
    assert.includeMembers(
      (listed.files ?? []).map((file) => file.path),
      ["/home/daytona/dir/", "/home/daytona/w.txt"]
    )
    const grep = await sandbox.grep("beta", "/home/daytona")
    assert.deepStrictEqual(
      (grep.matches ?? []).map((match) => [match.path, match.line, match.text]),
      [["/home/daytona/dir/a.txt", 2, "beta"]]
    )
    const glob = await sandbox.glob("**/*.txt", "/home/daytona")
    assert.sameMembers(
      (glob.files ?? []).map((file) => file.path),
      ["dir/a.txt", "w.txt"]
    )
    assert.strictEqual((await sandbox.delete("/home/daytona/w.txt")).error, undefined)
    assert.match((await sandbox.delete("/home/daytona/w.txt")).error ?? "", /not found/)

    await sandbox.stop()
    assert.strictEqual(sandbox.instance.state, "stopped")
    await sandbox.start()
    assert.strictEqual((await sandbox.execute("cat /home/daytona/dir/a.txt")).output, "alpha\nbeta\n")

    const again = await DaytonaSandbox.fromId(sandbox.id, options())
    assert.strictEqual(again.id, sandbox.id)
    assert.strictEqual((await again.execute("echo again")).output, "again\n")

    await DaytonaSandbox.create({ ...options(), labels: { suite: "thirdparty-langchain" } })
    assert.strictEqual(await DaytonaSandbox.deleteAll({ suite: "thirdparty-langchain" }, options()), 2)
    const left = (await emulator().sandboxes()).filter(
      (listed) => listed.labels.suite === "thirdparty-langchain" && !["destroying", "destroyed"].includes(listed.state)
    )
    assert.deepStrictEqual(left, [])
  })
})
