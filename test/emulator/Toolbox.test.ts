import type { Sandbox } from "@daytonaio/sdk"
import { DaytonaConflictError, DaytonaProcessNotFoundError } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { alive, call, hostPid, rejection, sdk, waitUntil } from "./support.js"

/** Starts an async command that ends up running `argv` (unique to the test); returns that process's host pid. */
const pidOf = (sandbox: Sandbox, session: string, command: string, argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* call(() => sandbox.process.executeSessionCommand(session, { command, runAsync: true }))
    return yield* waitUntil(
      Effect.sync(() => hostPid(argv) ?? 0),
      (pid) => pid > 0
    )
  })

describe("Emulator toolbox (real SDK)", () => {
  it.scopedLive("session commands are real processes with the sandbox env; sync and async; logs as JSON", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create({ envVars: { GREETING: "hi" } }))
      yield* call(() => sandbox.process.createSession("s"))

      const sync = yield* call(() =>
        sandbox.process.executeSessionCommand("s", {
          command: 'echo "$GREETING from $(pwd)"; [ "$HOME" = "$(pwd)" ] && echo home; echo oops >&2; exit 7'
        })
      )
      assert.strictEqual(sync.exitCode, 7)
      assert.strictEqual(sync.stdout, "hi from /home/daytona\nhome\n")
      assert.strictEqual(sync.stderr, "oops\n")
      assert.include(sync.output ?? "", "oops")

      const started = yield* call(() =>
        sandbox.process.executeSessionCommand("s", { command: "sleep 0.3; echo later", runAsync: true })
      )
      assert.isUndefined(started.exitCode)
      const running = yield* call(() => sandbox.process.getSessionCommand("s", started.cmdId!))
      assert.isUndefined(running.exitCode)
      const done = yield* waitUntil(
        call(() => sandbox.process.getSessionCommand("s", started.cmdId!)),
        (command) => command.exitCode !== undefined
      )
      assert.strictEqual(done.exitCode, 0)
      assert.strictEqual(done.command, "sleep 0.3; echo later")
      const logs = yield* call(() => sandbox.process.getSessionCommandLogs("s", started.cmdId!))
      assert.deepStrictEqual(logs, { output: "later\n", stdout: "later\n", stderr: "" })

      const session = yield* call(() => sandbox.process.getSession("s"))
      assert.strictEqual(session.commands?.length, 2)
      assert.instanceOf(yield* rejection(() => sandbox.process.createSession("s")), DaytonaConflictError)
      assert.instanceOf(
        yield* rejection(() => sandbox.process.executeSessionCommand("missing", { command: "true" })),
        DaytonaProcessNotFoundError
      )

      const once = yield* call(() => sandbox.process.executeCommand("echo $X; pwd", "/sub/..", { X: "y" }))
      assert.strictEqual(once.exitCode, 0)
      assert.strictEqual(once.result, "y\n/\n")
    })
  )

  it.scopedLive("deleting a session, stopping and deleting a sandbox end all of its processes", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const one = yield* call(() => daytona.create())
      const two = yield* call(() => daytona.create())
      yield* call(() => one.process.createSession("a"))
      yield* call(() => one.process.createSession("b"))
      yield* call(() => two.process.createSession("c"))

      const inSession = yield* pidOf(one, "a", "exec sleep 30.1", ["sleep", "30.1"])
      const background = yield* pidOf(one, "b", "exec sleep 30.2", ["sleep", "30.2"])
      // Ignores SIGTERM: ended by SIGKILL after the grace period.
      const stubborn = yield* pidOf(
        one,
        "b",
        "exec bash -c 'trap \"\" TERM; while true; do sleep 0.05; done' stubborn",
        ["bash", "-c", 'trap "" TERM; while true; do sleep 0.05; done', "stubborn"]
      )
      const inOther = yield* pidOf(two, "c", "exec sleep 30.3", ["sleep", "30.3"])
      assert.isTrue([inSession, background, stubborn, inOther].every(alive))
      assert.isAtLeast(yield* control.liveProcesses, 4)

      yield* call(() => one.process.deleteSession("a"))
      assert.isFalse(alive(inSession))
      assert.isTrue(alive(background))

      yield* call(() => one.stop())
      assert.isFalse(alive(background))
      assert.isFalse(alive(stubborn))
      assert.isTrue(alive(inOther))

      yield* call(() => two.delete())
      yield* waitUntil(control.sandboxes, (all) => all.every((s) => s.id !== two.id))
      assert.isFalse(alive(inOther))
      assert.strictEqual(yield* control.liveProcesses, 0)
    })
  )

  it.scopedLive("the end of the emulator ends every process", () =>
    Effect.gen(function* () {
      const pid = yield* Effect.scoped(
        Effect.gen(function* () {
          const control = yield* Emulator.make()
          const daytona = yield* sdk(control)
          const sandbox = yield* call(() => daytona.create())
          yield* call(() => sandbox.process.createSession("s"))
          return yield* pidOf(sandbox, "s", "exec sleep 30.4", ["sleep", "30.4"])
        })
      )
      assert.isFalse(alive(pid))
    })
  )

  it.scopedLive("a stopped sandbox's toolbox answers 409 like the daemon; a restart has no sessions", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* call(() => sandbox.process.createSession("s"))
      yield* call(() => sandbox.stop())
      const refused = (yield* rejection(() => sandbox.process.createSession("t"))) as DaytonaConflictError
      assert.instanceOf(refused, DaytonaConflictError)
      assert.strictEqual(refused.statusCode, 409)
      assert.strictEqual(refused.source, "DAYTONA_DAEMON")
      assert.include(refused.message, "not running")

      yield* call(() => sandbox.start())
      assert.instanceOf(yield* rejection(() => sandbox.process.getSession("s")), DaytonaProcessNotFoundError)
      yield* call(() => sandbox.process.createSession("s"))
    })
  )
})
