/**
 * Runtimes shared per SID within one process: a reference-counted map (Effect's `RcMap`) of SID → runtime. The first
 * acquire of a SID makes the runtime; an acquire of the same SID while it is held gets the same handle (the same
 * sandbox; its actions still go one at a time, through the handle's semaphore) instead of a second runtime that would
 * attach to the sandbox and fence the first. The runtime is closed by its close policy when its last user's scope
 * closes — after `shareIdleTime`, if set, so a user coming back soon finds it ready.
 *
 * Sharing needs the same options: a user asking for the SID with other options (another snapshot, close policy, …)
 * fails with `SharedRuntimeConflict`, rather than getting a runtime it did not ask for. A make that fails is not kept:
 * the next acquire tries again.
 *
 * @since 0.2.0
 */
import { Context, Duration, Effect, Equal, ExecutionStrategy, Exit, Fiber, Hash, Option, RcMap, Scope } from "effect"
import type { DaytonaRuntimeHandle } from "./Handle.js"
import { type ConnectError, SharedRuntimeConflict } from "./Errors.js"
import type { ResolvedOptions, RuntimeOptions } from "./Options.js"

/**
 * The shared runtimes of a process.
 *
 * @since 0.2.0
 */
export interface SharedRuntimesService {
  /** The SID's shared runtime, made with `options` when no one holds it; held until the scope closes. */
  readonly get: (
    options: RuntimeOptions,
    resolved: ResolvedOptions
  ) => Effect.Effect<DaytonaRuntimeHandle, ConnectError, Scope.Scope>
}

/**
 * The shared runtimes service (provided by `DaytonaRuntime.layer`).
 *
 * @since 0.2.0
 * @category tags
 */
export class SharedRuntimes extends Context.Tag("effect-daytona/SharedRuntimes")<
  SharedRuntimes,
  SharedRuntimesService
>() {}

/** A key of the map: equal by SID alone, carrying the options the runtime is made with. */
class SharedKey implements Equal.Equal {
  constructor(
    readonly sid: string,
    readonly options: RuntimeOptions,
    readonly resolved: ResolvedOptions
  ) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof SharedKey && that.sid === this.sid
  }
  [Hash.symbol](): number {
    return Hash.string(this.sid)
  }
}

/** An option's value in a comparable form. */
const comparable = (value: unknown): string =>
  Duration.isDuration(value)
    ? `duration:${Duration.toMillis(value)}`
    : value !== null && typeof value === "object" && !Array.isArray(value)
      ? JSON.stringify(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)))
      : JSON.stringify(value)

/**
 * The first option in which two sets of resolved options differ, if any.
 *
 * @since 0.2.0
 */
export const differingOption = (a: ResolvedOptions, b: ResolvedOptions): Option.Option<string> =>
  Option.fromNullable(
    (Object.keys(a) as Array<keyof ResolvedOptions>).find((key) => comparable(a[key]) !== comparable(b[key]))
  )

/**
 * Makes the map; `connect` makes a runtime (the unshared acquire). Every runtime still held is closed with the scope.
 *
 * @since 0.2.0
 */
export const make = <R>(
  connect: (options: RuntimeOptions) => Effect.Effect<DaytonaRuntimeHandle, ConnectError, R | Scope.Scope>
): Effect.Effect<SharedRuntimesService, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const map = yield* RcMap.make({
      lookup: (key: SharedKey) =>
        Effect.gen(function* () {
          // The runtime gets a scope of its own, closed by the entry's finalizer only after the make is interrupted
          // (when the last user leaves during it): the make's failure path, then the runtime's close, in that order.
          const own = yield* Scope.make()
          const making = yield* Effect.forkDaemon(Scope.extend(connect(key.options), own))
          yield* Effect.addFinalizer((exit) => Effect.zipRight(Fiber.interrupt(making), Scope.close(own, exit)))
          return { handle: yield* Fiber.join(making), resolved: key.resolved }
        }),
      idleTimeToLive: (key: SharedKey) => key.resolved.shareIdleTime
    })
    return {
      get: (options, resolved) =>
        Effect.gen(function* () {
          const key = new SharedKey(resolved.sid, options, resolved)
          // The reference is taken in a scope of its own, so a conflicting caller lets it go at once.
          const reference = yield* Scope.fork(yield* Scope.Scope, ExecutionStrategy.sequential)
          const entry = yield* Effect.exit(Scope.extend(RcMap.get(map, key), reference))
          if (Exit.isFailure(entry)) {
            // A failed make is not kept for the next acquire.
            yield* RcMap.invalidate(map, key)
            yield* Scope.close(reference, entry)
            return yield* Effect.failCause(entry.cause)
          }
          const differs = differingOption(entry.value.resolved, resolved)
          if (Option.isSome(differs)) {
            yield* Scope.close(reference, Exit.void)
            return yield* new SharedRuntimeConflict({ sid: resolved.sid, option: differs.value })
          }
          return entry.value.handle
        }).pipe(Effect.withSpan("DaytonaRuntime.shared", { attributes: { sid: resolved.sid } }))
    } satisfies SharedRuntimesService
  })
