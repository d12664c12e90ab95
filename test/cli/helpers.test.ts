/**
 * The CLI's pure parts, in-process: the failure classification (two lines, exit codes), the durations
 * and orphan selection of reap, exec's command line, and the plain progress lines.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigError, Console, Duration, Effect, FiberId, Option, Stream } from "effect"
import * as Errors from "../../src/cli/Errors.js"
import * as Output from "../../src/cli/Output.js"
import * as Reap from "../../src/cli/Reap.js"
import { commandLine } from "../../src/cli/Session.js"
import { ActionServerNotReady } from "../../src/programs/Errors.js"
import { InvalidRuntimeOptions } from "../../src/programs/Options.js"
import { ConnectionRefused } from "../../src/services/ActionServer.js"
import { DaytonaApiError } from "../../src/services/DaytonaClient.js"
import { RuntimeEvent } from "../../src/services/RuntimeEvents.js"

describe("Errors.classify", () => {
  it("a configuration error exits 2 and names the variable, what and fix on separate lines", () => {
    const failure = Errors.classify(
      ConfigError.InvalidData(["DAYTONA_PUBLIC"], `DAYTONA_PUBLIC is not a boolean ("maybe"): use true or false`)
    )
    assert.strictEqual(failure.exitCode, 2)
    assert.strictEqual(failure.what, `Invalid configuration: DAYTONA_PUBLIC is not a boolean ("maybe")`)
    assert.strictEqual(failure.fix, "Use true or false")
    assert.strictEqual(Errors.render(failure, { verbose: false }).split("\n").length, 2)
  })

  it("invalid runtime options exit 2; API and server failures exit 1 with a fix", () => {
    assert.strictEqual(Errors.classify(new InvalidRuntimeOptions({ option: "sid", detail: "use letters" })).exitCode, 2)
    const unauthorized = Errors.classify(
      new DaytonaApiError({ reason: "Unauthorized", operation: "DaytonaClient.list", detail: "no", status: 401 })
    )
    assert.strictEqual(unauthorized.exitCode, 1)
    assert.match(unauthorized.what, /rejected the API key \(HTTP 401\)/)
    assert.match(unauthorized.fix, /new key/)
    const unreachable = Errors.classify(
      new DaytonaApiError({ reason: "Transient", operation: "DaytonaClient.list", detail: "ECONNREFUSED" })
    )
    assert.match(unreachable.what, /^Cannot reach the Daytona API/)
    assert.match(unreachable.fix, /DAYTONA_API_URL/)
    const rateLimited = Errors.classify(
      new DaytonaApiError({
        reason: "RateLimited",
        operation: "DaytonaClient.create",
        detail: "slow down",
        status: 429
      })
    )
    assert.match(rateLimited.fix, /throttling/)
  })

  it("a server that did not come up says what to check; its output only with --verbose", () => {
    const error = new ActionServerNotReady({
      sandboxId: "sbx-1",
      url: "http://x",
      lastOutput: "ModuleNotFoundError: openhands",
      cause: new ConnectionRefused({ url: "http://x" })
    })
    const failure = Errors.classify(error)
    assert.match(failure.what, /sbx-1 did not come up/)
    assert.match(failure.fix, /port 4444/)
    assert.notInclude(Errors.render(failure, { verbose: false }), "ModuleNotFoundError")
    assert.include(Errors.render(failure, { verbose: true, cause: Cause.fail(error) }), "ModuleNotFoundError")
  })

  it("a defect is unexpected (exit 1); an interruption is no failure", () => {
    const defect = Errors.fromCause(Cause.die(new Error("boom")))
    assert.isTrue(Option.isSome(defect))
    assert.strictEqual(Option.getOrThrow(defect).exitCode, 1)
    assert.match(Option.getOrThrow(defect).what, /^Unexpected error: boom/)
    assert.isTrue(Option.isNone(Errors.fromCause(Cause.interrupt(FiberId.none))))
  })
})

describe("reap", () => {
  it("parses durations", () => {
    const millis = (text: string) => Option.map(Reap.parseDuration(text), Duration.toMillis)
    assert.deepStrictEqual(millis("0"), Option.some(0))
    assert.deepStrictEqual(millis("0s"), Option.some(0))
    assert.deepStrictEqual(millis("90s"), Option.some(90_000))
    assert.deepStrictEqual(millis("1h30m"), Option.some(5_400_000))
    assert.deepStrictEqual(millis("2d"), Option.some(172_800_000))
    for (const bad of ["", "soon", "1x", "h", "-1h"]) assert.isTrue(Option.isNone(Reap.parseDuration(bad)), bad)
  })
})

describe("exec's command line", () => {
  it("takes one argument as it is and quotes several word by word", () => {
    assert.strictEqual(commandLine(["ls | wc -l"]), "ls | wc -l")
    assert.strictEqual(commandLine(["echo", "hi"]), "echo hi")
    assert.strictEqual(commandLine(["sh", "-c", "exit 7"]), "sh -c 'exit 7'")
    assert.strictEqual(commandLine(["echo", "it's", ""]), `echo 'it'\\''s' ''`)
  })
})

describe("progress", () => {
  it.effect("prints one plain line per event, thins out retries, and lets the caller wait for ready", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const base = yield* Effect.console
      const console: Console.Console = {
        ...base,
        error: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void lines.push(args.join(" ")))
      }
      const stamp = { sid: "s", at: 0 }
      const retry = (attempt: number) =>
        RuntimeEvent.Retrying({ ...stamp, policy: "untilAlive", attempt, delay: Duration.seconds(1), error: "502" })
      const events = Stream.make(
        RuntimeEvent.StatusChanged({ ...stamp, status: "BUILDING_RUNTIME" }),
        RuntimeEvent.SandboxCreated({ ...stamp, sandboxId: "sbx-1" }),
        ...[1, 2, 3, 4, 5, 6].map(retry),
        RuntimeEvent.Ready({ ...stamp, sandboxId: "sbx-1", url: "http://x" }),
        RuntimeEvent.Closed({ ...stamp, sandboxId: "sbx-1", action: "stopped" })
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const progress = yield* Output.showProgress(events, { tty: false })
          yield* progress.shownReady
        })
      ).pipe(Effect.withConsole(console))
      assert.deepStrictEqual(
        lines.map((line) => line.replace(/^\[[\d.]+s\] /, "")),
        [
          "status BUILDING_RUNTIME",
          "sandbox sbx-1 created",
          "retrying (untilAlive, attempt 1) in 1s: 502",
          "retrying (untilAlive, attempt 2) in 1s: 502",
          "retrying (untilAlive, attempt 5) in 1s: 502",
          "ready: http://x",
          "closed sandbox sbx-1: stopped"
        ]
      )
    })
  )
})
