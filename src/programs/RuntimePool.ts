/**
 * A pool of ready runtimes: `size` sandboxes kept created, started, with their action server answering and their shell
 * set up, so that `acquire` hands one out in milliseconds — where Daytona's own warm pools are not enabled, and to skip
 * the action server's boot (tens of seconds on OpenHands' images) that no Daytona pool skips.
 *
 * Each of the `size` slots keeps one runtime: it makes one (`DaytonaRuntime.acquire` under a pool-internal SID
 * `pooled-…`, so creations go through the process's create pacing), offers it on a `Queue`, and once it is taken (or
 * found dead) makes the next; a failed make is tried again (exponential backoff from 1 s, at most 1 min). Effect's
 * `Pool` is not used: it counts the items it hands out against its size and takes them back on release, where this
 * pool hands a runtime over for good (the caller's scope closes it) and refills at once.
 *
 * A hand-out checks the runtime first (`GET /alive` within `checkTimeout`, and its lease not taken over): a dead one is
 * discarded (deleted) and the next taken, never handed out. It then relabels the sandbox with the caller's SID (the
 * lease labels renewed, the others kept), gives the runtime the caller's close policy and lease timing, exports the
 * caller's `envVars` into the shell and runs the caller's `initialCommands`. The handle's `origin.runtimePool` is
 * true. Closing the pool's scope stops the refills and closes every idle runtime (deleted by default); runtimes handed
 * out live on with their callers' scopes.
 *
 * @since 0.2.0
 */
import { Cause, Clock, Context, Data, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Option } from "effect"
import { Queue, Ref, Schedule, Scope } from "effect"
import { type DaytonaApiError, SID_LABEL } from "../services/DaytonaClient.js"
import { DaytonaConfig } from "../services/DaytonaConfig.js"
import { RuntimeEvent } from "../services/RuntimeEvents.js"
import { connectRuntime, type Connected, initialCommand, type RuntimeRequirements } from "./DaytonaRuntime.js"
import type { ActionFailed } from "./Errors.js"
import * as Handle from "./Handle.js"
import type { DaytonaRuntimeHandle, HandleError } from "./Handle.js"
import * as Lease from "./Lease.js"
import * as Lifecycle from "./Lifecycle.js"
import * as Metrics from "./Metrics.js"
import { deriveOnClose, InvalidRuntimeOptions, resolve, type ResolvedOptions, type RuntimeOptions } from "./Options.js"
import * as Setup from "./Setup.js"

/**
 * What a runtime pool keeps ready: the options of every runtime it makes (but the per-caller ones), and its size.
 *
 * @since 0.2.0
 */
export interface RuntimePoolOptions extends Omit<
  RuntimeOptions,
  "sid" | "attachToExisting" | "onClose" | "onLiveLease" | "share" | "shareIdleTime"
> {
  /** How many runtimes to keep ready (idle, or being made). At least 1. */
  readonly size: number
  /** What becomes of an idle runtime when the pool closes (default `delete`). A dead one is always deleted. */
  readonly idleOnClose?: "delete" | "stop" | undefined
  /** How long the liveness check of a hand-out may take (default 2 s). */
  readonly checkTimeout?: Duration.DurationInput | undefined
}

/**
 * What a caller chooses when it takes a runtime from the pool; the rest is the pool's.
 *
 * @since 0.2.0
 */
export interface PoolAcquireOptions extends Pick<
  RuntimeOptions,
  "sid" | "onClose" | "envVars" | "initialCommands" | "keepAliveInterval" | "leaseTimeout" | "vscodeUrlTtl"
> {}

/**
 * The pool was closed: it hands out nothing more.
 *
 * @since 0.2.0
 * @category errors
 */
export class RuntimePoolClosed extends Data.TaggedError("RuntimePoolClosed")<{}> {
  override get message(): string {
    return "The runtime pool is closed: acquire from a pool whose scope is open, or with DaytonaRuntime.acquire"
  }
}

/**
 * How a pool's `acquire` fails: bad options, the relabelling refused by Daytona, the caller's setup failing, or a
 * closed pool. (A runtime that fails its check is replaced, not reported.)
 *
 * @since 0.2.0
 */
export type PoolAcquireError = InvalidRuntimeOptions | DaytonaApiError | HandleError | ActionFailed | RuntimePoolClosed

/**
 * What a pool holds now.
 *
 * @since 0.2.0
 */
export interface PoolStats {
  readonly size: number
  /** Ready runtimes waiting to be handed out. */
  readonly ready: number
  /** Runtimes being made. */
  readonly filling: number
  /** Runtimes handed out whose caller's scope is still open. */
  readonly handedOut: number
  /** Runtimes that failed their check at a hand-out, since the pool opened. */
  readonly discarded: number
  /** Why the last make failed, if one did. */
  readonly lastFailure: Option.Option<string>
}

/**
 * A pool of ready runtimes.
 *
 * @since 0.2.0
 */
export interface RuntimePoolService {
  /**
   * Hands out a ready runtime, labelled with the caller's SID; its scope is the caller's, and closing it closes the
   * sandbox by the caller's `onClose` (derived as for `acquire`: `stop`, or `delete` with `DAYTONA_DELETE_ON_CLOSE`).
   * Waits for one when none is ready (bound it with `Effect.timeout`).
   */
  readonly acquire: (options?: PoolAcquireOptions) => Effect.Effect<DaytonaRuntimeHandle, PoolAcquireError, Scope.Scope>
  readonly stats: Effect.Effect<PoolStats>
}

/**
 * The pool as a service (see {@link layer}).
 *
 * @since 0.2.0
 * @category tags
 */
export class RuntimePool extends Context.Tag("effect-daytona/RuntimePool")<RuntimePool, RuntimePoolService>() {}

class PooledRuntimeDead extends Data.TaggedError("PooledRuntimeDead")<{ readonly reason: string }> {}

interface Item {
  readonly connected: Connected
  /** The item's own scope (the runtime's is inside it). */
  readonly scope: Scope.CloseableScope
  /** Completed when the item leaves the pool (handed out or discarded): its slot makes the next. */
  readonly taken: Deferred.Deferred<void>
}

const refillBackoff = Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("1 minute")))

const randomSuffix = Effect.sync(() => {
  const bytes = new Uint8Array(6)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
})

/**
 * Makes a pool; it lives as long as the scope, and starts filling at once.
 *
 * @since 0.2.0
 */
export const make = (
  options: RuntimePoolOptions
): Effect.Effect<RuntimePoolService, InvalidRuntimeOptions, RuntimeRequirements | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* DaytonaConfig
    const { checkTimeout, idleOnClose, size, ...runtimeOptions } = options
    if (!Number.isInteger(size) || size < 1) {
      return yield* new InvalidRuntimeOptions({ option: "size", detail: "must be a whole number of at least 1" })
    }
    const idlePolicy = idleOnClose ?? "delete"
    if (idlePolicy !== "delete" && idlePolicy !== "stop") {
      return yield* new InvalidRuntimeOptions({ option: "idleOnClose", detail: 'must be "delete" or "stop"' })
    }
    const check = Duration.decode(checkTimeout ?? "2 seconds")
    const base: RuntimeOptions = { ...runtimeOptions, onClose: idlePolicy }
    yield* resolve({ ...base, sid: "pooled-check" }, config)

    const ready = yield* Queue.unbounded<Item>()
    const idle = new Set<Item>()
    const closing = new Set<Fiber.RuntimeFiber<void>>()
    const closed = yield* Deferred.make<void>()
    const counts = { filling: 0, handedOut: 0, discarded: 0, lastFailure: Option.none<string>() }

    /** Closes an item's runtime (a dead or refused one is deleted) in the background; the pool's close awaits it. */
    const close = (item: Item, policy: "delete" | "idle") =>
      Effect.gen(function* () {
        if (policy === "delete") {
          yield* Ref.update(item.connected.identity, (ctx): Lifecycle.Ctx => ({
            ...ctx,
            options: { ...ctx.options, onClose: "delete" }
          }))
        }
        const fiber = yield* Effect.forkDaemon(Scope.close(item.scope, Exit.void))
        closing.add(fiber)
        fiber.addObserver(() => closing.delete(fiber))
      })

    // Registered before the slots are forked, so it runs after they are interrupted: nothing is made any more.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Deferred.succeed(closed, undefined)
        const left = [...idle]
        idle.clear()
        yield* Effect.forEach(left, (item) => close(item, "idle"), { discard: true })
        yield* Effect.forEach([...closing], Fiber.await, { discard: true, concurrency: "unbounded" })
        yield* Queue.shutdown(ready)
      })
    )

    /** Makes one runtime and offers it; an interruption during the make closes what it made. */
    const fillOne = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const sid = `pooled-${yield* randomSuffix}`
        const made = yield* Effect.exit(restore(Scope.extend(connectRuntime({ ...base, sid }), scope)))
        if (Exit.isFailure(made)) {
          yield* Scope.close(scope, made)
          return yield* Effect.failCause(made.cause)
        }
        const item: Item = { connected: made.value, scope, taken: yield* Deferred.make<void>() }
        idle.add(item)
        yield* Queue.offer(ready, item)
        return item
      })
    )

    const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(
        Effect.sync(() => counts.filling++),
        () => effect,
        () => Effect.sync(() => counts.filling--)
      )

    // A slot: make one, wait until it leaves the pool, make the next. A failure (or a defect) is logged and tried again.
    const slot = counted(fillOne).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : Effect.gen(function* () {
              const error = Cause.squash(cause)
              const text = error instanceof Error ? error.message : String(error)
              counts.lastFailure = Option.some(text)
              yield* Effect.logWarning(`a pooled runtime could not be made; trying again: ${text}`)
              return yield* Effect.fail("retry" as const)
            })
      ),
      Effect.retry(refillBackoff),
      Effect.flatMap((item) => Deferred.await(item.taken)),
      Effect.forever
    )
    for (let i = 0; i < size; i++) yield* Effect.forkScoped(slot)

    /** Gives the item's runtime to the caller: checked, relabelled, set up for them. */
    const handOver = (item: Item, resolved: ResolvedOptions, wanted: PoolAcquireOptions) =>
      Effect.gen(function* () {
        const { connected } = item
        const sandboxId = connected.handle.sandboxId
        const before = yield* Ref.get(connected.identity)
        const fenced = yield* Lifecycle.fencedBy(before)
        if (Option.isSome(fenced))
          return yield* new PooledRuntimeDead({ reason: `taken over by ${fenced.value.holder}` })
        yield* before.server.alive(connected.endpoint).pipe(
          Effect.timeoutFail({
            duration: check,
            onTimeout: () => new PooledRuntimeDead({ reason: "no answer in time" })
          }),
          Effect.catchTags({
            ConnectionRefused: (e) => Effect.fail(new PooledRuntimeDead({ reason: e.message })),
            HttpStatusError: (e) => Effect.fail(new PooledRuntimeDead({ reason: e.message })),
            RequestTimeout: (e) => Effect.fail(new PooledRuntimeDead({ reason: e.message })),
            TransportError: (e) => Effect.fail(new PooledRuntimeDead({ reason: e.message })),
            DecodeError: (e) => Effect.fail(new PooledRuntimeDead({ reason: e.message }))
          })
        )
        // The old renewal would write the pool's SID back: end it before the labels change.
        yield* Fiber.interrupt(yield* Ref.get(connected.renewal))
        const ctx: Lifecycle.Ctx = { ...before, options: resolved }
        const hold = yield* Ref.get(before.lease)
        const now = yield* Clock.currentTimeMillis
        yield* before.client.setLabels(sandboxId, {
          ...connected.sandbox.labels,
          [SID_LABEL]: resolved.sid,
          ...Lease.labels(Lease.renewed(hold.holder, hold.generation, now, resolved.leaseTimeout))
        })
        yield* Ref.set(connected.identity, ctx)
        yield* Ref.set(connected.renewal, yield* Effect.forkIn(Lifecycle.keepAlive(ctx, sandboxId), connected.scope))
        const handle = yield* Handle.make(ctx, connected.sandbox.public, sandboxId, connected.endpoint, {
          sandbox: connected.handle.origin.sandbox,
          runtimePool: true
        })
        yield* Setup.setupVariables(wanted.envVars ?? {}, (command) =>
          Effect.flatMap(handle.execute(Setup.setupAction(command)), Handle.toRunResult)
        )
        yield* Effect.forEach(wanted.initialCommands ?? [], (command) => initialCommand(handle, command), {
          discard: true
        })
        yield* Lifecycle.setStatus(ctx, "READY")
        yield* Lifecycle.emit(ctx, (stamp) => RuntimeEvent.Ready({ ...stamp, sandboxId, url: connected.endpoint.url }))
        return handle
      })

    /** Takes the next ready item, or fails once the pool is closed. */
    const next = Effect.raceFirst(
      Effect.map(Queue.take(ready), Option.some),
      Effect.as(Deferred.await(closed), Option.none<Item>())
    ).pipe(Effect.flatMap(Option.match({ onNone: () => Effect.fail(new RuntimePoolClosed()), onSome: Effect.succeed })))

    const acquire = (wanted: PoolAcquireOptions = {}) =>
      Effect.gen(function* () {
        const start = yield* Clock.currentTimeMillis
        const callerScope = yield* Scope.Scope
        const resolved = yield* resolve({ ...base, ...wanted, onClose: deriveOnClose(wanted, config) }, config)
        if (yield* Deferred.isDone(closed)) return yield* new RuntimePoolClosed()
        let handle: Option.Option<DaytonaRuntimeHandle> = Option.none()
        while (Option.isNone(handle)) {
          handle = yield* Effect.uninterruptibleMask((restore) =>
            Effect.gen(function* () {
              const item = yield* restore(next)
              idle.delete(item)
              yield* Deferred.succeed(item.taken, undefined)
              const handed = yield* Effect.exit(restore(handOver(item, resolved, wanted)))
              if (Exit.isSuccess(handed)) {
                counts.handedOut++
                yield* Scope.addFinalizerExit(callerScope, (exit) =>
                  Effect.zipRight(
                    Effect.sync(() => counts.handedOut--),
                    Scope.close(item.scope, exit)
                  )
                )
                yield* Metric.increment(Metric.tagged(Metrics.poolHandOuts, "outcome", "ready"))
                return Option.some(handed.value)
              }
              yield* close(item, "delete")
              const dead = Cause.failureOption(handed.cause).pipe(
                Option.filter((error): error is PooledRuntimeDead => error instanceof PooledRuntimeDead)
              )
              if (Option.isNone(dead)) return yield* Effect.failCause(handed.cause as Cause.Cause<PoolAcquireError>)
              counts.discarded++
              yield* Metric.increment(Metric.tagged(Metrics.poolHandOuts, "outcome", "discarded"))
              yield* Effect.logWarning(
                `pooled runtime ${item.connected.handle.sandboxId} failed its check (${dead.value.reason}): discarded`
              )
              return Option.none<DaytonaRuntimeHandle>()
            })
          )
        }
        const end = yield* Clock.currentTimeMillis
        yield* Metric.update(Metrics.poolAcquireDuration, end - start)
        return handle.value
      }).pipe(Effect.withSpan("DaytonaRuntime.pool.acquire"), Effect.annotateLogs({ module: "RuntimePool" }))

    return {
      acquire,
      stats: Effect.sync(() => ({
        size,
        ready: idle.size,
        filling: counts.filling,
        handedOut: counts.handedOut,
        discarded: counts.discarded,
        lastFailure: counts.lastFailure
      }))
    } satisfies RuntimePoolService
  }).pipe(Effect.annotateLogs({ module: "RuntimePool" }))

/**
 * A pool as a layer: made when the layer is built, closed (its idle runtimes deleted) with it.
 *
 * @since 0.2.0
 */
export const layer = (
  options: RuntimePoolOptions
): Layer.Layer<RuntimePool, InvalidRuntimeOptions, RuntimeRequirements> => Layer.scoped(RuntimePool, make(options))
