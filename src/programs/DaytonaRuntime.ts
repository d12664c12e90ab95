/**
 * `DaytonaRuntime.acquire(options)`: the scoped runtime handle. It obtains a sandbox (attach or
 * create), brings it to `started`, starts the action execution server, waits until it answers and
 * runs the initial setup; closing the scope closes the sandbox by the close policy — on success,
 * failure and interruption alike.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Duration,
  Effect,
  Exit,
  ExecutionStrategy,
  Fiber,
  Metric,
  Option,
  Redacted,
  Ref,
  Scope,
  Stream
} from "effect"
import * as Retry from "../policies/Retry.js"
import {
  Action,
  ActionServer,
  type ActionServerError,
  type Endpoint,
  type Observation
} from "../services/ActionServer.js"
import { type DaytonaApiError, DaytonaClient } from "../services/DaytonaClient.js"
import { DaytonaConfig } from "../services/DaytonaConfig.js"
import { RuntimeEvent, RuntimeEvents, type RuntimeStatus } from "../services/RuntimeEvents.js"
import * as Coordinator from "./Coordinator.js"
import { ActionFailed, type ConnectError } from "./Errors.js"
import * as Lifecycle from "./Lifecycle.js"
import * as Metrics from "./Metrics.js"
import { resolve, type RuntimeOptions } from "./Options.js"

export type { RuntimeOptions } from "./Options.js"

/**
 * The result of a shell command run through the action server.
 *
 * @since 0.1.0
 */
export interface RunResult {
  readonly exitCode: number
  readonly output: string
}

/**
 * The runtime handle, valid while its scope is open.
 *
 * @since 0.1.0
 */
export interface DaytonaRuntimeHandle {
  readonly sid: string
  readonly sandboxId: string
  /** The action server's base URL (the preview link of the sandbox port). */
  readonly actionServerUrl: string
  /** Whether the sandbox's previews are public (no token needed). */
  readonly public: boolean
  /** The current status. */
  readonly status: Effect.Effect<RuntimeStatus>
  /** This runtime's events from now on. */
  readonly events: Stream.Stream<RuntimeEvent>
  /** Runs a shell command (one action at a time per runtime; HTTP 502 retried by `Retry.actionRequest`). */
  readonly run: (
    command: string,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<RunResult, ActionServerError | ActionFailed>
  /** Sends any action; an error observation is returned as a value. */
  readonly execute: (action: Action) => Effect.Effect<Observation, ActionServerError>
  /** The entries of a folder (the workspace by default). */
  readonly listFiles: (path?: string) => Effect.Effect<ReadonlyArray<string>, ActionServerError>
  /**
   * The VSCode URL (`…/?tkn=<token>&folder=<workspace>`): a signed, expiring preview URL on a private
   * sandbox. `None` when the server has no VSCode token. Cached. The URL holds a token: it is `Redacted`.
   */
  readonly vscodeUrl: Effect.Effect<Option.Option<Redacted.Redacted<string>>, ActionServerError | DaytonaApiError>
  /** The note for the agent on how to show application endpoints (preview link of port 3000). */
  readonly agentInstructions: Effect.Effect<string, DaytonaApiError>
}

/**
 * What `acquire` needs.
 *
 * @since 0.1.0
 */
export type RuntimeRequirements = DaytonaClient | ActionServer | RuntimeEvents | DaytonaConfig

const PREVIEW_PORT_FOR_AGENT = 3000

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
    const config = yield* DaytonaConfig
    const resolved = yield* resolve(options, config)
    const ctx: Lifecycle.Ctx = {
      client: yield* DaytonaClient,
      server: yield* ActionServer,
      events: yield* RuntimeEvents,
      config,
      coordinator: yield* Coordinator.current(config.maxConcurrentCreates),
      options: resolved,
      acquireId: yield* Lifecycle.randomId,
      status: yield* Ref.make<RuntimeStatus>("STARTING_RUNTIME")
    }
    if (resolved.workspaceBase !== undefined) {
      yield* Effect.logWarning("workspaceBase is set, but mounting a host folder is not supported on Daytona: ignored")
    }
    // The runtime's own scope: closed at once when acquiring fails, else with the caller's scope.
    const scope = yield* Scope.fork(yield* Scope.Scope, ExecutionStrategy.sequential)
    // A failed connect closes what it obtained while still holding the SID's lock.
    const connected = connect(ctx, scope).pipe(
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

const connect = (ctx: Lifecycle.Ctx, scope: Scope.CloseableScope) =>
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
        yield* Lifecycle.setStatus(ctx, "STOPPED")
        yield* Lifecycle.emit(ctx, (stamp) =>
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
      Lifecycle.closeSandbox(ctx, obtained.sandbox.id, options.onClose).pipe(
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
    const endpoint = yield* Lifecycle.endpointOf(ctx, settled.sandbox, obtained.sessionApiKey)
    const cmdId = settled.startServer
      ? Option.some(yield* Lifecycle.startServer(ctx, sandboxId))
      : Option.none<string>()
    yield* Lifecycle.setStatus(ctx, "STARTING_RUNTIME", "waiting for the action execution server")
    yield* Lifecycle.waitUntilAlive(ctx, sandboxId, endpoint, cmdId)

    const handle = yield* makeHandle(ctx, settled.sandbox.public, sandboxId, endpoint)
    if (settled.startServer && options.initialCommands.length > 0) {
      yield* Effect.forEach(options.initialCommands, (command) => handle.run(command), { discard: true }).pipe(
        Lifecycle.timed("setup")
      )
    }

    // Keep auto-stop from firing under a long agent turn, for as long as the runtime is held.
    if (Option.getOrElse(settled.sandbox.autoStopInterval, () => ctx.config.autoStopIntervalMinutes) > 0) {
      yield* Effect.forkIn(Lifecycle.keepAlive(ctx, sandboxId), scope)
    }

    yield* Lifecycle.setStatus(ctx, "READY")
    yield* Lifecycle.emit(ctx, (stamp) => RuntimeEvent.Ready({ ...stamp, sandboxId, url: endpoint.url }))
    return handle
  }).pipe(Effect.provideService(Scope.Scope, scope))

const makeHandle = (ctx: Lifecycle.Ctx, isPublic: boolean, sandboxId: string, endpoint: Endpoint) =>
  Effect.gen(function* () {
    const { client, server, options } = ctx
    const oneAtATime = yield* Effect.makeSemaphore(1)
    const retryPolicy = Retry.observe(Retry.actionRequest, Lifecycle.onRetry(ctx, "actionRequest"))

    const request = <A>(name: string, effect: Effect.Effect<A, ActionServerError>) =>
      Effect.gen(function* () {
        const start = yield* Clock.currentTimeMillis
        return yield* effect.pipe(
          Effect.retry(retryPolicy),
          Effect.tapError((error) =>
            Metric.increment(Metric.tagged(Metric.tagged(Metrics.actionErrors, "action", name), "error", error._tag))
          ),
          Effect.ensuring(
            Effect.flatMap(Clock.currentTimeMillis, (end) =>
              Metric.update(Metric.tagged(Metrics.actionDuration, "action", name), end - start)
            )
          )
        )
      }).pipe(oneAtATime.withPermits(1), Effect.withSpan(`DaytonaRuntime.${name}`, { attributes: { sandboxId } }))

    const execute = (action: Action) => request(action._tag.toLowerCase(), server.execute(endpoint, action))

    const run = (command: string, runOptions?: { readonly timeout?: Duration.DurationInput | undefined }) =>
      Effect.flatMap(
        execute(Action.Run({ command, timeout: runOptions?.timeout })),
        (observation): Effect.Effect<RunResult, ActionFailed> =>
          observation._tag === "Run"
            ? Effect.succeed({ exitCode: observation.exitCode, output: observation.content })
            : Effect.fail(new ActionFailed({ action: "run", content: observation.content }))
      )

    const vscodeUrlUncached = Effect.gen(function* () {
      const token = yield* request("vscodeToken", server.vscodeToken(endpoint))
      if (Option.isNone(token)) return Option.none<Redacted.Redacted<string>>()
      const base = isPublic
        ? (yield* client.previewLink(sandboxId, options.vscodePort)).url
        : Redacted.value(
            (yield* client.signedPreviewUrl(sandboxId, options.vscodePort, secondsOf(options.vscodeUrlTtl))).url
          )
      const query = `tkn=${encodeURIComponent(Redacted.value(token.value))}&folder=${encodeURIComponent(options.workspacePath)}`
      return Option.some(Redacted.make(`${base.replace(/\/+$/, "")}/?${query}`))
    })
    // A signed URL expires: refresh it a minute before it does.
    const vscodeUrl = isPublic
      ? yield* Effect.cached(vscodeUrlUncached)
      : yield* Effect.cachedWithTTL(vscodeUrlUncached, minusAMinute(options.vscodeUrlTtl))

    const agentInstructions = yield* Effect.cached(
      Effect.map(
        client.previewLink(sandboxId, PREVIEW_PORT_FOR_AGENT),
        (link) =>
          `When showing endpoints to access applications for any port, e.g. port ${PREVIEW_PORT_FOR_AGENT}, ` +
          `instead of localhost:${PREVIEW_PORT_FOR_AGENT}, use this format: ${link.url}.`
      )
    )

    return {
      sid: options.sid,
      sandboxId,
      actionServerUrl: endpoint.url,
      public: isPublic,
      status: Ref.get(ctx.status),
      events: Stream.filter(ctx.events.stream, (event) => event.sid === options.sid),
      run,
      execute,
      listFiles: (path?: string) => request("listFiles", server.listFiles(endpoint, path)),
      vscodeUrl,
      agentInstructions
    } satisfies DaytonaRuntimeHandle
  })

const secondsOf = (duration: Duration.Duration): number => Math.max(60, Math.floor(Duration.toSeconds(duration)))

const minusAMinute = (duration: Duration.Duration): Duration.Duration =>
  Duration.millis(Math.max(1_000, Duration.toMillis(duration) - 60_000))
