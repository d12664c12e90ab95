/**
 * The emulator's `actionServerCommand`: a session command that launches the action execution server (the
 * runtime's own start command, micromamba prefix included) runs `CMD <hostPort> <the launch's arguments>` with the
 * sandbox's host workspace as `--working-dir` and the sandbox env; its output is the command's output and it ends
 * with the sandbox. Checked with a stand-in command that prints what it got (runs everywhere); the real server is
 * in test/real. Plus the launch parsing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schedule } from "effect"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { parseLaunch, shellWords, withWorkingDir } from "../../src/emulator/ActionLaunch.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as DaytonaClientLive from "../../src/layers/DaytonaClientLive.js"
import { resolve, serverEnv, startCommandFor } from "../../src/programs/Options.js"
import { DaytonaClient } from "../../src/services/DaytonaClient.js"
import { DaytonaConfig } from "../../src/services/DaytonaConfig.js"

const dir = mkdtempSync(Path.join(Os.tmpdir(), "effect-daytona-standin-"))
const standIn = Path.join(dir, "stand-in server")
writeFileSync(standIn, '#!/bin/sh\necho "args: $*"\necho "key: $SESSION_API_KEY"\necho "cwd: $(pwd)"\nexec sleep 300\n')
chmodSync(standIn, 0o755)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("launch parsing", () => {
  it("the words after the port, quotes removed, up to the end of that command", () => {
    assert.deepStrictEqual(shellWords(` --working-dir '/my ws' --plugins a "b c" --x=\\"y\\" && echo no`), [
      "--working-dir",
      "/my ws",
      "--plugins",
      "a",
      "b c",
      '--x="y"'
    ])
    assert.deepStrictEqual(shellWords(" --a; rm -rf /"), ["--a"])
    assert.deepStrictEqual(shellWords(" --a # comment"), ["--a"])
    assert.deepStrictEqual(shellWords(""), [])
  })

  it("--working-dir's value becomes the host folder (added when missing)", () => {
    assert.deepStrictEqual(withWorkingDir(["--working-dir", "/workspace", "--user-id", "1000"], "/h/ws"), [
      "--working-dir",
      "/h/ws",
      "--user-id",
      "1000"
    ])
    assert.deepStrictEqual(withWorkingDir(["--working-dir=/workspace"], "/h/ws"), ["--working-dir=/h/ws"])
    assert.deepStrictEqual(withWorkingDir(["--username", "root"], "/h/ws"), [
      "--username",
      "root",
      "--working-dir",
      "/h/ws"
    ])
  })

  it("the runtime's start command (micromamba prefix) is recognised with its arguments", () =>
    Effect.gen(function* () {
      const options = yield* resolve({}, yield* DaytonaConfig.make({ apiKey: Redacted.make("k") }))
      const launch = Option.getOrThrow(parseLaunch(startCommandFor(options, serverEnv(options, "k3y 'quoted'"))))
      assert.deepStrictEqual(launch, {
        env: { port: "4444", PYTHONUNBUFFERED: "1", VSCODE_PORT: "4445", SESSION_API_KEY: "k3y 'quoted'" },
        port: 4444,
        workingDir: "/workspace",
        arguments: [
          "--working-dir",
          "/workspace",
          "--username",
          "openhands",
          "--user-id",
          "1000",
          "--no-enable-browser"
        ]
      })
    }).pipe(Effect.runSync))
})

describe("the emulator with an action server command", () => {
  it.live("runs CMD <hostPort> <arguments> with the host workspace and the sandbox env, ended with the sandbox", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const client = yield* DaytonaClient
      // Created without env vars: the server's environment comes with its start command.
      const sandbox = yield* client.create({
        envVars: {},
        labels: {},
        public: false,
        autoStopInterval: 0
      })
      const options = yield* resolve({}, yield* DaytonaConfig)
      yield* client.createSession(sandbox.id, "action-execution-server")
      const { cmdId } = yield* client.executeSessionCommand(
        sandbox.id,
        "action-execution-server",
        startCommandFor(options, serverEnv(options, "standin-key")),
        { runAsync: true }
      )
      const logs = yield* client.sessionCommandLogs(sandbox.id, "action-execution-server", cmdId).pipe(
        Effect.filterOrFail((logs) => logs.output.includes("cwd:")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds")))
      )
      const lines = logs.output.trim().split("\n")
      const args = lines
        .find((line) => line.startsWith("args: "))!
        .slice("args: ".length)
        .split(" ")
      const hostWorkspace = args[2]!
      assert.match(args[0]!, /^\d+$/)
      assert.notStrictEqual(args[0], "4444", "the sandbox port's host port")
      assert.deepStrictEqual(args.slice(1), [
        "--working-dir",
        hostWorkspace,
        "--username",
        "openhands",
        "--user-id",
        "1000",
        "--no-enable-browser"
      ])
      assert.match(hostWorkspace, new RegExp(`${sandbox.id}/workspace$`))
      assert.include(lines, "key: standin-key")
      assert.isAbove(yield* control.liveProcesses, 0)
      yield* client.stop(sandbox.id)
      assert.strictEqual(yield* control.liveProcesses, 0, "ended with the sandbox")
    }).pipe(
      Effect.provide(
        DaytonaClientLive.layer.pipe(
          Layer.provideMerge(Emulator.layer({ actionServerCommand: `${standIn.replace(/ /g, "\\ ")}` }))
        )
      )
    )
  )

  it.live("a command path that does not exist fails the emulator's start with what to fix", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(Emulator.make({ actionServerCommand: "./no/such/serve" })))
      assert.strictEqual(error._tag, "EmulatorError")
      assert.match(error.message, /^actionServerCommand: \/.*no\/such\/serve does not exist/)
    })
  )
})
