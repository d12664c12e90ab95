/**
 * Fault injection for the emulator: the routes a fault can target, the fault kinds, and the queue that hands
 * the next request of a route its fault.
 *
 * @since 0.1.0
 */
import { Data, Effect, Option, Ref } from "effect"
import type { Duration } from "effect"
import { ActionServerFault } from "./ActionServerApp.js"
import type { ActionServerRoute } from "./ActionServerApp.js"
import type { ThrottlerName } from "./RateLimits.js"

/**
 * Every route of the emulator a fault can be injected into (and that the request log names).
 *
 * @since 0.1.0
 */
export type EmulatorRoute =
  | "sandbox.create"
  | "sandbox.get"
  | "sandbox.list"
  | "sandbox.start"
  | "sandbox.stop"
  | "sandbox.delete"
  | "sandbox.recover"
  | "sandbox.toolboxProxyUrl"
  | "sandbox.previewUrl"
  | "sandbox.signedPreviewUrl"
  | "sandbox.lastActivity"
  | "sandbox.paginated"
  | "sandbox.autostop"
  | "sandbox.autoarchive"
  | "sandbox.autodelete"
  | "sandbox.labels"
  | "sandbox.public"
  | "sandbox.archive"
  | "sandbox.sshAccess"
  | "sandbox.validateSshAccess"
  | "snapshot.list"
  | "snapshot.get"
  | "warmPool.list"
  | "warmPool.create"
  | "warmPool.update"
  | "warmPool.delete"
  | "toolbox.createSession"
  | "toolbox.exec"
  | "toolbox.logs"
  | "toolbox.command"
  | "toolbox.session"
  | "toolbox.files"
  | "toolbox.info"
  | "preview"
  | "action.alive"
  | "action.execute"
  | "action.listFiles"
  | "action.vscodeToken"
  | "action.upload"

/**
 * A fault one request gets instead of (or on top of) its normal answer.
 *
 * - `Status`: answer this status (with `Retry-After: retryAfter` when given) without running the handler.
 * - `Latency`: wait, then answer normally.
 * - `Malformed`: answer 200 with a truncated JSON body, without running the handler.
 * - `Drop`: destroy the connection without any response.
 * - `AllocateThenFail`: run the handler (for `sandbox.create`: the sandbox is created and starts), then answer
 *   `status` instead of its result.
 * - `Crash`: for `action.*`, the action server dies mid-request; elsewhere the same as `Drop`.
 * - `SlowLoris`: send the status, headers and the first byte, then the rest of the body after `duration`.
 * - `RateLimited`: answer as Daytona's throttler `throttler` does when blocked: 429 "ThrottlerException: Too Many
 *   Requests" with `Retry-After-<throttler>: retryAfter` (default 60; a plain `Retry-After` for `failed-auth`).
 *
 * @since 0.1.0
 */
export type Fault = Data.TaggedEnum<{
  Status: {
    readonly status: number
    readonly retryAfter?: number | undefined
    readonly message?: string | undefined
  }
  Latency: { readonly duration: Duration.DurationInput }
  Malformed: {}
  Drop: {}
  AllocateThenFail: { readonly status: number }
  Crash: {}
  SlowLoris: { readonly duration: Duration.DurationInput }
  RateLimited: {
    readonly throttler: ThrottlerName
    readonly retryAfter?: number | undefined
    readonly limit?: number | undefined
  }
}>

/**
 * Constructors and matchers for {@link Fault}.
 *
 * @since 0.1.0
 */
export const Fault = Data.taggedEnum<Fault>()

/**
 * The pending faults, per route, in injection order.
 *
 * @since 0.1.0
 */
export interface FaultQueue {
  /** The next `times` requests of `route` get `fault` (after any already queued). */
  readonly inject: (route: EmulatorRoute, fault: Fault, times?: number) => Effect.Effect<void>
  /** Drops every pending fault. */
  readonly clear: Effect.Effect<void>
  /** Takes the next fault of a route, if any. */
  readonly take: (route: EmulatorRoute) => Effect.Effect<Option.Option<Fault>>
  /** The action-server side of the queue, for `ActionServerOptions.nextFault`. */
  readonly nextActionFault: (route: ActionServerRoute) => Effect.Effect<Option.Option<ActionServerFault>>
}

const actionRoutes: Record<ActionServerRoute, EmulatorRoute> = {
  alive: "action.alive",
  execute_action: "action.execute",
  list_files: "action.listFiles",
  vscode_token: "action.vscodeToken",
  upload_file: "action.upload"
}

/**
 * The action server's form of a fault. The action server has no `Drop` and nothing to allocate: `Drop` becomes a
 * 502 and `AllocateThenFail` its status.
 *
 * @since 0.1.0
 */
export const toActionServerFault: (fault: Fault) => ActionServerFault = Fault.$match({
  Status: ({ message, status }) => ActionServerFault.Status({ status, body: message }),
  Latency: ({ duration }) => ActionServerFault.Latency({ duration }),
  Malformed: () => ActionServerFault.Malformed(),
  Drop: () => ActionServerFault.Status({ status: 502, body: "Bad Gateway" }),
  AllocateThenFail: ({ status }) => ActionServerFault.Status({ status }),
  Crash: () => ActionServerFault.Crash(),
  SlowLoris: ({ duration }) => ActionServerFault.SlowLoris({ duration }),
  RateLimited: () => ActionServerFault.Status({ status: 429 })
})

/**
 * Makes an empty fault queue.
 *
 * @since 0.1.0
 */
export const makeFaultQueue: Effect.Effect<FaultQueue> = Effect.map(
  Ref.make<ReadonlyMap<EmulatorRoute, ReadonlyArray<Fault>>>(new Map()),
  (ref): FaultQueue => {
    const take = (route: EmulatorRoute) =>
      Ref.modify(ref, (queues): [Option.Option<Fault>, ReadonlyMap<EmulatorRoute, ReadonlyArray<Fault>>] => {
        const queue = queues.get(route) ?? []
        if (queue.length === 0) return [Option.none(), queues]
        const next = new Map(queues)
        if (queue.length === 1) next.delete(route)
        else next.set(route, queue.slice(1))
        return [Option.some(queue[0]!), next]
      })
    return {
      inject: (route, fault, times = 1) =>
        Ref.update(ref, (queues) => {
          const count = Math.max(0, Math.floor(times))
          const next = new Map(queues)
          next.set(route, [...(queues.get(route) ?? []), ...Array.from({ length: count }, () => fault)])
          return next
        }),
      clear: Ref.set(ref, new Map()),
      take,
      nextActionFault: (route) => Effect.map(take(actionRoutes[route]), Option.map(toActionServerFault))
    }
  }
)
