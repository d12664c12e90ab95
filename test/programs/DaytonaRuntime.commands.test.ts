/**
 * The handle's shell commands and the event-stream bridge against a scripted server, under TestClock: what is
 * sent for run / readOutput / sendInput / interrupt, how the real server's answers read (observations taken from
 * the real server, fixtures/openhands-observations.json), the shell setup, and the bridge's order, ids and
 * interruption.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Either, Exit, Fiber, Option, Ref, Stream } from "effect"
import { readFileSync } from "node:fs"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as Wire from "../../src/layers/ActionServerWire.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import { Action, type ActionServerError, Observation } from "../../src/services/ActionServer.js"
import {
  completed,
  type ScriptedCall,
  ScriptedActionServerControl,
  stillRunning
} from "../support/ScriptedActionServer.js"
import { clocked, harness } from "../support/harness.js"

const real = new Map(
  (
    JSON.parse(
      readFileSync(new URL("../layers/fixtures/openhands-observations.json", import.meta.url), "utf8")
    ) as ReadonlyArray<{ name: string; body: unknown }>
  ).map((f) => [f.name, Either.getOrThrow(Wire.decodeObservation(f.body))])
)
const answer = (name: string): Effect.Effect<Observation, ActionServerError> => Effect.succeed(real.get(name)!)

const withRuntime = <A, E>(
  use: (runtime: DaytonaRuntime.DaytonaRuntimeHandle) => Effect.Effect<A, E>,
  options: DaytonaRuntime.RuntimeOptions = {}
) => clocked(Effect.scoped(Effect.flatMap(DaytonaRuntime.acquire(options), use)), { step: "1 second" })

const valueOf = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`expected success, got ${Cause.pretty(exit.cause)}`)
}

/** The actions the agent sent (the runtime's hidden setup left out). */
const agentActions = (calls: ReadonlyArray<ScriptedCall>) =>
  calls.flatMap((c) =>
    c.method === "execute" && c.action !== undefined && !(c.action._tag === "Run" && c.action.hidden === true)
      ? [c.action]
      : []
  )

describe("shell commands", () => {
  it.effect("a command past its timeout is StillRunning with its output; read on, then interrupt", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(
        answer("run: past its hard timeout, output so far"),
        answer("run: not executed while the previous runs"),
        answer("run: read on, still running"),
        answer("run: C-c of the running command")
      )
      const results = valueOf(
        yield* withRuntime((runtime) =>
          Effect.all([
            runtime.run("for i in 1 2 3; do echo tick $i; sleep 1; done; sleep 30", { timeout: "2 seconds" }),
            runtime.run("echo next"),
            runtime.readOutput({ timeout: "1 second" }),
            runtime.interrupt()
          ])
        )
      )
      assert.deepStrictEqual(
        results.map((r) => [r._tag, r.exitCode, r.output]),
        [
          ["StillRunning", -1, "tick 1\ntick 2\ntick 3"],
          ["NotExecuted", -1, ""],
          ["StillRunning", -1, ""],
          ["Completed", 130, "^C"]
        ]
      )
      const [first, notRun] = results
      assert.isTrue(first!._tag === "StillRunning" && first!.reason.startsWith("The command timed out after 2.0 s"))
      assert.isTrue(notRun!._tag === "NotExecuted" && notRun!.reason.startsWith('Your command "echo next" is NOT'))
      // What went on the wire: a blocking run with its timeout, then inputs.
      const sent = agentActions(yield* scripted.calls).map((a) =>
        a._tag === "Run" ? [a.command, a.isInput ?? false, Wire.blockingOf(a), Wire.encodeAction(a).timeout] : []
      )
      assert.deepStrictEqual(sent, [
        ["for i in 1 2 3; do echo tick $i; sleep 1; done; sleep 30", false, true, 2],
        ["echo next", false, false, 120],
        ["", true, true, 1],
        ["C-c", true, false, 120]
      ])
    }).pipe(Effect.provide(harness()))
  )

  it.effect("sendInput types into the running command; with nothing running it is NothingRunning", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(
        Effect.succeed(stillRunning("python3 ask.py", "Name? ")),
        Effect.succeed(completed("Ada", "Hello Ada")),
        answer("run: C-c, nothing running"),
        answer("run: empty command, nothing running")
      )
      const results = valueOf(
        yield* withRuntime((runtime) =>
          Effect.all([
            runtime.run("python3 ask.py", { timeout: "1 second" }),
            runtime.sendInput("Ada"),
            runtime.interrupt(),
            runtime.readOutput()
          ])
        )
      )
      assert.deepStrictEqual(
        results.map((r) => [r._tag, r.output]),
        [
          ["StillRunning", "Name? "],
          ["Completed", "Hello Ada"],
          ["NothingRunning", ""],
          ["NothingRunning", ""]
        ]
      )
      assert.isTrue(results[2]!._tag === "NothingRunning" && results[2]!.reason.includes("to interact with"))
      const input = agentActions(yield* scripted.calls)[1]!
      assert.deepStrictEqual(input._tag === "Run" && [input.command, input.isInput], ["Ada", true])
    }).pipe(Effect.provide(harness()))
  )

  it.effect("cwd runs in a fresh shell there (is_static); hidden marks the action; an error observation fails", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(answer("run: is_static in cwd"), answer("error: two commands in one"))
      const [inTmp, failed] = valueOf(
        yield* withRuntime((runtime) =>
          Effect.all([
            runtime.run("pwd", { cwd: "/tmp", hidden: false }),
            Effect.flip(runtime.run("echo one\necho two"))
          ])
        )
      )
      assert.strictEqual(inTmp!._tag, "Completed")
      assert.strictEqual(inTmp!.metadata.workingDir, "/tmp")
      assert.strictEqual(failed!._tag, "ActionFailed")
      if (failed!._tag === "ActionFailed") assert.include(failed!.message, "Cannot execute multiple commands at once")
      const [first] = agentActions(yield* scripted.calls)
      assert.deepStrictEqual(first!._tag === "Run" && [first!.cwd, first!.isStatic, first!.hidden], [
        "/tmp",
        true,
        false
      ])
    }).pipe(Effect.provide(harness()))
  )
})

describe("the shell setup after the server starts", () => {
  it.effect("a failing key removal fails the acquire and closes the sandbox; a failing git config only warns", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      // The key removal exits 1.
      yield* scripted.queueHidden(Effect.succeed(completed("exec env", "denied", 1)))
      const exit = yield* withRuntime(() => Effect.void)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "ActionFailed")
      assert.include(String(error?.message), "removing SESSION_API_KEY from the shell failed (exit code 1)")
      assert.strictEqual((yield* memory.sandboxes)[0]!.state, "stopped")

      // Key removal fine, git missing (exit 127): the runtime is ready anyway.
      yield* scripted.queueHidden(
        Effect.succeed(completed("exec env", "")),
        Effect.succeed(completed("git config", "bash: git: command not found", 127))
      )
      const ok = yield* withRuntime((runtime) => runtime.status)
      assert.strictEqual(valueOf(ok), "READY")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("the setup is skipped when attaching to a running server; an initial command still running fails", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(Effect.succeed(stillRunning("npm run dev", "listening on 3000")))
      const exit = yield* withRuntime(() => Effect.void, { initialCommands: ["npm run dev"] })
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "ActionFailed")
      assert.include(String(error?.message), "did not complete (The command timed out after 1.0 seconds.")
      assert.include(String(error?.message), "in the background")
    }).pipe(Effect.provide(harness()))
  )
})

describe("the event-stream bridge", () => {
  const ids = [7, 8, 9] as const

  it.effect("one action at a time, observations in order, each naming the action that caused it", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      const active = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const slow = (seconds: number, observation: Observation) =>
        Effect.gen(function* () {
          const now = yield* Ref.updateAndGet(active, (n) => n + 1)
          yield* Ref.update(peak, (p) => Math.max(p, now))
          yield* Effect.sleep(`${seconds} seconds`)
          yield* Ref.update(active, (n) => n - 1)
          return observation
        })
      yield* scripted.queueExecute(
        slow(3, completed("echo a", "a")),
        slow(0, Observation.Read({ path: "/workspace/b", content: "B", implSource: "default" })),
        slow(1, Observation.Error({ content: "File not found: /workspace/c", errorId: "" }))
      )
      const events = valueOf(
        yield* withRuntime((runtime) =>
          Effect.gen(function* () {
            const out = yield* runtime
              .bridge(
                Stream.fromIterable([
                  { id: ids[0], action: Action.Run({ command: "echo a" }) },
                  { id: ids[1], action: Action.Read({ path: "b" }) },
                  { id: ids[2], action: Action.Read({ path: "c" }) }
                ])
              )
              .pipe(Stream.runCollect)
            return Chunk.toReadonlyArray(out)
          })
        )
      )
      assert.deepStrictEqual(
        events.map((e) => [e.cause, e.observation._tag, e.observation.content]),
        [
          [7, "Run", "a"],
          [8, "Read", "B"],
          [9, "Error", "File not found: /workspace/c"]
        ]
      )
      assert.strictEqual(yield* Ref.get(peak), 1, "never two actions at once")
    }).pipe(Effect.provide(harness()))
  )

  it.effect(
    "interrupting the consumer stops the bridge: the action in flight is abandoned, no further one is sent",
    () =>
      Effect.gen(function* () {
        const scripted = yield* ScriptedActionServerControl
        yield* scripted.queueExecute(
          Effect.succeed(completed("echo first", "first")),
          Effect.as(Effect.sleep("10 minutes"), completed("sleep 600", "")),
          Effect.succeed(completed("echo third", "third"))
        )
        const result = valueOf(
          yield* withRuntime((runtime) =>
            Effect.gen(function* () {
              const seen = yield* Ref.make<ReadonlyArray<number>>([])
              const fiber = yield* runtime
                .bridge(
                  Stream.fromIterable([
                    { id: 1, action: Action.Run({ command: "echo first" }) },
                    { id: 2, action: Action.Run({ command: "sleep 600" }) },
                    { id: 3, action: Action.Run({ command: "echo third" }) }
                  ])
                )
                .pipe(
                  Stream.runForEach((event) => Ref.update(seen, (all) => [...all, event.cause])),
                  Effect.fork
                )
              yield* Effect.sleep("30 seconds")
              const exit = yield* Fiber.interrupt(fiber)
              // The semaphore is free again: the next command goes through at once.
              const after = yield* runtime.run("echo after")
              return { exit, seen: yield* Ref.get(seen), after }
            })
          )
        )
        assert.isTrue(Exit.isInterrupted(result.exit))
        assert.deepStrictEqual(result.seen, [1])
        const commands = agentActions(yield* scripted.calls).map((a) => (a._tag === "Run" ? a.command : a._tag))
        assert.deepStrictEqual(commands, ["echo first", "sleep 600", "echo after"], "the third action was never sent")
        assert.strictEqual(result.after._tag, "Completed")
      }).pipe(Effect.provide(harness()))
  )

  it.effect("a failed request ends the stream with its error", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      const { HttpStatusError } = yield* Effect.promise(() => import("../../src/services/ActionServer.js"))
      yield* scripted.queueExecute(
        Effect.succeed(completed("echo a", "a")),
        Effect.fail(new HttpStatusError({ url: "x", status: 500, detail: "boom" }))
      )
      const exit = yield* withRuntime((runtime) =>
        runtime
          .bridge(Stream.fromIterable([1, 2, 3].map((id) => ({ id, action: Action.Run({ command: `echo ${id}` }) }))))
          .pipe(Stream.runCollect, Effect.either)
      )
      const either = valueOf(exit)
      assert.isTrue(Either.isLeft(either) && either.left._tag === "HttpStatusError")
    }).pipe(Effect.provide(harness()))
  )
})
