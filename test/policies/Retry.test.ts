import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Exit, FastCheck as fc, Fiber, Ref, Schedule, TestClock } from "effect"
import * as Retry from "../../src/policies/Retry.js"
import {
  type ActionServerError,
  ConnectionRefused,
  DecodeError,
  HttpStatusError,
  RequestTimeout,
  TransportError
} from "../../src/services/ActionServer.js"
import { DaytonaApiError } from "../../src/services/DaytonaClient.js"

const url = "http://127.0.0.1:1/alive"

/** One scripted attempt: how long it takes (ms) and how it ends (an error, or success when undefined). */
interface Step {
  readonly durationMs: number
  readonly error: ActionServerError | undefined
}

const errorArb: fc.Arbitrary<ActionServerError> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(new HttpStatusError({ url, status: 502 })) },
  { weight: 3, arbitrary: fc.constant(new ConnectionRefused({ url })) },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: 400, max: 599 })
      .filter((status) => status !== 502)
      .map((status) => new HttpStatusError({ url, status, detail: "scripted" }))
  },
  { weight: 1, arbitrary: fc.constant(new RequestTimeout({ url, timeout: "5 seconds" })) },
  { weight: 1, arbitrary: fc.constant(new TransportError({ url, detail: "socket hang up" })) },
  { weight: 1, arbitrary: fc.constant(new DecodeError({ url, detail: "not JSON" })) }
)

/** Mostly errors the policies retry, so long runs (and the 120 s budget) are reached. */
const retriedHeavyErrorArb: fc.Arbitrary<ActionServerError> = fc.oneof(
  { weight: 12, arbitrary: fc.constant(new HttpStatusError({ url, status: 502 })) },
  { weight: 12, arbitrary: fc.constant(new ConnectionRefused({ url })) },
  { weight: 1, arbitrary: errorArb }
)

const scriptArb = (maxDurationMs: number) =>
  fc.array(
    fc.record({
      durationMs: fc.integer({ min: 0, max: maxDurationMs }),
      error: fc.option(retriedHeavyErrorArb, { nil: undefined, freq: 20 })
    }),
    { minLength: 1, maxLength: 200 }
  )

interface Attempt {
  readonly start: number
  readonly end: number
}

/** Runs the script under `policy` with the TestClock, returning the attempts and the outcome. */
const runScript = (script: ReadonlyArray<Step>, policy: typeof Retry.actionRequest) =>
  Effect.gen(function* () {
    const attempts = yield* Ref.make<ReadonlyArray<Attempt>>([])
    const request = Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const index = (yield* Ref.get(attempts)).length
      // Past the end of the script every attempt succeeds.
      const step = script[index] ?? { durationMs: 0, error: undefined }
      yield* Effect.sleep(Duration.millis(step.durationMs))
      const end = yield* Clock.currentTimeMillis
      yield* Ref.update(attempts, (all) => [...all, { start, end }])
      return step.error === undefined ? yield* Effect.succeed(index) : yield* Effect.fail(step.error)
    })
    const fiber = yield* Effect.fork(Effect.retry(request, policy))
    yield* TestClock.adjust(Duration.hours(2))
    const exit = yield* Fiber.await(fiber)
    return { attempts: yield* Ref.get(attempts), exit }
  })

describe("Retry.actionRequest", () => {
  it.effect.prop(
    "retries only 502, 4 s then 8 s then 16 s apart, at most 3 times, none starting after 120 s",
    [scriptArb(70_000)],
    ([script]) =>
      Effect.gen(function* () {
        const t0 = yield* Clock.currentTimeMillis
        assert.strictEqual(t0, 0, "each property run has a fresh TestClock")
        const { attempts, exit } = yield* runScript(script, Retry.actionRequest)
        const expectedDelays = [4_000, 8_000, 16_000]

        assert.isAtMost(attempts.length, 4, "never more than 3 retries")
        // Every retry follows a 502, and comes exactly its delay after the failure.
        for (let i = 1; i < attempts.length; i++) {
          const previous = script[i - 1]!.error
          assert.isTrue(previous !== undefined && Retry.isBadGateway(previous), "only 502 is retried")
          assert.strictEqual(attempts[i]!.start - attempts[i - 1]!.end, expectedDelays[i - 1])
          assert.isAtMost(attempts[i]!.start - attempts[0]!.end, 120_000, "no retry starts after 120 s")
        }

        const last = attempts.length - 1
        const lastStep = script[last]
        if (lastStep === undefined || lastStep.error === undefined) {
          assert.isTrue(Exit.isSuccess(exit))
        } else {
          // The error that ended the retries surfaces unchanged.
          assert.deepStrictEqual(exit, Exit.fail(lastStep.error))
          const stoppedBecause =
            !Retry.isBadGateway(lastStep.error) ||
            last === 3 ||
            (lastStep.durationMs >= 0 && attempts[last]!.end - attempts[0]!.end + expectedDelays[last]! > 120_000)
          assert.isTrue(stoppedBecause, "the policy stops only for a reason it names")
        }
        // A non-502 first error is never retried.
        if (script[0]!.error !== undefined && !Retry.isBadGateway(script[0]!.error)) {
          assert.strictEqual(attempts.length, 1)
        }
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("delays are 4 s, 8 s, 16 s and then it gives up (the exact sequence)", () =>
    Effect.gen(function* () {
      const script = Array.from({ length: 10 }, () => ({
        durationMs: 0,
        error: new HttpStatusError({ url, status: 502 }) as ActionServerError
      }))
      const { attempts, exit } = yield* runScript(script, Retry.actionRequest)
      assert.deepStrictEqual(
        attempts.map((a) => a.start),
        [0, 4_000, 12_000, 28_000]
      )
      assert.deepStrictEqual(exit, Exit.fail(script[3]!.error))
    })
  )

  it.effect("no retry begins after 120 s even with slow attempts", () =>
    Effect.gen(function* () {
      const script = Array.from({ length: 10 }, () => ({
        durationMs: 50_000,
        error: new HttpStatusError({ url, status: 502 }) as ActionServerError
      }))
      const { attempts } = yield* runScript(script, Retry.actionRequest)
      // failures at 50 s, 104 s (50+4+50), then 104+8 = 112 s from the first failure would be 62 s… still in,
      // the next at 112+50 = 162 s; 162-50+16 = 128 s > 120 s: stop.
      assert.deepStrictEqual(
        attempts.map((a) => a.start),
        [0, 54_000, 112_000]
      )
    })
  )

  it.effect("the delays, read off the schedule, are 4 s, 8 s, 16 s: inside [4 s, 60 s]", () =>
    Effect.gen(function* () {
      const inputs = Array.from({ length: 10 }, () => new HttpStatusError({ url, status: 502 }))
      const delays = yield* Schedule.run(Schedule.delays(Retry.actionRequest), 0, inputs)
      // Three retries, then the give-up (a zero-delay "done" step).
      assert.deepStrictEqual(Chunk.toReadonlyArray(delays).map(Duration.toMillis), [4_000, 8_000, 16_000, 0])
    })
  )
})

describe("Retry.untilAlive", () => {
  it.effect.prop(
    "retries only connection-refused and 502, exactly 1 s apart, nothing starting after 120 s",
    [scriptArb(3_000)],
    ([script]) =>
      Effect.gen(function* () {
        const { attempts, exit } = yield* runScript(script, Retry.untilAlive)
        for (let i = 1; i < attempts.length; i++) {
          const previous = script[i - 1]!.error
          assert.isTrue(previous !== undefined && Retry.isNotListeningYet(previous), "only refused/502 retried")
          assert.strictEqual(attempts[i]!.start - attempts[i - 1]!.end, 1_000, "exactly 1 s apart")
          assert.isAtMost(attempts[i]!.start - attempts[0]!.end, 120_000, "nothing after 120 s")
        }
        const last = attempts.length - 1
        const lastStep = script[last]
        if (lastStep === undefined || lastStep.error === undefined) {
          assert.isTrue(Exit.isSuccess(exit))
        } else {
          assert.deepStrictEqual(exit, Exit.fail(lastStep.error))
          const stoppedBecause =
            !Retry.isNotListeningYet(lastStep.error) || attempts[last]!.end - attempts[0]!.end + 1_000 > 120_000
          assert.isTrue(stoppedBecause, "the policy stops only for a reason it names")
        }
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("with instant attempts it tries 121 times over exactly 120 s, then gives up", () =>
    Effect.gen(function* () {
      const script = Array.from({ length: 500 }, () => ({
        durationMs: 0,
        error: new ConnectionRefused({ url }) as ActionServerError
      }))
      const { attempts, exit } = yield* runScript(script, Retry.untilAlive)
      assert.strictEqual(attempts.length, 121)
      assert.strictEqual(attempts[120]!.start, 120_000)
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.effect("a 401 or 404 surfaces at once, unchanged", () =>
    Effect.gen(function* () {
      for (const status of [401, 403, 404]) {
        const error = new HttpStatusError({ url, status })
        const { attempts, exit } = yield* runScript([{ durationMs: 0, error }], Retry.untilAlive)
        assert.strictEqual(attempts.length, 1)
        assert.deepStrictEqual(exit, Exit.fail(error))
      }
    })
  )
})

describe("interruption", () => {
  it.effect.prop(
    "an interruption during a wait stops the retries at once",
    [fc.constantFrom(Retry.actionRequest, Retry.untilAlive), fc.integer({ min: 1, max: 3_999 })],
    ([policy, interruptAt]) =>
      Effect.gen(function* () {
        const count = yield* Ref.make(0)
        const request = Ref.update(count, (n) => n + 1).pipe(
          Effect.zipRight(Effect.fail(new HttpStatusError({ url, status: 502 })))
        )
        const fiber = yield* Effect.fork(Effect.retry(request, policy))
        yield* TestClock.adjust(Duration.millis(interruptAt))
        const before = yield* Ref.get(count)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        yield* TestClock.adjust(Duration.hours(1))
        assert.strictEqual(yield* Ref.get(count), before, "no attempt after the interruption")
      }),
    { fastCheck: { numRuns: 100 } }
  )
})

describe("Retry.observe", () => {
  it.effect("reports each granted retry with its attempt number and delay, not the final give-up", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<ReadonlyArray<[number, number]>>([])
      const policy = Retry.observe(Retry.actionRequest, ({ attempt, delay }) =>
        Ref.update(seen, (all) => [...all, [attempt, Duration.toMillis(delay)] as [number, number]])
      )
      const fiber = yield* Effect.fork(Effect.retry(Effect.fail(new HttpStatusError({ url, status: 502 })), policy))
      yield* TestClock.adjust(Duration.minutes(5))
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(yield* Ref.get(seen), [
        [1, 4_000],
        [2, 8_000],
        [3, 16_000]
      ])
    })
  )
})

describe("Retry.rateLimited", () => {
  const limited = (retryAfter?: Duration.DurationInput) =>
    new DaytonaApiError({
      reason: "RateLimited",
      operation: "DaytonaClient.create",
      detail: "Too Many Requests",
      status: 429,
      retryAfter: retryAfter === undefined ? undefined : Duration.decode(retryAfter)
    })

  const delaysOf = (errors: ReadonlyArray<DaytonaApiError>) =>
    Effect.map(Schedule.run(Schedule.delays(Retry.rateLimited), 0, errors), (delays) =>
      // The last output is the one of the decision to stop.
      Chunk.toReadonlyArray(delays).map(Duration.toMillis).slice(0, -1)
    )

  it.effect.prop(
    "waits the Retry-After (at most 60 s) stretched by at most a quarter, up to 3 times within 2 minutes",
    [fc.integer({ min: 0, max: 120 })],
    ([seconds]) =>
      Effect.gen(function* () {
        const error = limited(Duration.seconds(seconds))
        const delays = yield* delaysOf([error, error, error, error, error])
        if (seconds > 60) {
          assert.deepStrictEqual(delays, [], "a Retry-After over 60 s is not waited for")
          return
        }
        assert.isAtLeast(delays.length, 1)
        assert.isAtMost(delays.length, Retry.RateLimited.maxRetries)
        for (const delay of delays) {
          assert.isAtLeast(delay, seconds * 1000, "never sooner than Daytona asked")
          assert.isAtMost(delay, seconds * 1250)
        }
        const starts = delays.reduce<Array<number>>((acc, delay) => [...acc, (acc.at(-1) ?? 0) + delay], [])
        assert.isAtMost(starts.at(-1)!, 120_000, "no retry begins after the 2-minute budget")
      }),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect("the waits of a fleet refused together are spread, not in lockstep", () =>
    Effect.gen(function* () {
      const error = limited("10 seconds")
      const firsts = yield* Effect.forEach(Array.from({ length: 20 }), () =>
        Effect.map(delaysOf([error, error]), (delays) => delays[0]!)
      )
      assert.isAbove(new Set(firsts).size, 10)
    })
  )

  it.effect("without Retry-After it waits about 1 s; other reasons are not retried", () =>
    Effect.gen(function* () {
      const delays = yield* delaysOf([limited(), limited(), limited(), limited(), limited()])
      assert.strictEqual(delays.length, 3)
      assert.isTrue(delays.every((delay) => delay >= 1_000 && delay <= 1_250))
      const other = new DaytonaApiError({ reason: "Transient", operation: "x", detail: "y", status: 503 })
      assert.deepStrictEqual(yield* delaysOf([other]), [])
    })
  )
})
