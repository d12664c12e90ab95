import { Daytona } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import { existsSync } from "node:fs"
import * as NodePath from "node:path"
import { alive, call, hostPid, root, waitUntil } from "./support.js"

const main = NodePath.join(root, "dist/emulator/StandaloneMain.js")
const built = existsSync(main)

interface Spawned {
  readonly child: ChildProcess.ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

const start = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync((): Spawned => {
      const child = ChildProcess.spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      return { child, stdout: () => stdout, stderr: () => stderr, exited }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  )

describe("Standalone emulator (needs npm run build)", () => {
  it.scopedLive.skipIf(!built)(
    "prints one JSON line, serves the SDK, and exits 0 on SIGTERM with no process left",
    () =>
      Effect.gen(function* () {
        const emulator = yield* start(["--port", "0", "--json"])
        const line = yield* waitUntil(
          Effect.sync(() => emulator.stdout()),
          (text) => text.includes("\n"),
          "15 seconds"
        )
        const printed = JSON.parse(line.trim()) as { apiUrl: string; apiKey: string; sshPort: number }
        assert.deepStrictEqual(Object.keys(printed).sort(), ["apiKey", "apiUrl", "sshPort"])
        assert.isTrue(Number.isInteger(printed.sshPort) && printed.sshPort > 0, String(printed.sshPort))
        assert.match(printed.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/)
        assert.match(printed.apiKey, /^emu_[0-9a-f]{32}$/)
        // A second emulator on the taken port fails with exit code 1 and says why.
        const taken = new URL(printed.apiUrl).port
        const clash = yield* start(["--port", taken])

        const pid = yield* Effect.acquireUseRelease(
          Effect.sync(
            () =>
              new Daytona({
                apiKey: printed.apiKey,
                apiUrl: printed.apiUrl,
                target: "us",
                useDeprecatedPolling: true
              } as ConstructorParameters<typeof Daytona>[0])
          ),
          (daytona) =>
            call(async () => {
              const sandbox = await daytona.create()
              await sandbox.process.createSession("s")
              const result = await sandbox.process.executeSessionCommand("s", {
                command: "exec sleep 30.7",
                runAsync: true
              })
              assert.isString(result.cmdId)
              for (;;) {
                const pid = hostPid(["sleep", "30.7"])
                if (pid !== undefined) return pid
                await new Promise((resolve) => setTimeout(resolve, 50))
              }
            }),
          (daytona) => Effect.promise(() => daytona[Symbol.asyncDispose]())
        )
        assert.isTrue(alive(pid))

        assert.strictEqual(yield* Effect.promise(() => clash.exited), 1)
        assert.include(clash.stderr(), `cannot listen on 127.0.0.1:${taken}`)

        emulator.child.kill("SIGTERM")
        const code = yield* Effect.promise(() => emulator.exited)
        assert.strictEqual(code, 0)
        assert.isFalse(alive(pid))
        assert.strictEqual(emulator.stdout().trim().split("\n").length, 1)
        assert.strictEqual(yield* Effect.promise(() => clash.exited), 1)
        assert.include(clash.stderr(), `cannot listen on 127.0.0.1:${taken}`)
      })
  )

  it.scopedLive.skipIf(!built)(
    "--no-ssh prints sshPort null; a taken --ssh-port fails with exit 1; a bad one exits 2",
    () =>
      Effect.gen(function* () {
        const noSsh = yield* start(["--json", "--no-ssh"])
        const line = yield* waitUntil(
          Effect.sync(() => noSsh.stdout()),
          (text) => text.includes("\n"),
          "15 seconds"
        )
        assert.isNull((JSON.parse(line.trim()) as { sshPort: number | null }).sshPort)
        const taken = new URL((JSON.parse(line.trim()) as { apiUrl: string }).apiUrl).port
        const clash = yield* start(["--ssh-port", taken])
        assert.strictEqual(yield* Effect.promise(() => clash.exited), 1)
        assert.include(clash.stderr(), `SSH endpoint cannot listen on 127.0.0.1:${taken}`)
        const bad = yield* start(["--ssh-port", "70000"])
        assert.strictEqual(yield* Effect.promise(() => bad.exited), 2)
        assert.include(bad.stderr(), "--ssh-port needs a number from 0 to 65535")
      })
  )
})
