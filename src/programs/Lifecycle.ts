/**
 * The lifecycle steps of a runtime as Effect programs: obtain a sandbox (attach or create), bring
 * it to `started` from whatever state it is in, start the action execution server, wait until it
 * answers, and close the sandbox by the close policy.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Metric, Option, Redacted, Ref, Schedule } from "effect"
import { LogSwitchesRef } from "../services/LogSwitches.js"
import * as Retry from "../policies/Retry.js"
import type { ActionServerError, ActionServerService, Endpoint } from "../services/ActionServer.js"
import {
  ACQUIRE_LABEL,
  type AmbiguousSandbox,
  CREATED_AT_LABEL,
  type DaytonaApiError,
  type DaytonaClientService,
  isApiError,
  OWNER_LABEL,
  OWNER_VALUE,
  type Sandbox,
  SID_LABEL
} from "../services/DaytonaClient.js"
import type { DaytonaSettings } from "../services/DaytonaConfig.js"
import {
  type CloseAction,
  describeEvent,
  RuntimeEvent,
  type RuntimeEventsService,
  type RuntimeStatus
} from "../services/RuntimeEvents.js"
import type { CoordinatorService } from "./Coordinator.js"
import { ActionServerNotReady, SandboxUnusable } from "./Errors.js"
import * as Metrics from "./Metrics.js"
import * as Lease from "./Lease.js"
import { type OnClose, type ResolvedOptions, sandboxNameFor, serverEnv, startCommandFor } from "./Options.js"
import * as SessionKey from "./SessionKey.js"

/** The process session the action execution server runs in. */
export const SERVER_SESSION = "action-execution-server"

/**
 * Everything one runtime's steps need, taken once at acquire.
 *
 * @since 0.1.0
 */
export interface Ctx {
  readonly client: DaytonaClientService
  readonly server: ActionServerService
  readonly events: RuntimeEventsService
  readonly config: DaytonaSettings
  readonly coordinator: CoordinatorService
  readonly options: ResolvedOptions
  /** A label value unique to this acquire, so a half-made sandbox can be found and cleaned up. */
  readonly acquireId: string
  readonly status: Ref.Ref<RuntimeStatus>
  /** This runtime's part in the sandbox's lease (set when the sandbox is obtained). */
  readonly lease: Ref.Ref<LeaseHold>
}

/**
 * How a runtime holds its sandbox's lease.
 *
 * @since 0.2.0
 */
export interface LeaseHold {
  readonly holder: string
  readonly generation: number
  /** Shared with the holder found at attach (`onLiveLease: "share"`): renewed under that holder's id. */
  readonly shared: boolean
  /** Set once another holder has taken the sandbox over. */
  readonly fencedBy: Option.Option<Lease.Lease>
}

/**
 * Publishes an event stamped with the clock time; logs it when `LOG_ALL_EVENTS` is on.
 *
 * @since 0.1.0
 */
export const emit = (ctx: Ctx, make: (stamp: { sid: string; at: number }) => RuntimeEvent): Effect.Effect<void> =>
  Effect.gen(function* () {
    const event = make({ sid: ctx.options.sid, at: yield* Clock.currentTimeMillis })
    if (event._tag === "StatusChanged") yield* Ref.set(ctx.status, event.status)
    if ((yield* LogSwitchesRef).allEvents) yield* Effect.log(describeEvent(event))
    yield* ctx.events.publish(event)
  })

/**
 * Publishes a status change.
 *
 * @since 0.1.0
 */
export const setStatus = (ctx: Ctx, status: RuntimeStatus, detail?: string): Effect.Effect<void> =>
  emit(ctx, (stamp) =>
    RuntimeEvent.StatusChanged(detail === undefined ? { ...stamp, status } : { ...stamp, status, detail })
  )

/** Records how long `effect` took under the phase's tag. */
export const timed =
  (phase: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const duration = Metric.tagged(Metrics.phaseDuration, "phase", phase)
    // The phase is the span's name; a stack trace taken here would point at this helper.
    return Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      return yield* Effect.ensuring(
        effect,
        Effect.flatMap(Clock.currentTimeMillis, (end) => Metric.update(duration, end - start))
      )
    }).pipe(Effect.withSpan(`DaytonaRuntime.${phase}`, { captureStackTrace: false }))
  }

/**
 * A sandbox obtained for the runtime.
 *
 * @since 0.1.0
 */
export interface Obtained {
  readonly sandbox: Sandbox
  /** True when this runtime created it (so it starts the action server). */
  readonly created: boolean
  /** The session key the sandbox's action server checks. */
  readonly sessionApiKey: Redacted.Redacted<string>
}

const randomHex = (bytes: number) =>
  Effect.sync(() => {
    const buffer = new Uint8Array(bytes)
    globalThis.crypto.getRandomValues(buffer)
    return Array.from(buffer, (b) => b.toString(16).padStart(2, "0")).join("")
  })

/** A new random value for a per-acquire label or a session key. */
export const randomId = randomHex(16)

/**
 * Creates the sandbox: ownership labels on the request, a SID-derived name when attach-or-create
 * (a concurrent create elsewhere then gets 409 and this runtime attaches to the winner).
 */
const create = (ctx: Ctx): Effect.Effect<Obtained, DaytonaApiError | AmbiguousSandbox | Lease.LeaseHeld> =>
  Effect.gen(function* () {
    const { client, config, options } = ctx
    yield* setStatus(ctx, "BUILDING_RUNTIME")
    const name = options.attachToExisting ? sandboxNameFor(options.sid) : undefined
    const now = yield* Clock.currentTimeMillis
    const { holder } = yield* Ref.get(ctx.lease)
    // No custom env vars: Daytona serves a create from a warm pool only without them. What the sandbox env carried
    // reaches the action server through its start command.
    const sandbox = yield* client.create({
      name,
      language: "python",
      snapshot: options.snapshot,
      envVars: {},
      labels: {
        [SID_LABEL]: options.sid,
        [OWNER_LABEL]: OWNER_VALUE,
        [CREATED_AT_LABEL]: new Date(now).toISOString(),
        [ACQUIRE_LABEL]: ctx.acquireId,
        ...Lease.labels(Lease.renewed(holder, 1, now, options.leaseTimeout))
      },
      public: config.public,
      autoStopInterval: config.autoStopIntervalMinutes
    })
    yield* Ref.update(ctx.lease, (hold) => ({ ...hold, generation: 1, shared: false }))
    const warmPool = sandbox.claimedFromWarmPool
    yield* Metric.increment(
      Metric.tagged(
        Metrics.sandboxCreates,
        "source",
        warmPool === undefined ? "unknown" : warmPool ? "warm-pool" : "cold"
      )
    )
    yield* emit(ctx, (stamp) =>
      RuntimeEvent.SandboxCreated({ ...stamp, sandboxId: sandbox.id, ...(warmPool === undefined ? {} : { warmPool }) })
    )
    return { sandbox, created: true, sessionApiKey: yield* SessionKey.derive(config.apiKey, sandbox.id) }
  }).pipe(
    Effect.catchIf(
      (error): error is DaytonaApiError => ctx.options.attachToExisting && isApiError("Conflict")(error),
      () => attachToWinner(ctx)
    )
  )

/** Another process created the SID's sandbox first: attach to it instead of making a second one. */
const attachToWinner = (ctx: Ctx): Effect.Effect<Obtained, DaytonaApiError | AmbiguousSandbox | Lease.LeaseHeld> =>
  Effect.gen(function* () {
    yield* Effect.logInfo("the SID's sandbox was created concurrently elsewhere; attaching to it")
    const found = yield* ctx.client.findBySid(ctx.options.sid)
    const sandbox = yield* Option.match(found, {
      onNone: () => ctx.client.get(sandboxNameFor(ctx.options.sid)),
      onSome: (sandbox) => ctx.client.get(sandbox.id)
    })
    return yield* attached(ctx, sandbox)
  })

/**
 * Attaches to a found sandbox: takes its lease (a new generation) unless another holder's lease is live, in which
 * case `onLiveLease` decides — fail, share, or take over. The session key is derived (or, for a sandbox created
 * with it in its env, read there).
 */
const attached = (ctx: Ctx, sandbox: Sandbox): Effect.Effect<Obtained, DaytonaApiError | Lease.LeaseHeld> =>
  Effect.gen(function* () {
    const { options } = ctx
    const now = yield* Clock.currentTimeMillis
    const { holder } = yield* Ref.get(ctx.lease)
    const found = Lease.read(sandbox.labels)
    const held = Option.filter(found, (lease) => lease.holder !== holder && Lease.holds(lease, sandbox.state, now))
    if (Option.isSome(held) && options.onLiveLease === "fail") {
      return yield* new Lease.LeaseHeld({
        sandboxId: sandbox.id,
        holder: held.value.holder,
        expires: held.value.expires
      })
    }
    // The lease is written once the sandbox is known usable (`claimLease`): an unusable one is not touched.
    const generation =
      Option.isSome(held) && options.onLiveLease === "share"
        ? held.value.generation
        : Option.match(found, { onNone: () => 1, onSome: (lease) => lease.generation + 1 })
    yield* Ref.update(ctx.lease, (hold) => ({
      ...hold,
      generation,
      shared: Option.isSome(held) && options.onLiveLease === "share"
    }))
    yield* emit(ctx, (stamp) => RuntimeEvent.SandboxAttached({ ...stamp, sandboxId: sandbox.id, state: sandbox.state }))
    const key = sandbox.env["SESSION_API_KEY"]
    return {
      sandbox,
      created: false,
      sessionApiKey: key ?? (yield* SessionKey.derive(ctx.config.apiKey, sandbox.id))
    }
  })

/**
 * Writes the lease an attach took (a new generation, this runtime its holder) into the sandbox's labels; a sharing
 * runtime writes nothing.
 *
 * @since 0.2.0
 */
export const claimLease = (ctx: Ctx, sandbox: Sandbox): Effect.Effect<void, DaytonaApiError> =>
  Effect.gen(function* () {
    const hold = yield* Ref.get(ctx.lease)
    if (hold.shared) return
    const now = yield* Clock.currentTimeMillis
    yield* ctx.client.setLabels(sandbox.id, {
      ...sandbox.labels,
      ...Lease.labels(Lease.renewed(hold.holder, hold.generation, now, ctx.options.leaseTimeout))
    })
  })

/**
 * Looks the SID up when attaching (a failed lookup is an error, never "none"); `None` means create.
 *
 * @since 0.1.0
 */
export const findExisting = (
  ctx: Ctx
): Effect.Effect<Option.Option<Obtained>, DaytonaApiError | AmbiguousSandbox | Lease.LeaseHeld> =>
  ctx.options.attachToExisting
    ? Effect.flatMap(ctx.client.findBySid(ctx.options.sid), (found) =>
        Option.match(found, {
          onNone: () => Effect.succeedNone,
          // The list result carries no env: read the full record once.
          onSome: (item) =>
            Effect.flatMap(ctx.client.get(item.id), (sandbox) => Effect.map(attached(ctx, sandbox), Option.some))
        })
      )
    : Effect.succeedNone

/**
 * Creates a sandbox, admitted through the coordinator. When the create fails (or dies) after Daytona may
 * have allocated the sandbox, whatever carries this acquire's label is cleaned up before the error surfaces.
 *
 * @since 0.1.0
 */
export const createSandbox = (
  ctx: Ctx
): Effect.Effect<Obtained, DaytonaApiError | AmbiguousSandbox | Lease.LeaseHeld> =>
  create(ctx).pipe(
    Effect.onError(() => cleanupOrphans(ctx)),
    timed("obtain")
  )

const orphanPolicy = (policy: OnClose): OnClose => (policy === "keep" ? "stop" : policy)

/** Cleans up the sandboxes a failed create left behind (found by this acquire's label). */
const cleanupOrphans = (ctx: Ctx): Effect.Effect<void> =>
  ctx.client.list({ [ACQUIRE_LABEL]: ctx.acquireId }).pipe(
    Effect.retry(Retry.cleanup),
    Effect.flatMap((found) =>
      Effect.forEach(
        found.filter((sandbox) => sandbox.state !== "destroyed" && sandbox.state !== "destroying"),
        (sandbox) =>
          Effect.flatMap(closeSandbox(ctx, sandbox.id, orphanPolicy(ctx.options.onClose)), (outcome) =>
            Effect.logWarning(`cleaned up sandbox ${sandbox.id} left by a failed create: ${outcome.action}`)
          ),
        { discard: true }
      )
    ),
    Effect.catchAll((error) =>
      Effect.logError(`could not look for sandboxes left by a failed create: ${error.message}`)
    )
  )

type StateKind = "started" | "startable" | "stopping" | "starting" | "busy" | "recoverable" | "unusable"

const kindOf = (sandbox: Sandbox): StateKind => {
  // Daytona answers a stop or a delete at once and carries it out after: until then the sandbox still reads
  // `started`, with the target in `desiredState`.
  if (sandbox.state === "started" && sandbox.desiredState !== undefined && sandbox.desiredState !== "started") {
    return sandbox.desiredState === "destroyed" ? "unusable" : "stopping"
  }
  switch (sandbox.state) {
    case "started":
      return "started"
    case "stopped":
    case "archived":
    case "paused":
      return "startable"
    case "stopping":
    case "archiving":
    case "pausing":
      return "stopping"
    case "starting":
    case "creating":
    case "restoring":
    case "resuming":
    case "pending_build":
    case "building_snapshot":
    case "pulling_snapshot":
      return "starting"
    case "snapshotting":
    case "resizing":
    case "forking":
      return "busy"
    case "error":
      return sandbox.recoverable ? "recoverable" : "unusable"
    default:
      return "unusable"
  }
}

/** At most this many state steps (start, wait, recover …) before giving up on a flapping sandbox. */
const MAX_STEPS = 8

/**
 * Brings the sandbox to `started` from any state. Returns the started record and whether the action
 * server has to be started (it does unless the runtime attached to an already started sandbox).
 * A "state change in progress" answer means: wait, read the state again and go on (bounded).
 *
 * @since 0.1.0
 */
export const settle = (
  ctx: Ctx,
  obtained: Obtained
): Effect.Effect<{ readonly sandbox: Sandbox; readonly startServer: boolean }, DaytonaApiError | SandboxUnusable> => {
  const { client } = ctx
  const id = obtained.sandbox.id
  const step = (
    sandbox: Sandbox,
    startServer: boolean,
    steps: number
  ): Effect.Effect<{ readonly sandbox: Sandbox; readonly startServer: boolean }, DaytonaApiError | SandboxUnusable> => {
    const again = (next: Effect.Effect<Sandbox, DaytonaApiError>) =>
      steps >= MAX_STEPS
        ? Effect.fail(
            new SandboxUnusable({ sandboxId: id, state: sandbox.state, errorReason: "the state kept changing" })
          )
        : Effect.flatMap(next, (s) => step(s, true, steps + 1))
    const started = (effect: Effect.Effect<Sandbox, DaytonaApiError>) =>
      again(Effect.tap(effect, () => emit(ctx, (stamp) => RuntimeEvent.SandboxStarted({ ...stamp, sandboxId: id }))))
    switch (kindOf(sandbox)) {
      case "started":
        return Effect.succeed({ sandbox, startServer })
      case "startable":
        return started(client.start(id))
      case "stopping":
        return again(Effect.zipRight(client.waitUntilStopped(id), client.get(id)))
      case "starting":
        return started(client.waitUntilStarted(id))
      case "busy":
        return again(
          client.get(id).pipe(
            Effect.repeat(
              Schedule.spaced("1 second").pipe(
                Schedule.upTo("120 seconds"),
                Schedule.whileInput((s: Sandbox) => s.state === sandbox.state),
                Schedule.passthrough
              )
            )
          )
        )
      case "recoverable":
        return started(client.recover(id))
      case "unusable":
        return Effect.fail(
          new SandboxUnusable({
            sandboxId: id,
            state: sandbox.state,
            errorReason: Option.getOrUndefined(sandbox.errorReason)
          })
        )
    }
  }
  let first = true
  const attempt = Effect.suspend(() => {
    const current = first ? Effect.succeed(obtained.sandbox) : client.get(id)
    first = false
    return Effect.flatMap(current, (sandbox) => step(sandbox, obtained.created, 0))
  })
  return attempt.pipe(
    Effect.retry(Retry.stateChangeInProgress),
    // Deleted under the runtime's hands (e.g. an ephemeral sandbox, which Daytona deletes when it stops).
    Effect.catchIf(isApiError("NotFound"), () =>
      Effect.fail(new SandboxUnusable({ sandboxId: id, state: "destroyed", errorReason: "it was deleted" }))
    ),
    timed("settle")
  )
}

/**
 * The endpoint of the sandbox's action server: the preview link of the sandbox port, fetched after
 * the sandbox is started (a restart resets the token), with the token for a private sandbox.
 *
 * @since 0.1.0
 */
export const endpointOf = (
  ctx: Ctx,
  sandbox: Sandbox,
  sessionApiKey: Redacted.Redacted<string>
): Effect.Effect<Endpoint, DaytonaApiError> =>
  Effect.map(ctx.client.previewLink(sandbox.id, ctx.options.sandboxPort), (link) => ({
    url: link.url.replace(/\/+$/, ""),
    sessionApiKey,
    previewToken: sandbox.public ? Option.none() : Option.some(link.token)
  }))

/**
 * Starts the action execution server in its process session; returns the command id (for its logs).
 *
 * @since 0.1.0
 */
export const startServer = (
  ctx: Ctx,
  sandboxId: string,
  sessionApiKey: Redacted.Redacted<string>
): Effect.Effect<string, DaytonaApiError> =>
  Effect.gen(function* () {
    yield* emit(ctx, (stamp) => RuntimeEvent.ServerStarting({ ...stamp, sandboxId }))
    yield* ctx.client
      .createSession(sandboxId, SERVER_SESSION)
      .pipe(Effect.catchIf(isApiError("Conflict"), () => Effect.logDebug("the server session exists already")))
    const command = startCommandFor(ctx.options, serverEnv(ctx.options, Redacted.value(sessionApiKey)))
    const result = yield* ctx.client.executeSessionCommand(sandboxId, SERVER_SESSION, command, { runAsync: true })
    return result.cmdId
  }).pipe(timed("server_start"))

/** The last lines the action server printed, or "" when they cannot be read. */
const lastOutput = (ctx: Ctx, sandboxId: string, cmdId: Option.Option<string>): Effect.Effect<string> =>
  Option.match(cmdId, {
    onNone: () => Effect.succeed(""),
    onSome: (cmd) =>
      ctx.client.sessionCommandLogs(sandboxId, SERVER_SESSION, cmd).pipe(
        Effect.map((logs) => logs.output.split("\n").slice(-20).join("\n").trim()),
        Effect.timeout("5 seconds"),
        Effect.orElseSucceed(() => "")
      )
  })

/**
 * Publishes a `Retrying` event and counts the retry under the policy's name.
 *
 * @since 0.1.0
 */
export const onRetry =
  (ctx: Ctx, policy: string) =>
  (info: Retry.RetryInfo<{ readonly message: string }>): Effect.Effect<void> =>
    Effect.zipRight(
      Metric.increment(Metric.tagged(Metrics.retries, "policy", policy)),
      emit(ctx, (stamp) =>
        RuntimeEvent.Retrying({
          ...stamp,
          policy,
          attempt: info.attempt,
          delay: info.delay,
          error: info.error.message
        })
      )
    )

/**
 * Waits until `GET /alive` answers 200 under `Retry.untilAlive`. When it gives up, the error carries
 * the last lines of the server's output.
 *
 * @since 0.1.0
 */
export const waitUntilAlive = (
  ctx: Ctx,
  sandboxId: string,
  endpoint: Endpoint,
  cmdId: Option.Option<string>
): Effect.Effect<void, ActionServerNotReady> =>
  ctx.server.alive(endpoint).pipe(
    Effect.retry(Retry.observe(Retry.untilAlive, onRetry(ctx, "untilAlive"))),
    Effect.catchAll((cause: ActionServerError) =>
      Effect.flatMap(lastOutput(ctx, sandboxId, cmdId), (output) =>
        Effect.fail(new ActionServerNotReady({ sandboxId, url: endpoint.url, lastOutput: output, cause }))
      )
    ),
    timed("wait_alive")
  )

/**
 * One renewal: reads the sandbox; a newer generation (or another holder of an unshared generation) fences the
 * runtime; otherwise the lease is renewed in the labels and, when nothing else did within half an interval, the
 * sandbox's activity refreshed (so auto-stop does not fire under a long agent turn). Returns whether to go on.
 */
const renew = (ctx: Ctx, sandboxId: string): Effect.Effect<boolean, DaytonaApiError> =>
  Effect.gen(function* () {
    const { client, options } = ctx
    const sandbox = yield* client.get(sandboxId)
    const hold = yield* Ref.get(ctx.lease)
    const current = Lease.read(sandbox.labels)
    if (Lease.standing(current, hold) === "superseded" && Option.isSome(current)) {
      yield* Ref.set(ctx.lease, { ...hold, fencedBy: current })
      yield* Effect.logWarning(
        `sandbox ${sandboxId} was taken over by ${current.value.holder} (lease generation ` +
          `${current.value.generation}); this runtime stops acting on it`
      )
      yield* emit(ctx, (stamp) =>
        RuntimeEvent.Fenced({
          ...stamp,
          sandboxId,
          holder: current.value.holder,
          generation: current.value.generation
        })
      )
      return false
    }
    if (!Lease.isActiveState(sandbox.state)) return true
    const now = yield* Clock.currentTimeMillis
    const holder = hold.shared
      ? Option.match(current, { onNone: () => hold.holder, onSome: (l) => l.holder })
      : hold.holder
    // The labels are written only when the lease would otherwise run short before the tick after next: with the
    // default timeout of three intervals, every other tick. The read above is what fencing needs on every tick.
    const interval = Duration.toMillis(options.keepAliveInterval)
    const lasting = Option.match(current, { onNone: () => 0, onSome: (lease) => lease.expires.getTime() - now })
    if (lasting <= interval * 1.5) {
      yield* client.setLabels(sandboxId, {
        ...sandbox.labels,
        ...Lease.labels(Lease.renewed(holder, hold.generation, now, options.leaseTimeout))
      })
    }
    const autoStops = Option.getOrElse(sandbox.autoStopInterval, () => ctx.config.autoStopIntervalMinutes) > 0
    const quietFor = Option.match(sandbox.lastActivityAt, {
      onNone: () => Infinity,
      onSome: (at) => now - at.getTime()
    })
    if (autoStops && quietFor > Duration.toMillis(options.keepAliveInterval) / 2) {
      yield* client.refreshActivity(sandboxId)
    }
    return true
  })

/**
 * Renews the runtime's lease every `keepAliveInterval` for as long as it is held (the runtime's scope ends it), and
 * keeps auto-stop from firing under a long agent turn. A failed renewal is logged and tried again at the next tick;
 * once the runtime is fenced, it stops.
 *
 * @since 0.1.0
 */
export const keepAlive = (ctx: Ctx, sandboxId: string): Effect.Effect<void> =>
  renew(ctx, sandboxId).pipe(
    Effect.catchAll((error) =>
      Effect.as(Effect.logWarning(`could not renew the lease of sandbox ${sandboxId}: ${error.message}`), true)
    ),
    Effect.delay(ctx.options.keepAliveInterval),
    Effect.repeat({ while: (goOn) => goOn }),
    Effect.asVoid
  )

/**
 * The runtime's sandbox was taken over by another holder (see {@link keepAlive}).
 *
 * @since 0.2.0
 */
export const fencedBy = (ctx: Ctx): Effect.Effect<Option.Option<Lease.Lease>> =>
  Effect.map(Ref.get(ctx.lease), (hold) => hold.fencedBy)

/**
 * Gives the lease up when the runtime closes without stopping or deleting its sandbox (the `keep` policy), so
 * another process may attach at once; a fenced or sharing runtime leaves the lease to its holder.
 *
 * @since 0.2.0
 */
export const releaseLease = (ctx: Ctx, sandboxId: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    const hold = yield* Ref.get(ctx.lease)
    if (hold.shared || Option.isSome(hold.fencedBy) || hold.generation === 0) return
    const sandbox = yield* ctx.client.get(sandboxId)
    if (Lease.standing(Lease.read(sandbox.labels), hold) !== "held") return
    const now = yield* Clock.currentTimeMillis
    yield* ctx.client.setLabels(sandboxId, {
      ...sandbox.labels,
      ...Lease.labels({
        holder: hold.holder,
        generation: hold.generation,
        heartbeat: new Date(now),
        expires: new Date(now)
      })
    })
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning(`could not release the lease of sandbox ${sandboxId}: ${error.message}`)
    )
  )

/**
 * What close did.
 *
 * @since 0.1.0
 */
export interface CloseOutcome {
  readonly action: CloseAction
  readonly error?: string
}

/** Whether Daytona is deleting the sandbox (or has). */
const beingDeleted = (sandbox: Sandbox): boolean =>
  sandbox.state === "destroying" || sandbox.state === "destroyed" || sandbox.desiredState === "destroyed"

/** Whether a state change is under way: Daytona refuses (409) a stop or a delete until it is over. */
const inTransition = (sandbox: Sandbox): boolean => {
  if (sandbox.state === "error" || sandbox.state === "build_failed") return false
  if (sandbox.desiredState !== undefined && sandbox.desiredState !== sandbox.state) return true
  const kind = kindOf(sandbox)
  return kind === "starting" || kind === "stopping" || kind === "busy"
}

/** How long a close waits for a state change under way before it asks again. */
const TRANSITION_WAIT = Duration.seconds(60)

/** Reads the sandbox every second while a state change is under way (at most {@link TRANSITION_WAIT}). */
const awaitTransition = (ctx: Ctx, sandbox: Sandbox): Effect.Effect<Sandbox, DaytonaApiError> =>
  inTransition(sandbox)
    ? ctx.client
        .get(sandbox.id)
        .pipe(
          Effect.repeat(
            Schedule.spaced("1 second").pipe(
              Schedule.upTo(TRANSITION_WAIT),
              Schedule.whileInput(inTransition),
              Schedule.passthrough
            )
          )
        )
    : Effect.succeed(sandbox)

/**
 * Deletes the sandbox. Daytona refuses (409) a delete while a state change is under way — a start, a stop, or a
 * delete already asked for (a second delete, or one whose answer was lost): a sandbox Daytona is deleting counts as
 * deleted; otherwise the change is waited out and the delete asked again.
 */
const deleteSandbox = (ctx: Ctx, sandboxId: string): Effect.Effect<CloseOutcome, DaytonaApiError> =>
  ctx.client.delete(sandboxId).pipe(
    Effect.as<CloseOutcome>({ action: "deleted" }),
    Effect.catchIf(isApiError("StateChangeInProgress"), (refused) =>
      Effect.flatMap(ctx.client.get(sandboxId), (sandbox) =>
        beingDeleted(sandbox)
          ? Effect.succeed<CloseOutcome>({ action: "deleted" })
          : Effect.zipRight(awaitTransition(ctx, sandbox), Effect.fail(refused))
      )
    ),
    Effect.retry(Retry.cleanup)
  )

/**
 * Stops the sandbox directly (the runtime last saw it started). Daytona refuses to stop one that is stopped (400 "not
 * in a stoppable state"), errored (400 "in an errored state") or changing state (409); only then is the state read:
 * stopped, archived or errored is already not running, a stop or a delete under way is waited out, a start under way
 * is waited out and the stop asked again. (Daytona deletes an ephemeral sandbox instead of stopping it; the SDK's
 * stop then ends on `destroyed`.)
 */
const stopSandbox = (ctx: Ctx, sandboxId: string): Effect.Effect<CloseOutcome, DaytonaApiError> =>
  ctx.client.stop(sandboxId).pipe(
    Effect.as<CloseOutcome>({ action: "stopped" }),
    Effect.catchIf(isApiError("Invalid", "SandboxFailed", "StateChangeInProgress"), (refused) =>
      Effect.flatMap(ctx.client.get(sandboxId), (sandbox): Effect.Effect<CloseOutcome, DaytonaApiError> => {
        if (beingDeleted(sandbox)) return Effect.succeed({ action: "already-gone" })
        if (sandbox.state === "error" || sandbox.state === "build_failed") {
          return Effect.as(
            Effect.logWarning(
              `sandbox ${sandboxId} is in ${sandbox.state}` +
                `${Option.match(sandbox.errorReason, { onNone: () => "", onSome: (reason) => ` (${reason})` })}; ` +
                "it is not running, so it is left as it is"
            ),
            { action: "already-stopped" }
          )
        }
        if (notRunning.includes(sandbox.state) && notRunning.includes(sandbox.desiredState ?? sandbox.state)) {
          return Effect.succeed({ action: "already-stopped" })
        }
        if (sandbox.state === "stopping" || (sandbox.state === "started" && sandbox.desiredState === "stopped")) {
          return Effect.as(ctx.client.waitUntilStopped(sandboxId), { action: "stopped" })
        }
        return Effect.zipRight(awaitTransition(ctx, sandbox), Effect.fail(refused))
      })
    ),
    Effect.retry(Retry.cleanup)
  )

/**
 * Closes one sandbox by a policy: `keep` leaves it; `delete` deletes it; `stop` stops it when it is
 * running (or on its way to running). 404 means already gone. What Daytona answers during a state change
 * (409) is waited out; passing failures are retried (bounded); a final failure is logged at error level and
 * reported, never swallowed.
 *
 * @since 0.1.0
 */
export const closeSandbox = (ctx: Ctx, sandboxId: string, policy: OnClose): Effect.Effect<CloseOutcome> => {
  const gone = (error: DaytonaApiError) =>
    error.reason === "NotFound" ? Effect.succeed<CloseOutcome>({ action: "already-gone" }) : Effect.fail(error)
  const work: Effect.Effect<CloseOutcome, DaytonaApiError> =
    policy === "keep"
      ? Effect.succeed({ action: "kept" })
      : policy === "delete"
        ? deleteSandbox(ctx, sandboxId)
        : stopSandbox(ctx, sandboxId)
  return Effect.gen(function* () {
    yield* emit(ctx, (stamp) => RuntimeEvent.Closing({ ...stamp, sandboxId, action: planned(policy) }))
    return yield* work.pipe(
      Effect.catchAll(gone),
      Effect.catchAll((error) =>
        Effect.gen(function* () {
          yield* Metric.increment(Metrics.cleanupFailures)
          yield* Effect.logError(`could not ${policy} sandbox ${sandboxId}; it may still be running: ${error.message}`)
          return { action: "failed", error: error.message } satisfies CloseOutcome
        })
      )
    )
  }).pipe(timed("close"))
}

/** States in which the `stop` policy has nothing to do. */
const notRunning: ReadonlyArray<string> = ["stopped", "archived", "archiving"]

const planned = (policy: OnClose): CloseAction =>
  policy === "keep" ? "kept" : policy === "delete" ? "deleted" : "stopped"

/** The longest a close may take before it is abandoned (and reported as failed). */
export const CLOSE_TIMEOUT = Duration.minutes(3)
