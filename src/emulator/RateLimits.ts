/**
 * Daytona's rate limits (`@nestjs/throttler` 6 with its Redis storage; throttlers `anonymous`, `failed-auth`,
 * `authenticated`, `sandbox-create`, `sandbox-lifecycle`, counted per organization): a window of `ttl` seconds
 * opens on the first hit; a hit beyond `limit` blocks the throttler for `ttl` seconds. Every answer of a route a
 * configured throttler covers carries `X-RateLimit-Limit-<name>`, `X-RateLimit-Remaining-<name>` and
 * `X-RateLimit-Reset-<name>`; a blocked one is a 429 "ThrottlerException: Too Many Requests" with
 * `Retry-After-<name>` (only the failed-auth throttler sends a plain `Retry-After`).
 *
 * Unconfigured throttlers are off, as in a Daytona deployment without their settings.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { HttpFailure } from "./Dto.js"

/**
 * The throttlers of Daytona's API.
 *
 * @since 0.1.0
 */
export type ThrottlerName = "anonymous" | "failed-auth" | "authenticated" | "sandbox-create" | "sandbox-lifecycle"

/**
 * One throttler's setting: at most `limit` hits per `ttlSeconds`.
 *
 * @since 0.1.0
 */
export interface ThrottlerLimit {
  readonly limit: number
  readonly ttlSeconds: number
}

/**
 * The enforced throttlers.
 *
 * @since 0.1.0
 */
export type RateLimitsConfig = Partial<Record<ThrottlerName, ThrottlerLimit>>

/**
 * The body of a throttled answer.
 *
 * @since 0.1.0
 */
export const THROTTLED_MESSAGE = "ThrottlerException: Too Many Requests"

/**
 * The headers of a 429 of `throttler` that may retry in `retryAfter` seconds.
 *
 * @since 0.1.0
 */
export const throttledHeaders = (
  throttler: ThrottlerName,
  retryAfter: number,
  limit: number
): Record<string, string> =>
  throttler === "failed-auth"
    ? {
        "x-ratelimit-limit-failed-auth": String(limit),
        "x-ratelimit-remaining-failed-auth": "0",
        "x-ratelimit-reset-failed-auth": String(retryAfter),
        "retry-after": String(retryAfter)
      }
    : { [`retry-after-${throttler}`]: String(retryAfter) }

/**
 * The throttlers in force and their counters.
 *
 * @since 0.1.0
 */
export interface RateLimits {
  /**
   * Counts one hit on each throttler (in Daytona's order): the headers to add, or a 429 failure carrying the
   * headers so far and the blocked throttler's `Retry-After-<name>`.
   */
  readonly hit: (
    throttlers: ReadonlyArray<ThrottlerName>,
    tracker: string
  ) => Effect.Effect<Record<string, string>, HttpFailure>
  /**
   * Counts a failed authentication of a client (Daytona's `FailedAuthTrackerService`): the headers to add to the
   * 401, or a 429 once the client reached the limit.
   */
  readonly failedAuth: (tracker: string) => Effect.Effect<Record<string, string>, HttpFailure>
  readonly configure: (config: RateLimitsConfig) => Effect.Effect<void>
}

interface Counter {
  hits: number
  expiresAt: number
  blockedUntil: number
}

const ORDER: ReadonlyArray<ThrottlerName> = [
  "anonymous",
  "failed-auth",
  "authenticated",
  "sandbox-create",
  "sandbox-lifecycle"
]

/**
 * Makes the rate limits with an initial configuration.
 *
 * @since 0.1.0
 */
export const makeRateLimits = (initial: RateLimitsConfig = {}): RateLimits => {
  let config = initial
  const counters = new Map<string, Counter>()

  /** One hit, as the throttler's Redis storage counts it. */
  const increment = (key: string, limit: ThrottlerLimit, now: number) => {
    const ttl = limit.ttlSeconds * 1000
    let counter = counters.get(key)
    if (counter === undefined || counter.expiresAt <= now) {
      counter = { hits: 0, expiresAt: now + ttl, blockedUntil: counter?.blockedUntil ?? 0 }
      counters.set(key, counter)
    }
    if (counter.blockedUntil > 0 && counter.blockedUntil <= now) {
      counter.blockedUntil = 0
      counter.hits = 0
      counter.expiresAt = now + ttl
    }
    if (counter.blockedUntil === 0) {
      counter.hits++
      if (counter.hits > limit.limit) counter.blockedUntil = now + ttl
    }
    return {
      hits: counter.hits,
      resetSeconds: Math.ceil((counter.expiresAt - now) / 1000),
      blockedSeconds: counter.blockedUntil > now ? Math.ceil((counter.blockedUntil - now) / 1000) : 0
    }
  }

  return {
    hit: (throttlers, tracker) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const headers: Record<string, string> = {}
        for (const name of ORDER) {
          const limit = config[name]
          if (limit === undefined || !throttlers.includes(name)) continue
          const state = increment(`${name}:${tracker}`, limit, now)
          if (state.blockedSeconds > 0) {
            return Effect.fail(
              new HttpFailure({
                status: 429,
                detail: THROTTLED_MESSAGE,
                headers: { ...headers, ...throttledHeaders(name, state.blockedSeconds, limit.limit) }
              })
            )
          }
          headers[`x-ratelimit-limit-${name}`] = String(limit.limit)
          headers[`x-ratelimit-remaining-${name}`] = String(Math.max(0, limit.limit - state.hits))
          headers[`x-ratelimit-reset-${name}`] = String(state.resetSeconds)
        }
        return Effect.succeed(headers)
      }),
    failedAuth: (tracker) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const limit = config["failed-auth"]
        if (limit === undefined) return Effect.succeed({})
        const key = `failed-auth:${tracker}`
        const ttl = limit.ttlSeconds * 1000
        const throttled = (seconds: number) =>
          Effect.fail(
            new HttpFailure({
              status: 429,
              detail: THROTTLED_MESSAGE,
              headers: throttledHeaders("failed-auth", Math.max(1, seconds), limit.limit)
            })
          )
        let counter = counters.get(key)
        if (counter !== undefined && counter.blockedUntil > now) {
          return throttled(Math.ceil((counter.blockedUntil - now) / 1000))
        }
        if (counter === undefined || counter.expiresAt <= now) {
          counter = { hits: 0, expiresAt: now + ttl, blockedUntil: 0 }
          counters.set(key, counter)
        }
        counter.hits++
        if (counter.hits >= limit.limit) {
          counter.blockedUntil = now + ttl
          return throttled(limit.ttlSeconds)
        }
        return Effect.succeed({
          "x-ratelimit-limit-failed-auth": String(limit.limit),
          "x-ratelimit-remaining-failed-auth": String(Math.max(0, limit.limit - counter.hits)),
          "x-ratelimit-reset-failed-auth": String(Math.ceil((counter.expiresAt - now) / 1000))
        })
      }),
    configure: (next) =>
      Effect.sync(() => {
        config = next
        counters.clear()
      })
  }
}
