import type { Sandbox } from "@daytonaio/sdk"
import { DaytonaConflictError, DaytonaProcessNotFoundError, DaytonaValidationError } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { alive, call, hostPid, rejection, sdk, waitUntil } from "./support.js"

/**
 * Starts a background job (its output redirected, so the command itself ends at once, as on Daytona) that runs
 * `argv` (unique to the test); returns that process's host pid.
 */
const pidOf = (sandbox: Sandbox, session: string, command: string, argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* call(() => sandbox.process.executeSessionCommand(session, { command, runAsync: true }))
    return yield* waitUntil(
      Effect.sync(() => hostPid(argv) ?? 0),
      (pid) => pid > 0
    )
  })

describe("Emulator toolbox (real SDK)", () => {
  it.scopedLive("session commands run in the sandbox with its env; sync and async; logs split by stream", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create({ envVars: { GREETING: "hi" } }))
      yield* call(() => sandbox.process.createSession("s"))

      const sync = yield* call(() =>
        sandbox.process.executeSessionCommand("s", {
          command: 'echo "$GREETING from $(pwd)"; [ "$HOME" = "$(pwd)" ] && echo home; echo oops >&2; (exit 7)'
        })
      )
      assert.strictEqual(sync.exitCode, 7)
      assert.strictEqual(sync.stdout, "hi from /home/daytona\nhome\n")
      assert.strictEqual(sync.stderr, "oops\n")
      // The daemon's `output` is the raw log: each line behind its stream's marker. The two streams are read
      // separately (as by the daemon), so how stdout and stderr interleave is not fixed.
      assert.sameMembers((sync.output ?? "").split("\n"), [
        "\u0001\u0001\u0001hi from /home/daytona",
        "\u0001\u0001\u0001home",
        "\u0002\u0002\u0002oops",
        ""
      ])

      const started = yield* call(() =>
        sandbox.process.executeSessionCommand("s", { command: "sleep 0.3; echo later", runAsync: true })
      )
      assert.isNull(started.exitCode)
      const running = yield* call(() => sandbox.process.getSessionCommand("s", started.cmdId!))
      assert.isUndefined(running.exitCode)
      const done = yield* waitUntil(
        call(() => sandbox.process.getSessionCommand("s", started.cmdId!)),
        (command) => command.exitCode !== undefined
      )
      assert.strictEqual(done.exitCode, 0)
      assert.strictEqual(done.command, "sleep 0.3; echo later")
      const logs = yield* call(() => sandbox.process.getSessionCommandLogs("s", started.cmdId!))
      assert.deepStrictEqual(logs, { output: "\u0001\u0001\u0001later\n", stdout: "later\n", stderr: "" })

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

      const inSession = yield* pidOf(one, "a", "sleep 30.1 >/dev/null 2>&1 &", ["sleep", "30.1"])
      const background = yield* pidOf(one, "b", "nohup sleep 30.2 >/dev/null 2>&1 &", ["sleep", "30.2"])
      // Ignores SIGTERM, in a session of its own: ended with the sandbox's processes all the same.
      const stubborn = yield* pidOf(
        one,
        "b",
        "setsid bash -c 'trap \"\" TERM; while true; do sleep 0.05; done' stubborn >/dev/null 2>&1 &",
        ["bash", "-c", 'trap "" TERM; while true; do sleep 0.05; done', "stubborn"]
      )
      const inOther = yield* pidOf(two, "c", "sleep 30.3 >/dev/null 2>&1 &", ["sleep", "30.3"])
      assert.isTrue([inSession, background, stubborn, inOther].every(alive))
      // One process group per session: its shell, with everything it started.
      assert.strictEqual(yield* control.liveProcesses, 3)

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
          return yield* pidOf(sandbox, "s", "sleep 30.4 >/dev/null 2>&1 &", ["sleep", "30.4"])
        })
      )
      assert.isFalse(alive(pid))
    })
  )

  it.scopedLive("a stopped sandbox's toolbox answers the runner's 400; a restart has no sessions", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      yield* call(() => sandbox.process.createSession("s"))
      yield* call(() => sandbox.stop())
      const refused = (yield* rejection(() => sandbox.process.createSession("t"))) as DaytonaValidationError
      assert.instanceOf(refused, DaytonaValidationError)
      assert.strictEqual(refused.statusCode, 400)
      assert.strictEqual(refused.message, "bad request: no IP address found. Is the Sandbox started?")
      assert.strictEqual(refused.code, "BAD_REQUEST")

      yield* call(() => sandbox.start())
      assert.instanceOf(yield* rejection(() => sandbox.process.getSession("s")), DaytonaProcessNotFoundError)
      yield* call(() => sandbox.process.createSession("s"))
    })
  )
})
