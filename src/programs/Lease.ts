/**
 * Ownership leases: who holds a sandbox, since which generation, and until when. A runtime that creates or
 * holds a sandbox writes its lease into the sandbox's labels — the holder's id, a generation number, the time
 * of its last heartbeat and when the lease expires without one — and its keep-alive fiber renews it while it is
 * held. Another process (or machine) reads the same labels: to decide whether attaching is safe, whether a
 * reaper may touch the sandbox, and — for the holder itself — whether it has been superseded (fenced).
 *
 * @since 0.2.0
 */
import { Data, Duration, Option } from "effect"
import { hostname } from "node:os"

/** The holder's id: one per process, readable (`host-pid-random`). */
export const HOLDER_LABEL = "effect-daytona/holder"
/** The lease's generation: a taking over adds one; a holder that sees a higher one is fenced. */
export const GENERATION_LABEL = "effect-daytona/lease-generation"
/** When the holder last renewed the lease (ISO 8601). */
export const HEARTBEAT_LABEL = "effect-daytona/heartbeat"
/** When the lease lapses unless renewed (ISO 8601). A reaper never touches a sandbox before then. */
export const EXPIRES_LABEL = "effect-daytona/lease-expires"

/**
 * A lease as read from a sandbox's labels.
 *
 * @since 0.2.0
 */
export interface Lease {
  readonly holder: string
  readonly generation: number
  readonly heartbeat: Date
  readonly expires: Date
}

/**
 * What attaching does when another holder's lease is live: `fail` (the default: a typed `LeaseHeld`), `share`
 * (use the sandbox beside the other holder, as in one process two users of one SID do), or `take-over` (a new
 * generation: the other holder is fenced at its next renewal and stops acting on the sandbox).
 *
 * @since 0.2.0
 */
export type LiveLeasePolicy = "fail" | "share" | "take-over"

/**
 * Another holder's lease on the sandbox is live and the policy is `fail`.
 *
 * @since 0.2.0
 * @category errors
 */
export class LeaseHeld extends Data.TaggedError("LeaseHeld")<{
  readonly sandboxId: string
  readonly holder: string
  readonly expires: Date
}> {
  override get message(): string {
    return (
      `Sandbox ${this.sandboxId} is held by ${this.holder} (its lease runs until ${this.expires.toISOString()}): ` +
      `wait for it to be released, or attach with onLiveLease "share" or "take-over"`
    )
  }
}

const randomSuffix = () => {
  const bytes = new Uint8Array(3)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
}

/**
 * This process's holder id (`host-pid-random`, at most 63 characters).
 *
 * @since 0.2.0
 */
export const processHolder: string = (() => {
  const host = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 40)
  return `${host}-${process.pid}-${randomSuffix()}`.slice(0, 63)
})()

const dateOf = (text: string | undefined): Option.Option<Date> => {
  if (text === undefined) return Option.none()
  const millis = Date.parse(text)
  return Number.isNaN(millis) ? Option.none() : Option.some(new Date(millis))
}

/**
 * The lease in a sandbox's labels; none when they carry no (readable) lease.
 *
 * @since 0.2.0
 */
export const read = (labels: Readonly<Record<string, string>>): Option.Option<Lease> => {
  const holder = labels[HOLDER_LABEL]
  const generation = Number(labels[GENERATION_LABEL])
  if (holder === undefined || holder === "" || !Number.isInteger(generation) || generation < 1) return Option.none()
  return Option.all({ heartbeat: dateOf(labels[HEARTBEAT_LABEL]), expires: dateOf(labels[EXPIRES_LABEL]) }).pipe(
    Option.map(({ expires, heartbeat }) => ({ holder, generation, heartbeat, expires }))
  )
}

/**
 * The labels that carry a lease (to merge into the sandbox's other labels).
 *
 * @since 0.2.0
 */
export const labels = (lease: Lease): Record<string, string> => ({
  [HOLDER_LABEL]: lease.holder,
  [GENERATION_LABEL]: String(lease.generation),
  [HEARTBEAT_LABEL]: lease.heartbeat.toISOString(),
  [EXPIRES_LABEL]: lease.expires.toISOString()
})

/**
 * A lease renewed (or first taken) at `now` for `timeout`.
 *
 * @since 0.2.0
 */
export const renewed = (holder: string, generation: number, now: number, timeout: Duration.Duration): Lease => ({
  holder,
  generation,
  heartbeat: new Date(now),
  expires: new Date(now + Duration.toMillis(timeout))
})

/**
 * Whether a lease is still live at `now` (not yet expired).
 *
 * @since 0.2.0
 */
export const isLive = (lease: Lease, now: number): boolean => lease.expires.getTime() > now

/**
 * Whether a sandbox in `state` may have a holder acting on it: a stopped, archived or failed sandbox has none, so
 * its lease (even unexpired) does not keep others out.
 *
 * @since 0.2.0
 */
export const isActiveState = (state: string): boolean =>
  state === "started" || state === "starting" || state === "creating" || state === "restoring" || state === "resuming"

/**
 * Whether a lease keeps others out of a sandbox in `state` at `now`: unexpired, on a sandbox that may be in use.
 *
 * @since 0.2.0
 */
export const holds = (lease: Lease, state: string, now: number): boolean => isLive(lease, now) && isActiveState(state)

/**
 * What a holder of generation `generation` finds when it reads the labels: still its lease, or superseded — a
 * newer generation, or (unless it shares the lease) another holder at its generation. A sharer renews the lease
 * under the holder it found, so it is superseded only by a newer generation.
 *
 * @since 0.2.0
 */
export const standing = (
  current: Option.Option<Lease>,
  self: { readonly holder: string; readonly generation: number; readonly shared: boolean }
): "held" | "superseded" | "missing" =>
  Option.match(current, {
    onNone: () => "missing",
    onSome: (lease) =>
      lease.generation > self.generation ||
      (lease.generation === self.generation && !self.shared && lease.holder !== self.holder)
        ? "superseded"
        : "held"
  })
