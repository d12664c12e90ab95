import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Redacted, Ref, TestClock } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as Logging from "../../src/layers/Logging.js"
import * as SessionKey from "../../src/programs/SessionKey.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import { Action, HttpStatusError, Observation } from "../../src/services/ActionServer.js"
import { completed, ScriptedActionServerControl } from "../support/ScriptedActionServer.js"
import { API_KEY, clocked, harness, RecordedEvents } from "../support/harness.js"

const withRuntime = <A, E, R>(
  use: (runtime: DaytonaRuntime.DaytonaRuntimeHandle) => Effect.Effect<A, E, R>,
  options: DaytonaRuntime.RuntimeOptions = {}
) => clocked(Effect.scoped(Effect.flatMap(DaytonaRuntime.acquire(options), use)), { step: "1 second" })

const valueOf = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`expected success, got ${Cause.pretty(exit.cause)}`)
}

describe("the runtime handle", () => {
  it.effect("run, execute and listFiles go through the action server", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(
        Effect.succeed(completed("echo hi", "hi")),
        Effect.succeed(Observation.Read({ path: "/workspace/a.txt", content: "A", implSource: "default" })),
        Effect.succeed(Observation.Error({ content: "File not found", errorId: "" }))
      )
      const result = valueOf(
        yield* withRuntime((runtime) =>
          Effect.all({
            run: runtime.run("echo hi"),
            read: runtime.execute(Action.Read({ path: "a.txt" })),
            failed: Effect.either(runtime.run("cat missing")),
            files: runtime.listFiles()
          })
        )
      )
      assert.deepStrictEqual([result.run._tag, result.run.exitCode, result.run.output], ["Completed", 0, "hi"])
      assert.deepStrictEqual(
        result.read,
        Observation.Read({ path: "/workspace/a.txt", content: "A", implSource: "default" })
      )
      assert.isTrue(result.failed._tag === "Left" && result.failed.left._tag === "ActionFailed")
      assert.deepStrictEqual(result.files, ["a.txt", "dir/"])
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a 502 on an action is retried after 4 s with a Retrying event; a 500 is not retried", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      const bad = (status: number) => Effect.fail(new HttpStatusError({ url: "x", status }))
      yield* scripted.queueExecute(bad(502), Effect.succeed(completed("c", "ok")))
      yield* scripted.queueExecute(bad(500))
      const result = valueOf(
        yield* withRuntime((runtime) =>
          Effect.gen(function* () {
            const before = yield* Clock.currentTimeMillis
            const first = yield* runtime.run("c")
            const took = (yield* Clock.currentTimeMillis) - before
            const second = yield* Effect.either(runtime.run("c"))
            return { first, took, second }
          })
        )
      )
      assert.strictEqual(result.first.output, "ok")
      assert.strictEqual(result.took, 4_000)
      assert.isTrue(result.second._tag === "Left" && result.second.left._tag === "HttpStatusError")
      const retrying = (yield* RecordedEvents.all).filter((e) => e._tag === "Retrying")
      assert.strictEqual(retrying.length, 1)
      assert.isTrue(retrying[0]!._tag === "Retrying" && retrying[0]!.policy === "actionRequest")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("one action at a time per runtime", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      const active = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const slow = Effect.gen(function* () {
        const now = yield* Ref.updateAndGet(active, (n) => n + 1)
        yield* Ref.update(peak, (p) => Math.max(p, now))
        yield* Effect.sleep("2 seconds")
        yield* Ref.update(active, (n) => n - 1)
        return completed("c", "")
      })
      yield* scripted.queueExecute(slow, slow, slow)
      valueOf(
        yield* withRuntime((runtime) =>
          Effect.all([runtime.run("a"), runtime.run("b"), runtime.run("c")], { concurrency: "unbounded" })
        )
      )
      assert.strictEqual(yield* Ref.get(peak), 1)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("vscodeUrl on a private sandbox is a signed URL with the token and folder, cached", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.setVscodeToken("vs-token")
      const [first, second] = valueOf(
        yield* withRuntime((runtime) => Effect.all([runtime.vscodeUrl, runtime.vscodeUrl]))
      )
      const url = Redacted.value(Option.getOrThrow(first!))
      assert.match(url, /\/\?tkn=vs-token&folder=%2Fworkspace$/)
      assert.strictEqual(String(Option.getOrThrow(first!)), "<redacted>")
      assert.strictEqual(Redacted.value(Option.getOrThrow(second!)), url)
      assert.strictEqual((yield* memory.calls).filter((c) => c.method === "signedPreviewUrl").length, 1, "cached")
      assert.strictEqual((yield* scripted.calls).filter((c) => c.method === "vscodeToken").length, 1)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("vscodeUrl on a public sandbox uses the preview link; an empty token gives none", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      const url = valueOf(yield* withRuntime((runtime) => runtime.vscodeUrl))
      assert.match(Redacted.value(Option.getOrThrow(url)), /^http:\/\/127\.0\.0\.1:4444-preview\/sbx-1\/4445\/\?tkn=/)
      yield* scripted.setVscodeToken("")
      const none = valueOf(yield* withRuntime((runtime) => runtime.vscodeUrl))
      assert.isTrue(Option.isNone(none))
    }).pipe(Effect.provide(harness({ config: { public: true } })))
  )

  it.effect("agentInstructions names the preview link of port 3000", () =>
    Effect.gen(function* () {
      const text = valueOf(yield* withRuntime((runtime) => runtime.agentInstructions))
      assert.strictEqual(
        text,
        "When showing endpoints to access applications for any port, e.g. port 3000, instead of localhost:3000, " +
          "use this format: http://127.0.0.1:4444-preview/sbx-1/3000."
      )
    }).pipe(Effect.provide(harness()))
  )

  it.effect("initial commands run once the server answers; a failing one fails the acquire and cleans up", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(
        Effect.succeed(completed("a", "")),
        Effect.succeed(Observation.Error({ content: "no such tool", errorId: "" }))
      )
      const exit = yield* withRuntime(() => Effect.void, { initialCommands: ["a", "b"] })
      assert.isTrue(Exit.isFailure(exit))
      const runs = (yield* scripted.calls).filter(
        (c) => c.method === "execute" && !(c.action?._tag === "Run" && c.action.hidden === true)
      )
      assert.deepStrictEqual(
        runs.map((c) => (c.action?._tag === "Run" ? c.action.command : "")),
        ["a", "b"]
      )
      assert.strictEqual((yield* memory.sandboxes)[0]!.state, "stopped")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("the status follows the lifecycle", () =>
    Effect.gen(function* () {
      const statuses = valueOf(yield* withRuntime((runtime) => runtime.status))
      assert.strictEqual(statuses, "READY")
    }).pipe(Effect.provide(harness()))
  )
})

describe("secrets never reach a log line (unit)", () => {
  it.effect("with every switch on, no line holds the API key, preview token, session key or VSCode token", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make((options) => {
          lines.push(Logger.logfmtLogger.log(options))
          lines.push(Logger.jsonLogger.log(options))
        })
      )
      yield* scripted.setVscodeToken("VSCODE_CANARY_TOKEN")
      yield* scripted.queueAlive(new HttpStatusError({ url: "x", status: 502 }))
      const fiber = yield* Effect.fork(
        withRuntime((runtime) =>
          Effect.gen(function* () {
            const url = yield* runtime.vscodeUrl
            yield* Effect.log("vscode", url)
            yield* Effect.logDebug(runtime)
            yield* runtime.run("echo hi")
          })
        ).pipe(
          Effect.provide(
            Layer.merge(capture, Layer.succeed(Logging.LogSwitchesRef, { allEvents: true, debugRuntime: true }))
          ),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
      )
      yield* TestClock.adjust("1 minute")
      valueOf(yield* Fiber.join(fiber))
      const [sandbox] = yield* memory.sandboxes
      const secrets = [
        API_KEY,
        yield* memory.previewTokens(sandbox!.id),
        Redacted.value(yield* SessionKey.derive(Redacted.make(API_KEY), sandbox!.id)),
        "VSCODE_CANARY_TOKEN"
      ]
      assert.isAtLeast(lines.length, 10)
      for (const line of lines) for (const secret of secrets) assert.notInclude(line, secret)
    }).pipe(Effect.provide(harness()))
  )
})
