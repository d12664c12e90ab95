/**
 * Lifecycle events and status changes of runtimes, as a stream (the `status_callback` and event
 * stream of OpenHands' runtime).
 *
 * @since 0.1.0
 */
import { Context, Data, Duration } from "effect"
import type { Effect, Scope, Stream } from "effect"

/**
 * The runtime status, as OpenHands names it.
 *
 * @since 0.1.0
 */
export type RuntimeStatus = "STARTING_RUNTIME" | "BUILDING_RUNTIME" | "READY" | "STOPPED" | "ERROR"

/**
 * What close did with the sandbox.
 *
 * @since 0.1.0
 */
export type CloseAction =
  /** The sandbox was stopped. */
  | "stopped"
  /** The sandbox was deleted. */
  | "deleted"
  /** The sandbox was left as it is (the `keep` policy). */
  | "kept"
  /** The `stop` policy found the sandbox not running. */
  | "already-stopped"
  /** The sandbox was gone already (404). */
  | "already-gone"
  /** No sandbox was obtained, so there was nothing to close. */
  | "none"
  /** Stopping or deleting failed after retries (see `error`); the sandbox may still run. */
  | "failed"
  /** Another holder took the sandbox over (a newer lease generation): it was left to that holder. */
  | "fenced"

/**
 * A lifecycle event. Every event names the runtime's `sid`; `at` is the clock time in epoch millis.
 *
 * @since 0.1.0
 */
export type RuntimeEvent = Data.TaggedEnum<{
  StatusChanged: { readonly sid: string; readonly at: number; readonly status: RuntimeStatus; readonly detail?: string }
  /**
   * `warmPool`: whether Daytona served the create from one of its warm pools — `true` when it answered the create with
   * the sandbox already started (which it does only for a warm-pool claim), `false` when it made a fresh sandbox,
   * absent when the client could not tell (see `Sandbox.claimedFromWarmPool`).
   */
  SandboxCreated: { readonly sid: string; readonly at: number; readonly sandboxId: string; readonly warmPool?: boolean }
  SandboxAttached: { readonly sid: string; readonly at: number; readonly sandboxId: string; readonly state: string }
  SandboxStarted: { readonly sid: string; readonly at: number; readonly sandboxId: string }
  ServerStarting: { readonly sid: string; readonly at: number; readonly sandboxId: string }
  Retrying: {
    readonly sid: string
    readonly at: number
    readonly policy: string
    readonly attempt: number
    readonly delay: Duration.Duration
    readonly error: string
  }
  Ready: { readonly sid: string; readonly at: number; readonly sandboxId: string; readonly url: string }
  /**
   * Another holder took the sandbox over (its lease generation is newer, or another holder renews this one): the
   * runtime stops acting on the sandbox — its actions fail with `RuntimeFenced` and its close leaves the sandbox.
   */
  Fenced: {
    readonly sid: string
    readonly at: number
    readonly sandboxId: string
    readonly holder: string
    readonly generation: number
  }
  Closing: { readonly sid: string; readonly at: number; readonly sandboxId: string; readonly action: CloseAction }
  /** The last event of every runtime, whether or not it obtained a sandbox. */
  Closed: {
    readonly sid: string
    readonly at: number
    readonly sandboxId?: string
    readonly action: CloseAction
    readonly error?: string
  }
}>

/**
 * Constructors and matchers for {@link RuntimeEvent}.
 *
 * @since 0.1.0
 */
export const RuntimeEvent = Data.taggedEnum<RuntimeEvent>()

/**
 * The event bus. Every method has `R = never`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RuntimeEventsService {
  readonly publish: (event: RuntimeEvent) => Effect.Effect<void>
  /** A subscription that starts now and lasts as long as the scope; nothing published after this is missed. */
  readonly subscribe: Effect.Effect<Stream.Stream<RuntimeEvent>, never, Scope.Scope>
  /** Every event published from the moment the stream is run. */
  readonly stream: Stream.Stream<RuntimeEvent>
}

/**
 * The event bus service.
 *
 * @since 0.1.0
 * @category tags
 */
export class RuntimeEvents extends Context.Tag("effect-daytona/RuntimeEvents")<RuntimeEvents, RuntimeEventsService>() {}

/**
 * A one-line, human-readable description of an event (no secrets: events carry none).
 *
 * @since 0.1.0
 */
export const describeEvent: (event: RuntimeEvent) => string = RuntimeEvent.$match({
  StatusChanged: (e) => `status ${e.status}${e.detail === undefined ? "" : `: ${e.detail}`}`,
  SandboxCreated: (e) =>
    `sandbox ${e.sandboxId} created${e.warmPool === undefined ? "" : e.warmPool ? " (from a Daytona warm pool)" : " (cold)"}`,
  SandboxAttached: (e) => `attached to sandbox ${e.sandboxId} (${e.state})`,
  SandboxStarted: (e) => `sandbox ${e.sandboxId} started`,
  ServerStarting: (e) => `starting the action execution server in ${e.sandboxId}`,
  Retrying: (e) => `retrying (${e.policy}, attempt ${e.attempt}) in ${Duration.format(e.delay)}: ${e.error}`,
  Ready: (e) => `ready: ${e.url}`,
  Fenced: (e) => `sandbox ${e.sandboxId} was taken over by ${e.holder} (lease generation ${e.generation}): fenced`,
  Closing: (e) => `closing sandbox ${e.sandboxId} (${e.action})`,
  Closed: (e) =>
    `closed${e.sandboxId === undefined ? "" : ` sandbox ${e.sandboxId}`}: ${e.action}${e.error === undefined ? "" : ` (${e.error})`}`
})
