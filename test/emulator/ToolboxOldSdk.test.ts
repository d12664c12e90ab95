/**
 * The toolbox against SDK 0.143.0, the one `@langchain/daytona` 0.1.2 (and `@mastra/daytona`) ship: it expects the
 * daemon's plain-text logs with stream markers and splits them itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, root } from "./support.js"

interface OldSandbox {
  readonly id: string
  readonly process: {
    createSession(id: string): Promise<void>
    executeSessionCommand(
      id: string,
      request: { command: string; runAsync?: boolean }
    ): Promise<{ cmdId?: string; output?: string; stdout?: string; stderr?: string; exitCode?: number }>
    getSessionCommandLogs(id: string, cmdId: string): Promise<{ output?: string; stdout?: string; stderr?: string }>
    getSessionCommand(id: string, cmdId: string): Promise<{ exitCode?: number }>
    executeCommand(command: string, cwd?: string): Promise<{ exitCode: number; result: string }>
  }
  readonly fs: {
    uploadFile(source: Buffer, destination: string): Promise<void>
    downloadFile(source: string): Promise<Buffer>
  }
  getWorkDir(): Promise<string | undefined>
}

interface OldDaytona {
  create(): Promise<OldSandbox>
  [Symbol.asyncDispose]?: () => Promise<void>
}

const require = createRequire(NodePath.join(root, "node_modules/@langchain/daytona/package.json"))
const old = require("@daytonaio/sdk") as {
  readonly Daytona: new (config: { apiKey: string; apiUrl: string; target: string }) => OldDaytona
}
const version = (require("@daytonaio/sdk/package.json") as { version: string }).version

describe(`Emulator toolbox with the old SDK ${version} (as @langchain/daytona ships it)`, () => {
  it.scopedLive("sessions, logs in the plain-text format, files and one-off commands", () =>
    Effect.gen(function* () {
      assert.strictEqual(version, "0.143.0")
      const control = yield* Emulator.make()
      const daytona = new old.Daytona({
        apiKey: Redacted.value(control.apiKey),
        apiUrl: control.apiUrl,
        target: "us"
      })
      const sandbox = yield* call(() => daytona.create())
      assert.strictEqual(yield* call(() => sandbox.getWorkDir()), "/home/daytona")

      yield* call(() => sandbox.process.createSession("s"))
      const sync = yield* call(() =>
        sandbox.process.executeSessionCommand("s", { command: "cd /tmp; echo out; sleep 0.2; echo err >&2" })
      )
      assert.deepInclude(sync, { exitCode: 0, stdout: "out\n", stderr: "err\n" })
      const after = yield* call(() => sandbox.process.executeSessionCommand("s", { command: "pwd" }))
      assert.strictEqual(after.stdout, "/tmp\n")
      const logs = yield* call(() => sandbox.process.getSessionCommandLogs("s", sync.cmdId!))
      assert.deepStrictEqual(logs, {
        output: "\u0001\u0001\u0001out\n\u0002\u0002\u0002err\n",
        stdout: "out\n",
        stderr: "err\n"
      })

      yield* call(() => sandbox.fs.uploadFile(Buffer.from("old sdk"), "notes/a.txt"))
      assert.strictEqual((yield* call(() => sandbox.fs.downloadFile("notes/a.txt"))).toString(), "old sdk")
      const once = yield* call(() => sandbox.process.executeCommand("cat notes/a.txt; echo; pwd"))
      assert.deepStrictEqual(
        { exitCode: once.exitCode, result: once.result },
        { exitCode: 0, result: "old sdk\n/home/daytona\n" }
      )
    })
  )
})
