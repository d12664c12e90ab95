/**
 * The retry policies of the runtime, as `Schedule`s whose input is the error: used with
 * `Effect.retry(request, policy)` they retry only the errors they name, stop at once on any other
 * error (which surfaces unchanged) and stop at once on interruption.
 *
 * Time budgets are measured by `Schedule.elapsed`, which starts at the first failure; for the
 * errors these policies retry (a refused connection, a 502 from a proxy) that is within
 * milliseconds of the first attempt.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule, ScheduleDecision } from "effect"
import type { ActionServerError } from "../services/ActionServer.js"
import { type DaytonaApiError, isApiError } from "../services/DaytonaClient.js"

/**
 * Whether the error is an HTTP 502 from the action server (or the preview proxy in front of it).
 *
 * @since 0.1.0
 */
export const isBadGateway = (error: ActionServerError): boolean =>
  error._tag === "HttpStatusError" && error.status === 502

/**
 * Whether the error means "nothing is listening yet": a refused connection, or a 502 from a
 * proxy with nothing behind it.
 *
 * @since 0.1.0
 */
export const isNotListeningYet = (error: ActionServerError): boolean =>
  error._tag === "ConnectionRefused" || isBadGateway(error)

/**
 * Keeps a schedule going only while the next attempt would begin within `budget` of the first
 * failure: the elapsed time plus the coming delay must not pass the budget.
 *
 * @since 0.1.0
 */
export const startingWithin =
  (budget: Duration.DurationInput) =>
  <Out, In, R>(
    self: Schedule.Schedule<Out, In, R>
  ): Schedule.Schedule<[Duration.Duration, Duration.Duration], In, R> => {
    const limit = Duration.decode(budget)
    return Schedule.delays(self).pipe(
      Schedule.intersect(Schedule.elapsed),
      Schedule.whileOutput(([delay, elapsed]) => Duration.lessThanOrEqualTo(Duration.sum(elapsed, delay), limit))
    )
  }

const clamp = (min: Duration.Duration, max: Duration.Duration) => (delay: Duration.Duration) =>
  Duration.clamp(delay, { minimum: min, maximum: max })

/** Parameters of {@link actionRequest}. */
export const ActionRequest = {
  base: Duration.seconds(4),
  factor: 2,
  min: Duration.seconds(4),
  max: Duration.seconds(60),
  maxRetries: 3,
  budget: Duration.seconds(120)
} as const

/** Parameters of {@link untilAlive}. */
export const UntilAlive = {
  interval: Duration.seconds(1),
  budget: Duration.seconds(120)
} as const

/**
 * Retries a request to the action server that got HTTP 502: exponential from 4 s (×2), each
 * delay clamped to [4 s, 60 s], at most 3 retries, and none begins more than 120 s after the
 * first failure. Any other error is not retried.
 *
 * @since 0.1.0
 */
export const actionRequest: Schedule.Schedule<unknown, ActionServerError> = Schedule.exponential(
  ActionRequest.base,
  ActionRequest.factor
).pipe(
  Schedule.modifyDelay((_, delay) => clamp(ActionRequest.min, ActionRequest.max)(delay)),
  Schedule.intersect(Schedule.recurs(ActionRequest.maxRetries)),
  startingWithin(ActionRequest.budget),
  Schedule.whileInput(isBadGateway)
)

/**
 * Waits for the action server to come up: retries a refused connection or a 502 every 1 s, and
 * none begins more than 120 s after the first failure. Anything else (401, 403, 404, a timeout, a
 * bad body) surfaces at once.
 *
 * @since 0.1.0
 */
export const untilAlive: Schedule.Schedule<unknown, ActionServerError> = Schedule.spaced(UntilAlive.interval).pipe(
  startingWithin(UntilAlive.budget),
  Schedule.whileInput(isNotListeningYet)
)

/** Parameters of {@link rateLimited}. */
export const RateLimited = {
  /** Used when a 429 carries no `Retry-After`. */
  fallback: Duration.seconds(1),
  /** The longest `Retry-After` that is honoured; a longer one fails at once. */
  maxWait: Duration.seconds(60),
  maxRetries: 3,
  /**
   * Each wait is the `Retry-After` times a random factor in this range: never shorter than Daytona asked, and
   * spread, so that the runtimes of a fleet that were refused together do not come back together.
   */
  jitter: { min: 1, max: 1.25 },
  /** No retry begins after this much time since the first 429. */
  budget: Duration.minutes(2)
} as const

const retryAfterOf = (error: DaytonaApiError): Duration.Duration =>
  error.retryAfter === undefined ? RateLimited.fallback : error.retryAfter

/**
 * Honours Daytona's `429 Too Many Requests`: waits as long as its `Retry-After` (or `Retry-After-<throttler>`)
 * says — 1 s when it says nothing — stretched by up to a quarter at random, then tries again; at most 3 times,
 * none beginning more than 2 minutes after the first 429. A `Retry-After` over 60 s, or any other error, surfaces
 * at once.
 *
 * @since 0.1.0
 */
export const rateLimited: Schedule.Schedule<unknown, DaytonaApiError> = Schedule.identity<DaytonaApiError>().pipe(
  Schedule.whileInput(
    (error: DaytonaApiError) =>
      error.reason === "RateLimited" && Duration.lessThanOrEqualTo(retryAfterOf(error), RateLimited.maxWait)
  ),
  Schedule.addDelay(retryAfterOf),
  Schedule.jitteredWith(RateLimited.jitter),
  Schedule.intersect(Schedule.recurs(RateLimited.maxRetries)),
  startingWithin(RateLimited.budget)
)

/**
 * Waits for a state change that Daytona reports as "in progress" (400/409): 100 ms, doubling, up
 * to 2 s apart, for at most 60 s.
 *
 * @since 0.1.0
 */
export const stateChangeInProgress: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis", 2).pipe(
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(2))),
  startingWithin("60 seconds"),
  Schedule.whileInput(isApiError("StateChangeInProgress"))
)

/**
 * Retries a cleanup call (stop, delete) that failed for a passing reason — a transient error, a
 * timeout, a state change in progress, or an unexpected answer: 500 ms, doubling, at most 5 retries,
 * none beginning more than 60 s after the first failure. Unauthorized, forbidden and not-found are
 * final.
 *
 * @since 0.1.0
 */
export const cleanup: Schedule.Schedule<unknown, unknown> = Schedule.exponential("500 millis", 2).pipe(
  Schedule.intersect(Schedule.recurs(5)),
  startingWithin("60 seconds"),
  Schedule.whileInput(isApiError("Transient", "Timeout", "StateChangeInProgress", "Unknown", "RateLimited"))
)

/**
 * What {@link observe} reports before each retry.
 *
 * @since 0.1.0
 */
export interface RetryInfo<E> {
  /** 1 for the first retry. */
  readonly attempt: number
  /** How long until the retry. */
  readonly delay: Duration.Duration
  /** The error that is being retried. */
  readonly error: E
}

/**
 * The same decisions as `policy`, calling `onRetry` before each retry it grants (not when it gives up).
 *
 * @since 0.1.0
 */
export const observe = <Out, E, R, R2>(
  policy: Schedule.Schedule<Out, E, R>,
  onRetry: (info: RetryInfo<E>) => Effect.Effect<void, never, R2>
): Schedule.Schedule<[[Duration.Duration, E], number], E, R | R2> =>
  Schedule.delays(policy).pipe(
    Schedule.intersect(Schedule.identity<E>()),
    Schedule.intersect(Schedule.count),
    Schedule.onDecision(([[delay, error], count], decision) =>
      ScheduleDecision.isContinue(decision) ? onRetry({ attempt: count + 1, delay, error }) : Effect.void
    )
  )
