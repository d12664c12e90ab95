/**
 * The runtime handle: shell commands (with OpenHands' long-running semantics), any action, the event-stream
 * bridge, files, and the VSCode URL. Every request to the action server goes through one semaphore (one action
 * at a time per runtime, as OpenHands' `action_semaphore`) and `Retry.actionRequest` (HTTP 502).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Metric, Option, Redacted, Ref, Stream } from "effect"
import * as Retry from "../policies/Retry.js"
import type { Action, ActionServerError, Endpoint, Observation, UploadFile } from "../services/ActionServer.js"
import type { DaytonaApiError } from "../services/DaytonaClient.js"
import type { RuntimeEvent, RuntimeStatus } from "../services/RuntimeEvents.js"
import { fromObservation, inputAction, runAction, type RunOptions, type RunResult } from "./Commands.js"
import { ActionFailed, RuntimeFenced } from "./Errors.js"
import * as Lifecycle from "./Lifecycle.js"
import * as Metrics from "./Metrics.js"
import * as PreviewToken from "./PreviewToken.js"

/**
 * An action with the id of its event (OpenHands' `Event.id`), for {@link DaytonaRuntimeHandle.bridge}.
 *
 * @since 0.1.0
 */
export interface ActionEvent {
  readonly id: number
  readonly action: Action
}

/**
 * An observation with the id of the action that caused it (OpenHands' `Observation.cause`).
 *
 * @since 0.1.0
 */
export interface ObservationEvent {
  readonly cause: number
  readonly observation: Observation
}

/**
 * Where a runtime's sandbox came from.
 *
 * @since 0.2.0
 */
export interface RuntimeOrigin {
  /**
   * `warm-pool`: created for this runtime and served by Daytona from one of its warm pools (Daytona answered the create
   * with the sandbox already started, which it does only for a warm-pool claim); `cold`: created, a fresh sandbox;
   * `created`: created, but the client could not see Daytona's answer (see `Sandbox.claimedFromWarmPool`);
   * `attached`: the SID's existing sandbox.
   */
  readonly sandbox: "warm-pool" | "cold" | "created" | "attached"
  /** Handed out ready by a runtime pool (`DaytonaRuntime.pool`): made before the acquire, not for it. */
  readonly runtimePool: boolean
}

/**
 * The origin of a sandbox obtained by create (from what the create's record says) or by attach.
 *
 * @since 0.2.0
 */
export const originOf = (created: boolean, claimedFromWarmPool: boolean | undefined): RuntimeOrigin => ({
  sandbox: !created
    ? "attached"
    : claimedFromWarmPool === undefined
      ? "created"
      : claimedFromWarmPool
        ? "warm-pool"
        : "cold",
  runtimePool: false
})

/**
 * The runtime handle, valid while its scope is open.
 *
 * @since 0.1.0
 */
export interface DaytonaRuntimeHandle {
  readonly sid: string
  readonly sandboxId: string
  /** Where the sandbox came from: a Daytona warm pool, a fresh create, an attach; through a runtime pool or not. */
  readonly origin: RuntimeOrigin
  /** The action server's base URL (the preview link of the sandbox port). */
  readonly actionServerUrl: string
  /** Whether the sandbox's previews are public (no token needed). */
  readonly public: boolean
  /** The current status. */
  readonly status: Effect.Effect<RuntimeStatus>
  /** This runtime's events from now on. */
  readonly events: Stream.Stream<RuntimeEvent>
  /**
   * Runs a shell command in the server's bash session (its folder and variables persist between commands).
   * A command that outlives its timeout is `StillRunning`, not failed; while it runs, the next command is
   * `NotExecuted`. An `error` observation (e.g. several commands in one string) fails with `ActionFailed`.
   */
  readonly run: (command: string, options?: RunOptions) => Effect.Effect<RunResult, HandleError | ActionFailed>
  /** Waits for more output of the running command (an empty input); `NothingRunning` when none runs. */
  readonly readOutput: (
    options?: Pick<RunOptions, "timeout" | "blocking">
  ) => Effect.Effect<RunResult, HandleError | ActionFailed>
  /** Types `input` and Enter into the running command (a special key such as `C-d` without Enter). */
  readonly sendInput: (
    input: string,
    options?: Pick<RunOptions, "timeout" | "blocking">
  ) => Effect.Effect<RunResult, HandleError | ActionFailed>
  /** Sends `C-c` to the running command; `Completed` (exit code 130) once its shell is back. */
  readonly interrupt: (
    options?: Pick<RunOptions, "timeout" | "blocking">
  ) => Effect.Effect<RunResult, HandleError | ActionFailed>
  /** Sends any action; every observation, an error one included, is returned as a value. */
  readonly execute: (action: Action) => Effect.Effect<Observation, HandleError>
  /**
   * The event-stream bridge: runs each action of `actions` in turn (one at a time, through the same semaphore as
   * every other call) and emits its observation with the action's id as `cause`, in order. Interrupting the
   * consumer stops it cleanly: the request in flight is abandoned and no further action is sent. A failed
   * request ends the stream with its error.
   */
  readonly bridge: <E, R>(
    actions: Stream.Stream<ActionEvent, E, R>
  ) => Stream.Stream<ObservationEvent, E | HandleError, R>
  /** The entries of a folder (the server's working folder by default; relative paths start there). */
  readonly listFiles: (path?: string) => Effect.Effect<ReadonlyArray<string>, HandleError>
  /** Copies a file into a folder of the sandbox (an absolute path); a `.zip` is unpacked there. */
  readonly upload: (file: UploadFile) => Effect.Effect<void, HandleError>
  /** A folder of the sandbox (an absolute path) as zip bytes. */
  readonly download: (path: string) => Effect.Effect<Uint8Array, HandleError>
  /**
   * The VSCode URL (`…/?tkn=<token>&folder=<workspace>`): a signed, expiring preview URL on a private
   * sandbox. `None` when the server has no VSCode token. Cached. The URL holds a token: it is `Redacted`.
   */
  readonly vscodeUrl: Effect.Effect<Option.Option<Redacted.Redacted<string>>, HandleError | DaytonaApiError>
  /** The note for the agent on how to show application endpoints (preview link of port 3000). */
  readonly agentInstructions: Effect.Effect<string, DaytonaApiError>
}

const PREVIEW_PORT_FOR_AGENT = 3000

/**
 * How a request through the handle fails: the action server's errors, or `RuntimeFenced` once another holder has
 * taken the sandbox over.
 *
 * @since 0.2.0
 */
export type HandleError = ActionServerError | RuntimeFenced

/**
 * A run's observation as a {@link RunResult}; anything but a `run` observation is an `ActionFailed`.
 *
 * @since 0.1.0
 */
export const toRunResult = (observation: Observation): Effect.Effect<RunResult, ActionFailed> =>
  observation._tag === "Run"
    ? Effect.succeed(fromObservation(observation))
    : Effect.fail(new ActionFailed({ action: "run", content: observation.content }))

/**
 * Makes the handle of a runtime whose action server answers at `endpoint`.
 *
 * @since 0.1.0
 */
export const make = (
  ctx: Lifecycle.Ctx,
  isPublic: boolean,
  sandboxId: string,
  endpoint: Endpoint,
  origin: RuntimeOrigin = { sandbox: "created", runtimePool: false }
) =>
  Effect.gen(function* () {
    const { client, server, options } = ctx
    const oneAtATime = yield* Effect.makeSemaphore(1)
    const retryPolicy = Retry.observe(Retry.actionRequest, Lifecycle.onRetry(ctx, "actionRequest"))

    const current = yield* Ref.make(endpoint)
    const withToken = PreviewToken.refreshing(ctx, isPublic, sandboxId, current)

    const request = <A>(name: string, send: (endpoint: Endpoint) => Effect.Effect<A, ActionServerError>) =>
      Effect.gen(function* () {
        const fenced = yield* Lifecycle.fencedBy(ctx)
        if (Option.isSome(fenced)) {
          return yield* new RuntimeFenced({
            sandboxId,
            holder: fenced.value.holder,
            generation: fenced.value.generation
          })
        }
        const start = yield* Clock.currentTimeMillis
        return yield* withToken((endpoint) => Effect.retry(send(endpoint), retryPolicy)).pipe(
          Effect.tapError((error) =>
            Metric.increment(Metric.tagged(Metric.tagged(Metrics.actionErrors, "action", name), "error", error._tag))
          ),
          Effect.ensuring(
            Effect.flatMap(Clock.currentTimeMillis, (end) => Metric.update(Metrics.actionDurationOf(name), end - start))
          )
        )
      }).pipe(
        oneAtATime.withPermits(1),
        // No stack trace: it would always point here, and capturing one costs every action.
        Effect.withSpan(`DaytonaRuntime.${name}`, { attributes: { sandboxId }, captureStackTrace: false })
      )

    const execute = (action: Action) =>
      request(action._tag.toLowerCase(), (endpoint) => server.execute(endpoint, action))
    const runWith = (action: Action) => Effect.flatMap(execute(action), toRunResult)

    const vscodeUrlUncached = Effect.gen(function* () {
      const token = yield* request("vscodeToken", server.vscodeToken)
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
      origin,
      actionServerUrl: endpoint.url,
      public: isPublic,
      status: Ref.get(ctx.status),
      events: Stream.filter(ctx.events.stream, (event) => event.sid === options.sid),
      run: (command, runOptions) => runWith(runAction(command, runOptions)),
      readOutput: (inputOptions) => runWith(inputAction("", inputOptions)),
      sendInput: (input, inputOptions) => runWith(inputAction(input, inputOptions)),
      interrupt: (inputOptions) => runWith(inputAction("C-c", inputOptions)),
      execute,
      bridge: (actions) =>
        Stream.mapEffect(actions, ({ action, id }) =>
          Effect.map(execute(action), (observation): ObservationEvent => ({ cause: id, observation }))
        ),
      listFiles: (path?: string) => request("listFiles", (endpoint) => server.listFiles(endpoint, path)),
      upload: (file) => request("upload", (endpoint) => server.uploadFile(endpoint, file)),
      download: (path) => request("download", (endpoint) => server.downloadFiles(endpoint, path)),
      vscodeUrl,
      agentInstructions
    } satisfies DaytonaRuntimeHandle
  })

const secondsOf = (duration: Duration.Duration): number => Math.max(60, Math.floor(Duration.toSeconds(duration)))

const minusAMinute = (duration: Duration.Duration): Duration.Duration =>
  Duration.millis(Math.max(1_000, Duration.toMillis(duration) - 60_000))
