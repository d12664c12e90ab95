/**
 * The errors the runtime programs add to those of the services.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { ActionServerError } from "../services/ActionServer.js"
import type { AmbiguousSandbox, DaytonaApiError } from "../services/DaytonaClient.js"
import type { LeaseHeld } from "./Lease.js"
import type { InvalidRuntimeOptions } from "./Options.js"

/**
 * The sandbox is in a state the runtime cannot use: `error` (not recoverable), `build_failed`,
 * `destroyed`, or a state this module does not know (kept as it came in `state`).
 *
 * @since 0.1.0
 * @category errors
 */
export class SandboxUnusable extends Data.TaggedError("SandboxUnusable")<{
  readonly sandboxId: string
  readonly state: string
  readonly errorReason?: string | undefined
}> {
  override get message(): string {
    const reason = this.errorReason === undefined ? "" : ` (${this.errorReason})`
    const advice =
      this.state === "error" || this.state === "build_failed"
        ? "delete it (effect-daytona delete --sid …) or check the snapshot"
        : this.state === "destroyed" || this.state === "destroying"
          ? "it is gone; connect again to create a new one"
          : "this module does not know that state; check the sandbox in the Daytona dashboard"
    return `Sandbox ${this.sandboxId} is ${JSON.stringify(this.state)}${reason}: ${advice}`
  }
}

/**
 * The action execution server did not answer in time (or answered with an error the wait does not
 * retry). `lastOutput` holds the last lines the server printed, when this runtime started it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActionServerNotReady extends Data.TaggedError("ActionServerNotReady")<{
  readonly sandboxId: string
  readonly url: string
  readonly lastOutput: string
  readonly cause: ActionServerError
}> {
  override get message(): string {
    const output = this.lastOutput.trim() === "" ? " (it printed nothing)" : `; its last output:\n${this.lastOutput}`
    return (
      `The action execution server in sandbox ${this.sandboxId} did not come up: ${this.cause.message}. ` +
      `Check the snapshot and the sandbox size (effect-daytona doctor)${output}`
    )
  }
}

/**
 * The server carried the action out but reported an error observation.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActionFailed extends Data.TaggedError("ActionFailed")<{
  readonly action: string
  readonly content: string
}> {
  override get message(): string {
    return `The ${this.action} action failed: ${this.content}`
  }
}

/**
 * Everything `DaytonaRuntime.acquire` can fail with.
 *
 * @since 0.1.0
 */
export type ConnectError =
  | SharedRuntimeConflict
  | LeaseHeld
  | InvalidRuntimeOptions
  | DaytonaApiError
  | AmbiguousSandbox
  | SandboxUnusable
  | ActionServerNotReady
  | ActionServerError
  | ActionFailed
  | RuntimeFenced

/**
 * The runtime was fenced: another holder took its sandbox over (a newer lease generation), so it no longer acts on
 * the sandbox. Acquire a runtime again (attaching) to work with the sandbox.
 *
 * @since 0.2.0
 * @category errors
 */
export class RuntimeFenced extends Data.TaggedError("RuntimeFenced")<{
  readonly sandboxId: string
  /** The holder that has the sandbox now. */
  readonly holder: string
  readonly generation: number
}> {
  override get message(): string {
    return (
      `Sandbox ${this.sandboxId} was taken over by ${this.holder} (lease generation ${this.generation}): this runtime ` +
      "no longer acts on it; acquire it again (attachToExisting) to work with it"
    )
  }
}

/**
 * The SID's runtime is already shared in this process under other options: sharing would hand this caller a runtime
 * that is not the one it asked for.
 *
 * @since 0.2.0
 * @category errors
 */
export class SharedRuntimeConflict extends Data.TaggedError("SharedRuntimeConflict")<{
  readonly sid: string
  /** The first option that differs. */
  readonly option: string
}> {
  override get message(): string {
    return (
      `The runtime of SID ${this.sid} is already held in this process with another ${this.option}: ` +
      "acquire it with the same options to share it, use another SID, or pass share: false"
    )
  }
}
