/**
 * The preview proxy refusing a private sandbox's token (Daytona answers 307 to its login page; 401 from a proxy
 * that does not redirect): the handle reads the preview link again, once, and sends the request again only when the
 * token changed; otherwise the refusal surfaces with its hint. A public sandbox needs no token, so nothing is retried.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import { HttpStatusError } from "../../src/services/ActionServer.js"
import { DaytonaClient } from "../../src/services/DaytonaClient.js"
import { completed, ScriptedActionServerControl } from "../support/ScriptedActionServer.js"
import { clocked, harness } from "../support/harness.js"

const refused = (status: number) =>
  Effect.fail(new HttpStatusError({ url: "http://127.0.0.1:1/execute_action", status }))

/** The preview tokens the agent's commands carried (the hidden setup runs left out), in order. */
const tokensSeen = Effect.map(
  Effect.flatMap(ScriptedActionServerControl, (scripted) => scripted.calls),
  (calls) =>
    calls
      .filter((call) => call.method === "execute" && !(call.action?._tag === "Run" && call.action.hidden === true))
      .map((call) => Option.getOrUndefined(Option.map(call.endpoint.previewToken, Redacted.value)))
)

const previewLinkReads = Effect.map(
  Effect.flatMap(DaytonaClientMemoryControl, (memory) => memory.calls),
  (calls) => calls.filter((call) => call.method === "previewLink").length
)

/** Acquires, lets `meanwhile` run, then runs two commands; the exit of it all. */
const twoCommands = <E, R>(meanwhile: (sandboxId: string) => Effect.Effect<void, E, R>) =>
  clocked(
    Effect.scoped(
      Effect.gen(function* () {
        const runtime = yield* DaytonaRuntime.acquire({})
        yield* meanwhile(runtime.sandboxId)
        return yield* Effect.all([runtime.run("echo hi"), runtime.run("echo again")])
      })
    ),
    { step: "1 second" }
  )

/** A stop and a start behind the runtime's back: Daytona gives the sandbox a new preview token on every start. */
const restart = (sandboxId: string) =>
  Effect.gen(function* () {
    const client = yield* DaytonaClient
    yield* Effect.orDie(client.stop(sandboxId))
    yield* Effect.orDie(client.start(sandboxId))
  })

describe("a refused preview token", () => {
  for (const status of [307, 401]) {
    it.effect(`${status} after a restart: the request is sent again with the new token, and so are later ones`, () =>
      Effect.gen(function* () {
        const scripted = yield* ScriptedActionServerControl
        yield* scripted.queueExecute(refused(status), Effect.succeed(completed("echo hi", "hi")))
        const exit = yield* twoCommands(restart)
        assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "")
        const [first, second, third] = yield* tokensSeen
        assert.isString(first)
        assert.notStrictEqual(second, first, "the retry carries the new token")
        assert.strictEqual(third, second, "later requests keep it")
        assert.strictEqual(yield* previewLinkReads, 2, "read at connect, and once after the refusal")
      }).pipe(Effect.provide(harness()))
    )
  }

  it.effect("307 with the token unchanged: no second try, HttpStatusError 307 with the hint", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(refused(307))
      const exit = yield* twoCommands(() => Effect.void)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "HttpStatusError")
      if (error?._tag === "HttpStatusError") {
        assert.strictEqual(error.status, 307)
        assert.include(error.message, "the preview proxy refused the preview token")
      }
      assert.lengthOf(yield* tokensSeen, 1)
      assert.strictEqual(yield* previewLinkReads, 2)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a public sandbox: a 307 is not about a token, nothing is read again", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueExecute(refused(307))
      const exit = yield* twoCommands(() => Effect.void)
      assert.isTrue(Exit.isFailure(exit))
      assert.lengthOf(yield* tokensSeen, 1)
      assert.strictEqual(yield* previewLinkReads, 1)
    }).pipe(Effect.provide(harness({ config: { public: true } })))
  )
})
