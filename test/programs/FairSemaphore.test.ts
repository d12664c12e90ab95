import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import * as FairSemaphore from "../../src/programs/FairSemaphore.js"

/** Lets every fiber that can run do so. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("FairSemaphore", () => {
  it.effect("holds at most its permits, and hands a freed one to the longest waiter", () =>
    Effect.gen(function* () {
      const semaphore = FairSemaphore.make(2)
      const order = yield* Ref.make<ReadonlyArray<number>>([])
      const gates = yield* Effect.forEach([0, 1, 2, 3, 4], () => Deferred.make<void>())
      const fibers = yield* Effect.forEach([0, 1, 2, 3, 4], (i) =>
        Effect.fork(
          semaphore.withPermit(
            Effect.zipRight(
              Ref.update(order, (seen) => [...seen, i]),
              Deferred.await(gates[i]!)
            )
          )
        ).pipe(Effect.zipLeft(settle))
      )
      assert.deepStrictEqual(yield* Ref.get(order), [0, 1])
      assert.deepStrictEqual([semaphore.free(), semaphore.waiting()], [0, 3])

      // 1 ends first: its permit goes to 2, the first in line; 3 and 4 keep waiting.
      yield* Deferred.succeed(gates[1]!, undefined)
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(order), [0, 1, 2])
      assert.deepStrictEqual([semaphore.free(), semaphore.waiting()], [0, 2])

      yield* Effect.forEach([0, 2, 3, 4], (i) => Deferred.succeed(gates[i]!, undefined))
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(yield* Ref.get(order), [0, 1, 2, 3, 4])
      assert.deepStrictEqual([semaphore.free(), semaphore.waiting()], [2, 0])
    })
  )

  it.effect("a waiter interrupted in line leaves it; a holder interrupted gives its permit back", () =>
    Effect.gen(function* () {
      const semaphore = FairSemaphore.make(1)
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(semaphore.withPermit(Deferred.await(gate)))
      yield* settle
      const waiter = yield* Effect.fork(semaphore.withPermit(Effect.void))
      const next = yield* Effect.fork(semaphore.withPermit(Effect.succeed("ran")))
      yield* settle
      assert.strictEqual(semaphore.waiting(), 2)

      yield* Fiber.interrupt(waiter)
      assert.strictEqual(semaphore.waiting(), 1)
      // The holder is interrupted: its permit goes to `next`, not lost and not doubled.
      yield* Fiber.interrupt(holder)
      assert.strictEqual(yield* Fiber.join(next), "ran")
      assert.deepStrictEqual([semaphore.free(), semaphore.waiting()], [1, 0])
    })
  )

  it.effect("a failing effect gives its permit back", () =>
    Effect.gen(function* () {
      const semaphore = FairSemaphore.make(1)
      const failed = yield* Effect.either(semaphore.withPermit(Effect.fail("boom")))
      assert.isTrue(failed._tag === "Left")
      assert.strictEqual(semaphore.free(), 1)
      assert.strictEqual(yield* semaphore.withPermit(Effect.succeed(7)), 7)
    })
  )

  it.effect("a thousand waiters: every one runs once, in arrival order, never more than the permits at once", () =>
    Effect.gen(function* () {
      const semaphore = FairSemaphore.make(16)
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const order = yield* Ref.make<ReadonlyArray<number>>([])
      yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        (i) =>
          semaphore.withPermit(
            Effect.gen(function* () {
              const now = yield* Ref.updateAndGet(running, (n) => n + 1)
              yield* Ref.update(peak, (p) => Math.max(p, now))
              yield* Ref.update(order, (seen) => [...seen, i])
              yield* Effect.yieldNow()
              yield* Ref.update(running, (n) => n - 1)
            })
          ),
        { concurrency: "unbounded", discard: true }
      )
      assert.strictEqual(yield* Ref.get(peak), 16)
      assert.deepStrictEqual(
        yield* Ref.get(order),
        Array.from({ length: 1000 }, (_, i) => i)
      )
      assert.deepStrictEqual([semaphore.free(), semaphore.waiting()], [16, 0])
    })
  )
})
