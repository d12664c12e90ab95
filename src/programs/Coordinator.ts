/**
 * What runtimes of one process share: a lock per SID (so two acquires of one SID are serialized
 * and the second attaches to what the first made) and the admission of sandbox creations — at most
 * `maxConcurrentCreates` in flight, and at most `createsPerMinute` started in any minute (Daytona
 * throttles creates per organization: 300–600 a minute by tier). The pacing is a token bucket beside the
 * semaphore: a tenth of the rate at once, the rest spread over the minute, so that a window of Daytona's
 * `sandbox-create` throttler (which opens on the first create) never sees more than the rate. Each process paces
 * itself: processes sharing an organization's rate each take their share (`DAYTONA_CREATES_PER_MINUTE`).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, RateLimiter, Scope } from "effect"
import { globalValue } from "effect/GlobalValue"
import { DaytonaConfig, Defaults } from "../services/DaytonaConfig.js"
import * as FairSemaphore from "./FairSemaphore.js"

/**
 * The shared coordination of runtimes.
 *
 * @since 0.1.0
 */
export interface CoordinatorService {
  /** Runs `effect` holding the lock of `sid`. */
  readonly withSidLock: <A, E, R>(sid: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Runs a sandbox creation once admitted: at most `DAYTONA_MAX_CONCURRENT_CREATES` at once, and paced to
   * `DAYTONA_CREATES_PER_MINUTE`.
   */
  readonly admitCreate: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Coordinator extends Context.Tag("effect-daytona/Coordinator")<Coordinator, CoordinatorService>() {}

/**
 * How creations are admitted.
 *
 * @since 0.2.0
 */
export interface AdmissionSettings {
  readonly maxConcurrentCreates: number
  /** At most this many creates start in any window; 0 = no pacing. */
  readonly createsPerMinute: number
  /**
   * The window `createsPerMinute` counts in: one minute (Daytona's), unless a test wants a shorter one (with the
   * emulator's throttler `ttlSeconds` to match). The public configuration is per minute only.
   */
  readonly window?: Duration.DurationInput | undefined
}

/**
 * The token bucket that keeps any window (a minute unless given) at or under `perWindow` creates: a burst of a
 * tenth of the rate, then the rest of the rate spread evenly.
 *
 * @since 0.2.0
 */
export const pacing = (
  perWindow: number,
  window: Duration.DurationInput = Duration.minutes(1)
): { readonly burst: number; readonly interval: Duration.Duration } => {
  const windowMillis = Duration.toMillis(Duration.decode(window))
  const burst = Math.max(1, Math.floor(perWindow / 10))
  const sustained = perWindow - burst
  return {
    burst,
    interval: sustained <= 0 ? Duration.millis(windowMillis) : Duration.millis((windowMillis * burst) / sustained)
  }
}

/**
 * Builds a coordinator; its pacing lives as long as the scope.
 *
 * @since 0.1.0
 */
export const make = (settings: AdmissionSettings): Effect.Effect<CoordinatorService, never, Scope.Scope> =>
  Effect.gen(function* () {
    // A fair semaphore, not Effect's: a fleet's creates wait here by the thousand, and Effect's wakes them all on
    // every release (see FairSemaphore).
    const creates = FairSemaphore.make(settings.maxConcurrentCreates)
    const { burst, interval } = pacing(settings.createsPerMinute, settings.window)
    const paced: RateLimiter.RateLimiter =
      settings.createsPerMinute > 0
        ? yield* RateLimiter.make({ limit: burst, interval, algorithm: "token-bucket" })
        : (effect) => effect
    const locks = new Map<string, { readonly lock: Effect.Semaphore; users: number }>()

    // A SID's lock lives while someone holds or waits for it, so the map does not grow without bound.
    // Both steps are synchronous, so they need no lock of their own.
    const enter = (sid: string) =>
      Effect.sync(() => {
        const entry = locks.get(sid) ?? { lock: Effect.unsafeMakeSemaphore(1), users: 0 }
        entry.users++
        locks.set(sid, entry)
        return entry
      })
    const leave = (sid: string) =>
      Effect.sync(() => {
        const entry = locks.get(sid)
        if (entry !== undefined && --entry.users === 0) locks.delete(sid)
      })

    return {
      withSidLock: (sid, effect) =>
        Effect.acquireUseRelease(
          enter(sid),
          (entry) => entry.lock.withPermits(1)(effect),
          () => leave(sid)
        ),
      // The slot first, then the pace: a create waiting for its turn does not hold back the rate of the others.
      admitCreate: (effect) => creates.withPermit(paced(effect))
    }
  })

const processWide = globalValue(Symbol.for("effect-daytona/Coordinator/processWide"), () => ({
  current: undefined as CoordinatorService | undefined,
  lock: Effect.unsafeMakeSemaphore(1)
}))

/**
 * The coordinator in context, or else the one shared by the whole process (sized by the first
 * configuration that asks for it, and never closed).
 *
 * @since 0.1.0
 */
export const current = (
  maxConcurrentCreates: number,
  createsPerMinute: number = Defaults.createsPerMinute
): Effect.Effect<CoordinatorService> =>
  Effect.flatMap(Effect.serviceOption(Coordinator), (option) =>
    option._tag === "Some"
      ? Effect.succeed(option.value)
      : processWide.lock.withPermits(1)(
          Effect.suspend(() =>
            processWide.current !== undefined
              ? Effect.succeed(processWide.current)
              : Effect.flatMap(Scope.make(), (scope) =>
                  Scope.extend(make({ maxConcurrentCreates, createsPerMinute }), scope)
                ).pipe(Effect.tap((built) => Effect.sync(() => (processWide.current = built))))
          )
        )
  )

/**
 * The coordinator sized from `DaytonaConfig`; its pacing ends with the layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Coordinator, never, DaytonaConfig> = Layer.scoped(
  Coordinator,
  Effect.flatMap(DaytonaConfig, (config) => make(config))
)
