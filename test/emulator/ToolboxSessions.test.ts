import { DaytonaCommandAlreadyCompletedError, DaytonaInternalServerError } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, http, rejection, sdk, waitUntil } from "./support.js"

describe("Emulator toolbox sessions (real SDK)", () => {
  it.scopedLive("a session is one shell: cd, export and functions carry over; exit ends it", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* call(() => sandbox.process.createSession("s"))
      const run = (command: string) => call(() => sandbox.process.executeSessionCommand("s", { command }))

      assert.strictEqual((yield* run("pwd")).stdout, "/home/daytona\n")
      yield* run("cd /tmp")
      assert.strictEqual((yield* run("pwd")).stdout, "/tmp\n")
      yield* run("export X=1; greet() { echo hello $1; }")
      assert.strictEqual((yield* run("echo $X; greet you")).stdout, "1\nhello you\n")
      // Another session has a shell of its own.
      yield* call(() => sandbox.process.createSession("other"))
      const other = yield* call(() => sandbox.process.executeSessionCommand("other", { command: 'pwd; echo "[$X]"' }))
      assert.strictEqual(other.stdout, "/home/daytona\n[]\n")

      // `exit` ends the session's shell (the command is sourced in it): it never gets an exit code, and the
      // session takes no more commands.
      const exited = yield* call(() =>
        sandbox.process.executeSessionCommand("s", { command: "exit 3", runAsync: true })
      )
      const failure = yield* waitUntil(
        rejection(() => sandbox.process.executeSessionCommand("s", { command: "true", runAsync: true })),
        (error) => error instanceof DaytonaInternalServerError
      )
      assert.include((failure as Error).message, "broken pipe")
      const after = yield* call(() => sandbox.process.getSessionCommand("s", exited.cmdId!))
      assert.isUndefined(after.exitCode)
    })
  )

  it.scopedLive("a command that ends the session's shell keeps the output it printed first", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      // The shell's end used to race its output labelling: repeat, each in a new session.
      for (let i = 0; i < 10; i++) {
        yield* call(() => sandbox.process.createSession(`s${i}`))
        const { cmdId } = yield* call(() =>
          sandbox.process.executeSessionCommand(`s${i}`, {
            command: `echo out-${i}; echo err-${i} >&2; exit 3`,
            runAsync: true
          })
        )
        const logs = yield* waitUntil(
          call(() => sandbox.process.getSessionCommandLogs(`s${i}`, cmdId!)),
          (l) => (l.stdout ?? "").includes(`out-${i}`) && (l.stderr ?? "").includes(`err-${i}`),
          "10 seconds"
        )
        assert.strictEqual(logs.stdout, `out-${i}\n`)
        assert.strictEqual(logs.stderr, `err-${i}\n`)
      }
    })
  )

  it.scopedLive("input reaches a running command (echoed to its log unless suppressed); 410 once it has ended", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* call(() => sandbox.process.createSession("s"))

      const ask = (suppressInputEcho: boolean) =>
        Effect.gen(function* () {
          const started = yield* call(() =>
            sandbox.process.executeSessionCommand("s", {
              command: "read line; echo got $line",
              runAsync: true,
              suppressInputEcho
            })
          )
          yield* call(() => sandbox.process.sendSessionCommandInput("s", started.cmdId!, "hello"))
          const done = yield* waitUntil(
            call(() => sandbox.process.getSessionCommand("s", started.cmdId!)),
            (command) => command.exitCode !== undefined
          )
          assert.strictEqual(done.exitCode, 0)
          return {
            id: started.cmdId!,
            logs: yield* call(() => sandbox.process.getSessionCommandLogs("s", started.cmdId!))
          }
        })
      const echoed = yield* ask(false)
      assert.strictEqual(echoed.logs.stdout, "hello\ngot hello\n")
      const quiet = yield* ask(true)
      assert.strictEqual(quiet.logs.stdout, "got hello\n")

      const late = yield* rejection(() => sandbox.process.sendSessionCommandInput("s", quiet.id, "again"))
      assert.instanceOf(late, DaytonaCommandAlreadyCompletedError)
      assert.strictEqual((late as DaytonaCommandAlreadyCompletedError).statusCode, 410)
    })
  )

  it.scopedLive("streamed logs (WebSocket): stdout and stderr apart, arriving while the command runs", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* call(() => sandbox.process.createSession("s"))
      // The command cannot end before the test has seen its first line: it waits for a file the test writes then.
      const started = yield* call(() =>
        sandbox.process.executeSessionCommand("s", {
          command: "echo first; echo warn >&2; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo second",
          runAsync: true
        })
      )
      const sawFirst = yield* Deferred.make<void>()
      const stdout: Array<string> = []
      const stderr: Array<string> = []
      const streaming = yield* Effect.fork(
        call(() =>
          sandbox.process.getSessionCommandLogs(
            "s",
            started.cmdId!,
            (chunk) => {
              stdout.push(chunk)
              if (chunk.includes("first")) Deferred.unsafeDone(sawFirst, Effect.void)
            },
            (chunk) => stderr.push(chunk)
          )
        )
      )
      yield* Deferred.await(sawFirst).pipe(Effect.timeout("10 seconds"))
      const running = yield* call(() => sandbox.process.getSessionCommand("s", started.cmdId!))
      assert.isUndefined(running.exitCode)
      yield* call(() => sandbox.fs.uploadFile(Buffer.from("go"), "/tmp/go"))
      yield* streaming.await.pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(stdout.join(""), "first\nsecond\n")
      assert.strictEqual(stderr.join(""), "warn\n")
    })
  )

  it.scopedLive("logs and results in the format of the caller's SDK version", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* call(() => sandbox.process.createSession("s"))
      const base = `${control.apiUrl.replace(/\/api$/, "/toolbox")}/${sandbox.id}/process/session/s`
      const auth = { Authorization: `Bearer ${Redacted.value(control.apiKey)}` }
      const exec = (version?: string) =>
        Effect.map(
          http(`${base}/exec`, {
            method: "POST",
            headers: {
              ...auth,
              "content-type": "application/json",
              ...(version === undefined ? {} : { "X-Daytona-SDK-Version": version })
            },
            body: JSON.stringify({ command: "echo out; sleep 0.2; echo err >&2" })
          }),
          (response) => JSON.parse(response.text)
        )
      const marked = "\u0001\u0001\u0001out\n\u0002\u0002\u0002err\n"
      const newest = yield* exec("0.218.0")
      assert.deepInclude(newest, { output: marked, stdout: "out\n", stderr: "err\n", exitCode: 0 })
      assert.deepInclude(yield* exec("0.143.0"), { output: marked, stdout: null, stderr: null, exitCode: 0 })
      assert.deepInclude(yield* exec(), { output: "out\nerr\n", stdout: null, stderr: null, exitCode: 0 })

      const logs = (version?: string) =>
        http(`${base}/command/${newest.cmdId}/logs`, {
          headers: { ...auth, ...(version === undefined ? {} : { "X-Daytona-SDK-Version": version }) }
        })
      const json = yield* logs("0.167.0")
      assert.deepStrictEqual(JSON.parse(json.text), { output: marked, stdout: "out\n", stderr: "err\n" })
      const plain = yield* logs("0.166.9")
      assert.strictEqual(plain.text, marked)
      assert.strictEqual(plain.headers.get("content-type"), "text/plain; charset=utf-8")
      assert.strictEqual((yield* logs("0.26.0")).text, "out\nerr\n")
      assert.strictEqual((yield* logs()).text, "out\nerr\n")

      // follow=true without a WebSocket: the runner streams the combined output until the command ends.
      const started = yield* call(() =>
        sandbox.process.executeSessionCommand("s", { command: "echo a; sleep 0.3; echo b >&2", runAsync: true })
      )
      const followed = yield* http(`${base}/command/${started.cmdId}/logs?follow=true`, { headers: auth })
      assert.strictEqual(followed.text, "a\nb\n")
      assert.strictEqual(followed.headers.get("content-type"), "application/octet-stream")
    })
  )
})
