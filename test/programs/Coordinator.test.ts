import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref, TestClock } from "effect"
import * as Coordinator from "../../src/programs/Coordinator.js"

/** Starts `count` creations at once through `admitCreate`; returns the clock times (ms) at which each one ran. */
const startTimes = (coordinator: Coordinator.CoordinatorService, count: number) =>
  Effect.gen(function* () {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const creation = Effect.flatMap(TestClock.currentTimeMillis, (now) => Ref.update(times, (all) => [...all, now]))
    const fiber = yield* Effect.fork(
      Effect.forEach(Array.from({ length: count }), () => coordinator.admitCreate(creation), {
        concurrency: "unbounded",
        discard: true
      })
    )
    return { times, fiber }
  })

/** The most values of `times` inside any window of `window` ms. */
const busiestWindow = (times: ReadonlyArray<number>, window: number) =>
  Math.max(0, ...times.map((start) => times.filter((t) => t >= start && t < start + window).length))

describe("Coordinator", () => {
  it("pacing keeps every minute at or under the rate: a tenth at once, the rest spread", () => {
    const { burst, interval } = Coordinator.pacing(300)
    assert.strictEqual(burst, 30)
    // 270 more creates in 60 s: 30 tokens every 6 2/3 s.
    assert.closeTo(Duration.toMillis(interval), 6_667, 1)
    assert.strictEqual(Coordinator.pacing(5).burst, 1)
    assert.deepStrictEqual(Coordinator.pacing(1), { burst: 1, interval: Duration.minutes(1) })
  })

  it.scoped("creates beyond the rate wait for their turn; no 60-second window sees more than the rate", () =>
    Effect.gen(function* () {
      const coordinator = yield* Coordinator.make({ maxConcurrentCreates: 1000, createsPerMinute: 60 })
      const { fiber, times } = yield* startTimes(coordinator, 150)
      yield* TestClock.adjust("1 millis")
      // The burst runs at once …
      assert.strictEqual((yield* Ref.get(times)).length, 6)
      yield* TestClock.adjust("3 minutes")
      yield* Fiber.join(fiber)
      const all = yield* Ref.get(times)
      assert.strictEqual(all.length, 150)
      // … and the rest at the sustained pace (54 a minute, after the burst of 6): never over 60 in any minute.
      assert.isAtMost(busiestWindow(all, 60_000), 60)
      assert.closeTo(Math.max(...all), (144 / 54) * 60_000, 1_000)
    })
  )

  it.scoped("a shorter window (for tests against an emulator throttler of the same ttl) paces within it", () =>
    Effect.gen(function* () {
      const { burst, interval } = Coordinator.pacing(10, "2 seconds")
      assert.strictEqual(burst, 1)
      assert.closeTo(Duration.toMillis(interval), 2_000 / 9, 1)
      const coordinator = yield* Coordinator.make({
        maxConcurrentCreates: 1000,
        createsPerMinute: 10,
        window: "2 seconds"
      })
      const { fiber, times } = yield* startTimes(coordinator, 40)
      yield* TestClock.adjust("20 seconds")
      yield* Fiber.join(fiber)
      const all = yield* Ref.get(times)
      assert.strictEqual(all.length, 40)
      assert.isAtMost(busiestWindow(all, 2_000), 10)
      // 39 after the burst of one, 9 every 2 s.
      assert.closeTo(Math.max(...all), (39 / 9) * 2_000, 300)
    })
  )

  it.scoped("0 turns pacing off; the concurrency limit still holds", () =>
    Effect.gen(function* () {
      const coordinator = yield* Coordinator.make({ maxConcurrentCreates: 2, createsPerMinute: 0 })
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const creation = Effect.acquireUseRelease(
        Effect.flatMap(
          Ref.updateAndGet(running, (n) => n + 1),
          (n) => Ref.update(peak, (p) => Math.max(p, n))
        ),
        () => Effect.sleep("1 second"),
        () => Ref.update(running, (n) => n - 1)
      )
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 10 }), () => coordinator.admitCreate(creation), {
          concurrency: "unbounded",
          discard: true
        })
      )
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.get(peak), 2)
    })
  )
})
