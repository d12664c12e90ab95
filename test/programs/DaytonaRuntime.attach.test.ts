import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted, Ref } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import * as Lifecycle from "../../src/programs/Lifecycle.js"
import { resolve } from "../../src/programs/Options.js"
import { DaytonaApiError, DaytonaClient, SID_LABEL } from "../../src/services/DaytonaClient.js"
import { DaytonaConfig } from "../../src/services/DaytonaConfig.js"
import { ActionServer } from "../../src/services/ActionServer.js"
import { RuntimeEvents, type RuntimeStatus } from "../../src/services/RuntimeEvents.js"
import * as Coordinator from "../../src/programs/Coordinator.js"
import { ScriptedActionServerControl } from "../support/ScriptedActionServer.js"
import { clocked, harness, RecordedEvents, tags } from "../support/harness.js"

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const seedSid = (sid: string, state: string, extra: { recoverable?: boolean; errorReason?: string } = {}) =>
  Effect.flatMap(DaytonaClientMemoryControl, (memory) =>
    memory.seed({
      state,
      labels: { [SID_LABEL]: sid },
      env: { SESSION_API_KEY: "key-of-the-first-runtime" },
      ...extra
    })
  )

/** Attaches, holds the runtime briefly and closes; returns the exit and the method calls made. */
const attach = (sid = "s") =>
  Effect.gen(function* () {
    const memory = yield* DaytonaClientMemoryControl
    const exit = yield* clocked(
      Effect.scoped(Effect.map(DaytonaRuntime.acquire({ sid, attachToExisting: true }), (runtime) => runtime.sandboxId))
    )
    const calls = (yield* memory.calls).map((c) => c.method)
    return { exit, calls, commands: yield* memory.commands, sandboxes: yield* memory.sandboxes }
  })

describe("DaytonaRuntime.acquire: attach", () => {
  it.effect("0 sandboxes: creates one named after the SID, and keeps it on close", () =>
    Effect.gen(function* () {
      const { calls, exit, sandboxes } = yield* attach("my-sid")
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(calls.slice(0, 2), ["findBySid", "create"])
      assert.strictEqual(sandboxes.length, 1)
      assert.strictEqual(sandboxes[0]!.name, "openhands-my-sid")
      assert.strictEqual(sandboxes[0]!.state, "started", "attach mode keeps the sandbox")
      assert.notInclude(calls, "stop")
      const last = (yield* RecordedEvents.all).at(-1)!
      assert.isTrue(last._tag === "Closed" && last.action === "kept")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("1 started sandbox: attaches with its session key, starts no server, keeps it", () =>
    Effect.gen(function* () {
      const seeded = yield* seedSid("s", "started")
      const scripted = yield* ScriptedActionServerControl
      const { calls, commands, exit, sandboxes } = yield* attach()
      assert.strictEqual(Exit.isSuccess(exit) ? exit.value : undefined, seeded.id)
      assert.notInclude(calls, "create")
      assert.deepStrictEqual(commands, [], "the server of an attached, started sandbox is already running")
      assert.strictEqual(sandboxes[0]!.state, "started")
      const alive = (yield* scripted.calls).find((c) => c.method === "alive")!
      assert.strictEqual(Redacted.value(alive.endpoint.sessionApiKey), "key-of-the-first-runtime")
      assert.includeMembers([...tags(yield* RecordedEvents.all)], ["SandboxAttached"])
    }).pipe(Effect.provide(harness()))
  )

  it.effect("2 sandboxes with the SID: AmbiguousSandbox, nothing created or touched", () =>
    Effect.gen(function* () {
      const a = yield* seedSid("s", "started")
      const b = yield* seedSid("s", "stopped")
      const { calls, exit, sandboxes } = yield* attach()
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "AmbiguousSandbox")
      if (error?._tag === "AmbiguousSandbox") assert.sameMembers([...error.sandboxIds], [a.id, b.id])
      assert.deepStrictEqual(calls, ["findBySid"])
      assert.deepStrictEqual(
        sandboxes.map((s) => s.state),
        ["started", "stopped"]
      )
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a failed lookup is an error, never 'none found' (no duplicate is created)", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      yield* memory.failNext(
        "findBySid",
        new DaytonaApiError({ reason: "Transient", operation: "DaytonaClient.findBySid", detail: "503", status: 503 })
      )
      const { calls, exit } = yield* attach()
      assert.strictEqual(failureOf(exit)?._tag, "DaytonaApiError")
      assert.notInclude(calls, "create")
    }).pipe(Effect.provide(harness()))
  )

  for (const state of ["stopped", "archived"]) {
    it.effect(`a ${state} sandbox is started and its server started`, () =>
      Effect.gen(function* () {
        yield* seedSid("s", state)
        const { calls, commands, exit } = yield* attach()
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        assert.include(calls, "start")
        assert.strictEqual(commands.length, 1)
        assert.includeMembers([...tags(yield* RecordedEvents.all)], ["SandboxStarted", "ServerStarting"])
      }).pipe(Effect.provide(harness()))
    )
  }

  it.effect("a stopping sandbox: wait until stopped, then start", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const seeded = yield* seedSid("s", "started")
      yield* memory.stickState(seeded.id, "stopping", "5 seconds")
      const { calls, commands, exit } = yield* attach()
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const order = calls.filter((m) => m === "waitUntilStopped" || m === "start")
      assert.deepStrictEqual(order, ["waitUntilStopped", "start"])
      assert.strictEqual(commands.length, 1)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a starting sandbox: wait until started, then start the server", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const seeded = yield* seedSid("s", "stopped")
      yield* memory.stickState(seeded.id, "starting", "5 seconds")
      const { calls, commands, exit } = yield* attach()
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.include(calls, "waitUntilStarted")
      assert.notInclude(calls, "start")
      assert.strictEqual(commands.length, 1)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a recoverable error: recover, then start the server", () =>
    Effect.gen(function* () {
      yield* seedSid("s", "error", { recoverable: true, errorReason: "disk full" })
      const { calls, commands, exit } = yield* attach()
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.include(calls, "recover")
      assert.strictEqual(commands.length, 1)
    }).pipe(Effect.provide(harness()))
  )

  for (const [state, extra] of [
    ["error", { recoverable: false, errorReason: "runner lost" }],
    ["build_failed", { errorReason: "bad image" }],
    ["hibernating", {}]
  ] as const) {
    it.effect(`${state}: a typed SandboxUnusable carrying the raw state, nothing started`, () =>
      Effect.gen(function* () {
        const seeded = yield* seedSid("s", state, extra)
        const { calls, exit, sandboxes } = yield* attach()
        const error = failureOf(exit)
        assert.strictEqual(error?._tag, "SandboxUnusable")
        if (error?._tag === "SandboxUnusable") {
          assert.strictEqual(error.state, state)
          assert.strictEqual(error.sandboxId, seeded.id)
          assert.include(error.message, seeded.id)
        }
        assert.notInclude(calls, "start")
        assert.notInclude(calls, "create")
        assert.strictEqual(sandboxes[0]!.state, state, "left as it was (attach keeps)")
      }).pipe(Effect.provide(harness()))
    )
  }

  it.effect("'state change in progress' on start means wait and read the state again", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      yield* seedSid("s", "stopped")
      yield* memory.failNext(
        "start",
        new DaytonaApiError({
          reason: "StateChangeInProgress",
          operation: "DaytonaClient.start",
          detail: "State change in progress",
          status: 409
        }),
        2
      )
      const { calls, exit } = yield* attach()
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.strictEqual(calls.filter((m) => m === "start").length, 3)
      assert.isAtLeast(calls.filter((m) => m === "get").length, 3, "the state is read again before each try")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("two concurrent acquires of one SID in one process make one sandbox", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const exit = yield* clocked(
        Effect.all(
          [0, 1].map(() =>
            Effect.scoped(
              Effect.map(DaytonaRuntime.acquire({ sid: "shared", attachToExisting: true }), (r) => r.sandboxId)
            )
          ),
          { concurrency: "unbounded" }
        )
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const ids = Exit.isSuccess(exit) ? exit.value : []
      assert.strictEqual(ids[0], ids[1])
      assert.strictEqual((yield* memory.sandboxes).length, 1)
      assert.strictEqual((yield* memory.calls).filter((c) => c.method === "create").length, 1)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a concurrent create elsewhere (409 on the SID's name) attaches to the winner", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      // Another process won the race: its sandbox has the SID's name, and our create gets 409.
      const winner = yield* memory.seed({ name: "openhands-raced", state: "started", labels: {} })
      const exit = yield* clocked(
        Effect.scoped(Effect.map(DaytonaRuntime.acquire({ sid: "raced", attachToExisting: true }), (r) => r.sandboxId))
      )
      assert.strictEqual(Exit.isSuccess(exit) ? exit.value : undefined, winner.id)
      assert.strictEqual((yield* memory.sandboxes).length, 1, "no second sandbox")
    }).pipe(Effect.provide(harness()))
  )
})

describe("Lifecycle.settle", () => {
  for (const state of ["destroyed", "destroying"]) {
    it.effect(`${state} is a typed error`, () =>
      Effect.gen(function* () {
        const config = yield* DaytonaConfig
        const ctx: Lifecycle.Ctx = {
          client: yield* DaytonaClient,
          server: yield* ActionServer,
          events: yield* RuntimeEvents,
          config,
          coordinator: yield* Coordinator.current(4),
          options: yield* resolve({}, config),
          acquireId: "a",
          status: yield* Ref.make<RuntimeStatus>("STARTING_RUNTIME"),
          lease: yield* Ref.make<Lifecycle.LeaseHold>({
            holder: "h",
            generation: 0,
            shared: false,
            fencedBy: Option.none()
          })
        }
        const memory = yield* DaytonaClientMemoryControl
        const sandbox = yield* memory.seed({ state })
        const exit = yield* Effect.exit(
          Lifecycle.settle(ctx, { sandbox, created: false, sessionApiKey: Redacted.make("k") })
        )
        const error = failureOf(exit)
        assert.strictEqual(error?._tag, "SandboxUnusable")
        if (error?._tag === "SandboxUnusable") assert.strictEqual(error.state, state)
      }).pipe(Effect.provide(harness()))
    )
  }
})
