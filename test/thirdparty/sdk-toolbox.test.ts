/**
 * `@daytonaio/sdk` 0.218, unchanged, in its default mode, against the standalone emulator: the toolbox surface —
 * the sandbox's folders, `process.*` (one-off commands with cwd, env and timeout, code runs, sessions that keep their
 * shell, asynchronous commands whose logs stream to callbacks, input) and `fs.*` (every file operation, bulk ones
 * included).
 */
import type { Daytona, Sandbox } from "@daytonaio/sdk"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { rejectionOf, sdkDefaultMode, useStandaloneEmulator } from "./support.js"

const emulator = useStandaloneEmulator()
let daytona: Daytona
let sandbox: Sandbox

beforeAll(async () => {
  daytona = sdkDefaultMode(emulator())
  sandbox = await daytona.create({ labels: { suite: "thirdparty", case: "toolbox" }, envVars: { GREETING: "hi" } })
})

afterAll(async () => {
  await sandbox?.delete()
  await daytona?.[Symbol.asyncDispose]()
})

describe("SDK 0.218 (default mode): process", () => {
  it("getWorkDir and getUserHomeDir: the sandbox user's home", async () => {
    assert.strictEqual(await sandbox.getWorkDir(), "/home/daytona")
    assert.strictEqual(await sandbox.getUserHomeDir(), "/home/daytona")
  })

  it("executeCommand: the sandbox's env, a cwd, env of its own, and a timeout", async () => {
    const plain = await sandbox.process.executeCommand("echo $GREETING; pwd")
    assert.deepStrictEqual([plain.exitCode, plain.result], [0, "hi\n/home/daytona\n"])
    const placed = await sandbox.process.executeCommand("echo $X; pwd", "/tmp", { X: "y" }, 10)
    assert.deepStrictEqual([placed.exitCode, placed.result], [0, "y\n/tmp\n"])
    const failing = await sandbox.process.executeCommand("echo oops >&2; exit 3")
    assert.deepStrictEqual([failing.exitCode, failing.result], [3, "oops\n"])
    const slow = await rejectionOf(() => sandbox.process.executeCommand("sleep 5", undefined, undefined, 1))
    assert.strictEqual(slow.constructor.name, "DaytonaProcessExecutionTimeoutError")
  })

  it("codeRun: Python by default", async () => {
    const run = await sandbox.process.codeRun("print(1 + 1)")
    assert.deepStrictEqual([run.exitCode, run.result], [0, "2\n"])
  })

  it("sessions keep their shell; commands, their state and the session list", async () => {
    await sandbox.process.createSession("keeps")
    const first = await sandbox.process.executeSessionCommand("keeps", { command: "cd /tmp && export Z=9" })
    assert.strictEqual(first.exitCode, 0)
    const second = await sandbox.process.executeSessionCommand("keeps", { command: "pwd; echo $Z; echo e >&2" })
    assert.deepStrictEqual([second.exitCode, second.stdout, second.stderr], [0, "/tmp\n9\n", "e\n"])
    const session = await sandbox.process.getSession("keeps")
    assert.deepStrictEqual(
      session.commands?.map((command) => [command.command, command.exitCode]),
      [
        ["cd /tmp && export Z=9", 0],
        ["pwd; echo $Z; echo e >&2", 0]
      ]
    )
    const command = await sandbox.process.getSessionCommand("keeps", second.cmdId!)
    assert.strictEqual(command.exitCode, 0)
    assert.include(
      (await sandbox.process.listSessions()).map((s) => s.sessionId),
      "keeps"
    )
    await sandbox.process.deleteSession("keeps")
    assert.strictEqual((await rejectionOf(() => sandbox.process.getSession("keeps"))).statusCode, 404)
  })

  it("an asynchronous command: its logs stream to callbacks, stdout and stderr apart; input reaches it", async () => {
    await sandbox.process.createSession("async")
    const loop = await sandbox.process.executeSessionCommand("async", {
      command: "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.1; done",
      runAsync: true
    })
    assert.isString(loop.cmdId)
    let stdout = ""
    let stderr = ""
    await sandbox.process.getSessionCommandLogs(
      "async",
      loop.cmdId!,
      (chunk) => (stdout += chunk),
      (chunk) => (stderr += chunk)
    )
    assert.deepStrictEqual([stdout, stderr], ["out1\nout2\nout3\n", "err1\nerr2\nerr3\n"])
    assert.strictEqual((await sandbox.process.getSessionCommand("async", loop.cmdId!)).exitCode, 0)

    const reader = await sandbox.process.executeSessionCommand("async", {
      command: "read line; echo got:$line",
      runAsync: true
    })
    await sandbox.process.sendSessionCommandInput("async", reader.cmdId!, "hello\n")
    let logs = await sandbox.process.getSessionCommandLogs("async", reader.cmdId!)
    for (let i = 0; i < 50 && !(logs.stdout ?? "").includes("got:hello"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      logs = await sandbox.process.getSessionCommandLogs("async", reader.cmdId!)
    }
    assert.include(logs.stdout, "got:hello")
    await sandbox.process.deleteSession("async")
  })
})

describe("SDK 0.218 (default mode): fs", () => {
  const home = "/home/daytona"

  it("upload, download, folder, list, info, move, find, search, replace, permissions, delete", async () => {
    await sandbox.fs.createFolder(`${home}/work`, "755")
    await sandbox.fs.uploadFile(Buffer.from("hello world\n"), `${home}/work/a.txt`)
    assert.strictEqual((await sandbox.fs.downloadFile(`${home}/work/a.txt`)).toString(), "hello world\n")
    const listed = await sandbox.fs.listFiles(`${home}/work`)
    assert.deepStrictEqual(
      listed.map((file) => [file.name, file.isDir, file.size]),
      [["a.txt", false, 12]]
    )
    const info = await sandbox.fs.getFileDetails(`${home}/work/a.txt`)
    assert.deepStrictEqual([info.name, info.size, info.isDir], ["a.txt", 12, false])
    assert.isTrue((await sandbox.fs.getFileDetails(`${home}/work`)).isDir)

    await sandbox.fs.moveFiles(`${home}/work/a.txt`, `${home}/work/b.txt`)
    const found = await sandbox.fs.findFiles(`${home}/work`, "hello")
    assert.deepStrictEqual(
      found.map((match) => [match.file, match.line, match.content]),
      [[`${home}/work/b.txt`, 1, "hello world"]]
    )
    assert.deepStrictEqual((await sandbox.fs.searchFiles(`${home}/work`, "*.txt")).files, [`${home}/work/b.txt`])
    const replaced = await sandbox.fs.replaceInFiles([`${home}/work/b.txt`], "world", "there")
    assert.deepStrictEqual(
      replaced.map((result) => [result.file, result.success]),
      [[`${home}/work/b.txt`, true]]
    )
    assert.strictEqual((await sandbox.fs.downloadFile(`${home}/work/b.txt`)).toString(), "hello there\n")
    await sandbox.fs.setFilePermissions(`${home}/work/b.txt`, { mode: "600" })
    assert.strictEqual((await sandbox.fs.getFileDetails(`${home}/work/b.txt`)).mode, "-rw-------")

    const missing = await rejectionOf(() => sandbox.fs.downloadFile(`${home}/work/none.txt`))
    assert.strictEqual(missing.statusCode, 404)
    await sandbox.fs.deleteFile(`${home}/work`, true)
    assert.strictEqual((await rejectionOf(() => sandbox.fs.getFileDetails(`${home}/work`))).statusCode, 404)
  })

  it("bulk upload and download, a missing file reported in place", async () => {
    await sandbox.fs.uploadFiles([
      { source: Buffer.from("one"), destination: `${home}/bulk/1.txt` },
      { source: Buffer.from("two"), destination: `${home}/bulk/2.txt` }
    ])
    const downloaded = await sandbox.fs.downloadFiles([
      { source: `${home}/bulk/1.txt` },
      { source: `${home}/bulk/2.txt` },
      { source: `${home}/bulk/none.txt` }
    ])
    assert.deepStrictEqual(
      downloaded.map((file) => [file.source, file.error ?? null, file.result?.toString() ?? null]),
      [
        [`${home}/bulk/1.txt`, null, "one"],
        [`${home}/bulk/2.txt`, null, "two"],
        [`${home}/bulk/none.txt`, `file not found: ${home}/bulk/none.txt`, null]
      ]
    )
    await sandbox.fs.deleteFile(`${home}/bulk`, true)
  })
})
