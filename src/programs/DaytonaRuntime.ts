/**
 * `DaytonaRuntime.acquire(options)`: the scoped runtime handle. It obtains a sandbox (attach or
 * create), brings it to `started`, starts the action execution server, waits until it answers and
 * runs the initial setup; closing the scope closes the sandbox by the close policy — on success,
 * failure and interruption alike.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, ExecutionStrategy, Fiber, Layer, Metric, Option, Ref, Scope } from "effect"
import { ActionServer, type Endpoint } from "../services/ActionServer.js"
import { DaytonaClient, type Sandbox } from "../services/DaytonaClient.js"
import { DaytonaConfig } from "../services/DaytonaConfig.js"
import { RuntimeEvent, RuntimeEvents, type RuntimeStatus } from "../services/RuntimeEvents.js"
import * as Coordinator from "./Coordinator.js"
import { ActionFailed, type ConnectError } from "./Errors.js"
import * as Handle from "./Handle.js"
import type { DaytonaRuntimeHandle, HandleError } from "./Handle.js"
import * as Lifecycle from "./Lifecycle.js"
import * as Metrics from "./Metrics.js"
import { resolve, type RuntimeOptions } from "./Options.js"
import * as Setup from "./Setup.js"
import * as Shared from "./SharedRuntimes.js"
import { SharedRuntimes } from "./SharedRuntimes.js"

export type { RuntimeOptions, ServerLauncher } from "./Options.js"
export { RunResult, type RunOptions, type RunResultCommon } from "./Commands.js"
export type { ActionEvent, DaytonaRuntimeHandle, ObservationEvent, RuntimeOrigin } from "./Handle.js"

/**
 * What `acquire` needs.
 *
 * @since 0.1.0
 */
export type RuntimeRequirements = DaytonaClient | ActionServer | RuntimeEvents | DaytonaConfig

/**
 * Acquires a runtime. The sandbox is released when the scope closes: by `onClose` (derived: `keep`
 * when attaching, `delete` with `DAYTONA_DELETE_ON_CLOSE`, else `stop`). If acquiring fails or is
 * interrupted after a sandbox was obtained, it is closed before the error surfaces.
 *
 * @since 0.1.0
 */
export const acquire = (
  options: RuntimeOptions = {}
): Effect.Effect<DaytonaRuntimeHandle, ConnectError, RuntimeRequirements | Scope.Scope> =>
  Effect.gen(function* () {
    const shared = yield* Effect.serviceOption(SharedRuntimes)
    if (Option.isSome(shared)) {
      const resolved = yield* resolve(options, yield* DaytonaConfig)
      if (resolved.share) return yield* shared.value.get(options, resolved)
    }
    return (yield* connectRuntime(options)).handle
  })

/**
 * The shared runtimes of the layer: acquires of one SID with `share` (the default when attaching) get one runtime.
 *
 * @since 0.2.0
 */
export const layerShared: Layer.Layer<SharedRuntimes, never, RuntimeRequirements> = Layer.scoped(
  SharedRuntimes,
  Shared.make((options: RuntimeOptions) => Effect.map(connectRuntime(options), (connected) => connected.handle))
)

/**
 * A runtime as `acquire` makes it: its handle, and what a runtime pool needs to hand it over to another owner later
 * (another SID, another close policy).
 *
 * @since 0.2.0
 */
export interface Connected {
  readonly handle: DaytonaRuntimeHandle
  /** The runtime's current context: its close, its last event and its lease renewals act under it. */
  readonly identity: Ref.Ref<Lifecycle.Ctx>
  /** The runtime's own scope: closing it closes the sandbox by the policy of `identity`. */
  readonly scope: Scope.CloseableScope
  /** The fiber renewing the lease (replaced when the runtime changes hands). */
  readonly renewal: Ref.Ref<Fiber.RuntimeFiber<void>>
  /** The sandbox once started (its labels and visibility). */
  readonly sandbox: Sandbox
  readonly endpoint: Endpoint
}

/**
 * `acquire`, keeping what a runtime pool needs (see {@link Connected}).
 *
 * @since 0.2.0
 */
export const connectRuntime = (
  options: RuntimeOptions = {}
): Effect.Effect<Connected, ConnectError, RuntimeRequirements | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* DaytonaConfig
    const resolved = yield* resolve(options, config)
    const ctx: Lifecycle.Ctx = {
      client: yield* DaytonaClient,
      server: yield* ActionServer,
      events: yield* RuntimeEvents,
      config,
      coordinator: yield* Coordinator.current(config.maxConcurrentCreates, config.createsPerMinute),
      options: resolved,
      acquireId: yield* Lifecycle.randomId,
      status: yield* Ref.make<RuntimeStatus>("STARTING_RUNTIME"),
      lease: yield* Ref.make<Lifecycle.LeaseHold>({
        holder: resolved.holder,
        generation: 0,
        shared: false,
        fencedBy: Option.none()
      })
    }
    if (resolved.workspaceBase !== undefined) {
      yield* Effect.logWarning("workspaceBase is set, but mounting a host folder is not supported on Daytona: ignored")
    }
    // The runtime's own scope: closed at once when acquiring fails, else with the caller's scope.
    const scope = yield* Scope.fork(yield* Scope.Scope, ExecutionStrategy.sequential)
    const identity = yield* Ref.make(ctx)
    // A failed connect closes what it obtained while still holding the SID's lock.
    const connected = connect(ctx, identity, scope).pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit)
          ? Metric.increment(Metric.tagged(Metrics.connects, "outcome", "ready"))
          : Effect.gen(function* () {
              const interrupted = Cause.isInterruptedOnly(exit.cause)
              yield* Metric.increment(
                Metric.tagged(Metrics.connects, "outcome", interrupted ? "interrupted" : "failed")
              )
              yield* Lifecycle.setStatus(ctx, "ERROR", interrupted ? "interrupted" : errorText(exit.cause))
              yield* Scope.close(scope, exit)
            })
      )
    )
    return yield* ctx.coordinator.withSidLock(resolved.sid, connected).pipe(Lifecycle.timed("connect"))
  }).pipe(Effect.withSpan("DaytonaRuntime.acquire"), Effect.annotateLogs({ module: "DaytonaRuntime" }))

const errorText = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => "unexpected failure",
    onSome: (error) => (error instanceof Error ? error.message : String(error))
  })

const connect = (
  ctx: Lifecycle.Ctx,
  identity: Ref.Ref<Lifecycle.Ctx>,
  scope: Scope.CloseableScope
): Effect.Effect<Connected, ConnectError> =>
  Effect.gen(function* () {
    const { options } = ctx
    yield* Effect.annotateLogsScoped({ sid: options.sid })
    yield* Lifecycle.setStatus(ctx, "STARTING_RUNTIME")

    // The last event of the runtime, whatever happens: registered first, so it runs last.
    const outcome = yield* Ref.make<{ sandboxId?: string; action: Lifecycle.CloseOutcome }>({
      action: { action: "none" }
    })
    yield* Scope.addFinalizer(
      scope,
      Effect.gen(function* () {
        const last = yield* Ref.get(outcome)
        const current = yield* Ref.get(identity)
        yield* Lifecycle.setStatus(current, "STOPPED")
        yield* Lifecycle.emit(current, (stamp) =>
          RuntimeEvent.Closed({
            ...stamp,
            ...(last.sandboxId === undefined ? {} : { sandboxId: last.sandboxId }),
            ...last.action
          })
        )
      })
    )

    // Acquire the sandbox with its release registered at once: creation is uninterruptible, so an
    // interruption during it waits for the sandbox to exist and then closes it.
    // The close runs in a fiber of its own, awaited without interruption: an interruption that arrives
    // while it runs (Ctrl-C during the close) would otherwise reach its interruptible, time-boxed work
    // and abort it, leaving the sandbox running. Only the time box ends it early.
    const release = (obtained: Lifecycle.Obtained) =>
      Effect.flatMap(Ref.get(identity), (current) => closeHeld(current, obtained.sandbox.id)).pipe(
        Effect.timeoutTo({
          duration: Lifecycle.CLOSE_TIMEOUT,
          onSuccess: (closed) => closed,
          onTimeout: (): Lifecycle.CloseOutcome => ({ action: "failed", error: "close timed out" })
        }),
        Effect.interruptible,
        Effect.forkDaemon,
        Effect.flatMap(Fiber.join),
        Effect.flatMap((closed) => Ref.set(outcome, { sandboxId: obtained.sandbox.id, action: closed }))
      )
    const existing = yield* Lifecycle.findExisting(ctx)
    const obtained = yield* Option.match(existing, {
      onSome: (found) => Effect.acquireRelease(Effect.succeed(found), release),
      onNone: () => ctx.coordinator.admitCreate(Effect.acquireRelease(Lifecycle.createSandbox(ctx), release))
    }).pipe(Scope.extend(scope))
    const sandboxId = obtained.sandbox.id

    const settled = yield* Lifecycle.settle(ctx, obtained)
    if (!obtained.created) yield* Lifecycle.claimLease(ctx, settled.sandbox)
    const endpoint = yield* Lifecycle.endpointOf(ctx, settled.sandbox, obtained.sessionApiKey)
    const cmdId = settled.startServer
      ? Option.some(yield* Lifecycle.startServer(ctx, sandboxId, obtained.sessionApiKey))
      : Option.none<string>()
    yield* Lifecycle.setStatus(ctx, "STARTING_RUNTIME", "waiting for the action execution server")
    yield* Lifecycle.waitUntilAlive(ctx, sandboxId, endpoint, cmdId)

    const origin = Handle.originOf(obtained.created, obtained.sandbox.claimedFromWarmPool)
    const handle = yield* Handle.make(ctx, settled.sandbox.public, sandboxId, endpoint, origin)
    if (settled.startServer) {
      // The server is fresh: set its shell up as OpenHands' runtime does, then the caller's commands.
      yield* Effect.gen(function* () {
        yield* Setup.setupShell(options, (command) =>
          Effect.flatMap(handle.execute(Setup.setupAction(command)), Handle.toRunResult)
        )
        yield* Effect.forEach(options.initialCommands, (command) => initialCommand(handle, command), {
          discard: true
        })
      }).pipe(Lifecycle.timed("setup"))
    }

    // Renew the lease (and keep auto-stop from firing under a long agent turn) for as long as the runtime is held.
    const renewal = yield* Ref.make(yield* Effect.forkIn(Lifecycle.keepAlive(ctx, sandboxId), scope))

    yield* Lifecycle.setStatus(ctx, "READY")
    yield* Lifecycle.emit(ctx, (stamp) => RuntimeEvent.Ready({ ...stamp, sandboxId, url: endpoint.url }))
    return { handle, identity, scope, renewal, sandbox: settled.sandbox, endpoint } satisfies Connected
  }).pipe(Effect.provideService(Scope.Scope, scope))

/**
 * Closes the sandbox by the close policy — unless another holder took it over (it is theirs now); `keep` gives the
 * lease up, so another process may attach at once.
 */
const closeHeld = (ctx: Lifecycle.Ctx, sandboxId: string): Effect.Effect<Lifecycle.CloseOutcome> =>
  Effect.flatMap(Lifecycle.fencedBy(ctx), (fenced) =>
    Option.isSome(fenced)
      ? Effect.succeed<Lifecycle.CloseOutcome>({
          action: "fenced",
          error: `taken over by ${fenced.value.holder} (lease generation ${fenced.value.generation})`
        })
      : Effect.tap(Lifecycle.closeSandbox(ctx, sandboxId, ctx.options.onClose), (outcome) =>
          outcome.action === "kept" ? Lifecycle.releaseLease(ctx, sandboxId) : Effect.void
        )
  )

/**
 * Runs an initial command through the handle; it must complete: one still running would leave every later command
 * not executed.
 *
 * @since 0.2.0
 */
export const initialCommand = (
  handle: DaytonaRuntimeHandle,
  command: string
): Effect.Effect<void, HandleError | ActionFailed> =>
  Effect.flatMap(handle.run(command), (result) =>
    result._tag === "Completed"
      ? Effect.void
      : Effect.fail(
          new ActionFailed({
            action: "run",
            content:
              `the initial command ${JSON.stringify(command)} did not complete (${result.reason}); ` +
              "start long-running programs in the background (nohup … &)"
          })
        )
  )
