/**
 * A fleet against an emulator that enforces Daytona's `sandbox-create` throttler (a window opens on the first create;
 * past the limit, 429 with `Retry-After-sandbox-create` and the throttler blocked for the window's length). The
 * window is 2 s instead of Daytona's minute, on both sides (the emulator's `ttlSeconds`, the Coordinator's `window`),
 * so that the test takes seconds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as Coordinator from "../../src/programs/Coordinator.js"

/** Creates per window, and the window. */
const LIMIT = 10
const WINDOW = Duration.seconds(2)
const FLEET = 20

const stack = DaytonaRuntime.layer.pipe(
  Layer.provideMerge(
    Emulator.layer({
      latencies: { create: 0, start: 0, stop: 0, delete: 0, recover: 0 },
      actionServer: { bootDelay: 0 },
      previewMode: "direct",
      rateLimits: { "sandbox-create": { limit: LIMIT, ttlSeconds: Duration.toSeconds(WINDOW) } }
    })
  )
)

/** `n` runtimes at once (connect, `run("true")`, close) through `coordinator`; the failures. */
const fleet = (coordinator: Coordinator.CoordinatorService, n: number, prefix: string) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) =>
      Effect.scoped(
        Effect.flatMap(DaytonaRuntime.acquire({ sid: `${prefix}-${i}` }), (handle) => handle.run("true"))
      ).pipe(Effect.either),
    { concurrency: "unbounded" }
  ).pipe(
    Effect.map((outcomes) => outcomes.flatMap((outcome) => (Either.isLeft(outcome) ? [outcome.left] : []))),
    Effect.provideService(Coordinator.Coordinator, coordinator)
  )

/** The creates the emulator refused with 429, and those it made. */
const creates = Effect.gen(function* () {
  const control = yield* Emulator.EmulatorControl
  const log = (yield* control.requests).filter((entry) => entry.route === "sandbox.create")
  return {
    throttled: log.filter((entry) => entry.status === 429).length,
    made: log.filter((entry) => entry.status === 200).length
  }
})

describe("create pacing under an enforced create rate", () => {
  it.scopedLive(`paced to the enforced rate (${LIMIT} per ${Duration.format(WINDOW)}), no create meets a 429`, () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const coordinator = yield* Coordinator.make({
        maxConcurrentCreates: 16,
        createsPerMinute: LIMIT,
        window: WINDOW
      })
      // One runtime first, so the fleet's first create is not the process's first; then a fresh window.
      assert.deepStrictEqual(yield* fleet(coordinator, 1, "warm"), [])
      yield* Effect.sleep(WINDOW)
      yield* control.resetRequests
      const failures = yield* fleet(coordinator, FLEET, "paced")
      assert.deepStrictEqual(
        failures.map((error) => error.message),
        []
      )
      assert.deepStrictEqual(yield* creates, { throttled: 0, made: FLEET })
      const sandboxes = yield* control.sandboxes
      assert.strictEqual(sandboxes.filter((sandbox) => sandbox.state === "stopped").length, FLEET + 1)
    }).pipe(Effect.provide(stack))
  )

  it.scopedLive("without pacing, the creates past the limit meet 429s and wait out Retry-After-sandbox-create", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const coordinator = yield* Coordinator.make({ maxConcurrentCreates: 100, createsPerMinute: 0 })
      const start = Date.now()
      const failures = yield* fleet(coordinator, FLEET, "unpaced")
      const elapsed = Date.now() - start
      assert.deepStrictEqual(
        failures.map((error) => error.message),
        []
      )
      const { made, throttled } = yield* creates
      assert.strictEqual(made, FLEET)
      // Some creates went past the limit; each of them was refused once only: its retry waited until the throttler
      // let creates through again (one taken after 1 s, the fallback for a 429 without a header Daytona's client
      // reads, would have met a second 429 in the 2 s block).
      assert.isAtLeast(throttled, 1)
      assert.isAtMost(throttled, FLEET - LIMIT)
      assert.isAtLeast(elapsed, Duration.toMillis(WINDOW) - 100)
      const sandboxes = yield* control.sandboxes
      assert.strictEqual(sandboxes.filter((sandbox) => sandbox.state === "stopped").length, FLEET)
    }).pipe(Effect.provide(stack))
  )
})
