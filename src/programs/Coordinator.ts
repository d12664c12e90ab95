/**
 * What runtimes of one process share: a lock per SID (so two acquires of one SID are serialized
 * and the second attaches to what the first made) and the admission of sandbox creations.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { globalValue } from "effect/GlobalValue"
import { DaytonaConfig } from "../services/DaytonaConfig.js"

/**
 * The shared coordination of runtimes.
 *
 * @since 0.1.0
 */
export interface CoordinatorService {
  /** Runs `effect` holding the lock of `sid`. */
  readonly withSidLock: <A, E, R>(sid: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Runs a sandbox creation once admitted (at most `DAYTONA_MAX_CONCURRENT_CREATES` at once). */
  readonly admitCreate: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Coordinator extends Context.Tag("effect-daytona/Coordinator")<Coordinator, CoordinatorService>() {}

/**
 * Builds a coordinator admitting `maxConcurrentCreates` creations at once.
 *
 * @since 0.1.0
 */
export const unsafeMake = (maxConcurrentCreates: number): CoordinatorService => {
  const creates = Effect.unsafeMakeSemaphore(maxConcurrentCreates)
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
    admitCreate: (effect) => creates.withPermits(1)(effect)
  }
}

/**
 * Builds a coordinator admitting `maxConcurrentCreates` creations at once.
 *
 * @since 0.1.0
 */
export const make = (maxConcurrentCreates: number): Effect.Effect<CoordinatorService> =>
  Effect.sync(() => unsafeMake(maxConcurrentCreates))

const processWide = globalValue(Symbol.for("effect-daytona/Coordinator/processWide"), () => ({
  current: undefined as CoordinatorService | undefined
}))

/**
 * The coordinator in context, or else the one shared by the whole process (sized by the first
 * configuration that asks for it).
 *
 * @since 0.1.0
 */
export const current = (maxConcurrentCreates: number): Effect.Effect<CoordinatorService> =>
  Effect.map(Effect.serviceOption(Coordinator), (option) => {
    if (option._tag === "Some") return option.value
    processWide.current ??= unsafeMake(maxConcurrentCreates)
    return processWide.current
  })

/**
 * The coordinator sized from `DaytonaConfig`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Coordinator, never, DaytonaConfig> = Layer.effect(
  Coordinator,
  Effect.flatMap(DaytonaConfig, (config) => make(config.maxConcurrentCreates))
)
