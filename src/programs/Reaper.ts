/**
 * The reaper: finds the sandboxes this tool created whose holder is gone — a process killed by SIGKILL or OOM,
 * a machine that died — and stops or deletes them. It goes by the lease each holder renews in the sandbox's
 * labels, never by name or age alone: a running sandbox whose lease is live is never touched, whatever the TTL, and one
 * whose last heartbeat is younger than the TTL is left alone. Without a lease (sandboxes made before leases),
 * the creation time stands in for the heartbeat.
 *
 * @since 0.2.0
 */
import { Duration, Effect, Either, Option } from "effect"
import {
  CREATED_AT_LABEL,
  type DaytonaApiError,
  type DaytonaClientService,
  OWNER_LABEL,
  OWNER_VALUE,
  type Sandbox
} from "../services/DaytonaClient.js"
import * as Lease from "./Lease.js"

/**
 * The reaper's settings.
 *
 * @since 0.2.0
 */
export interface ReapOptions {
  /** How long after its last heartbeat a sandbox in any state but `error`/`build_failed` is reaped (default 24 h). */
  readonly ttl: Duration.Duration
  /** The same for `error` and `build_failed` sandboxes (default 2 h). */
  readonly errorTtl: Duration.Duration
  /** Delete instead of stop (stopped, errored and failed sandboxes can only be deleted). */
  readonly delete: boolean
  /** Prices per hour, to estimate what the reaped sandboxes cost. */
  readonly prices: Prices
}

/**
 * Prices per hour of a running sandbox's resources; disk is billed while stopped too.
 *
 * @since 0.2.0
 */
export interface Prices {
  readonly cpuHour: number
  readonly memoryGiBHour: number
  readonly diskGiBHour: number
}

/**
 * Daytona's published per-second list prices as hourly rates (USD): vCPU 0.000014/s, memory 0.0000045/GiB/s,
 * disk 0.00000003/GiB/s. Override them for your plan.
 *
 * @since 0.2.0
 */
export const DefaultPrices: Prices = { cpuHour: 0.0504, memoryGiBHour: 0.0162, diskGiBHour: 0.000108 }

/**
 * The defaults: 24 h, 2 h for `error`/`build_failed`, stop, Daytona's list prices.
 *
 * @since 0.2.0
 */
export const Defaults: ReapOptions = {
  ttl: Duration.hours(24),
  errorTtl: Duration.hours(2),
  delete: false,
  prices: DefaultPrices
}

const RUNNING = new Set(["started", "starting", "creating", "restoring", "resuming", "pulling_snapshot"])
const FAILED = new Set(["error", "build_failed"])
const GONE = new Set(["destroyed", "destroying"])

/**
 * What the reaper decided for one sandbox.
 *
 * - `live-lease`: a holder's lease has not expired — never touched;
 * - `recent`: its heartbeat is younger than the TTL;
 * - `stop` / `delete`: reaped (with `apply`);
 * - `needs-delete`: abandoned, but only a delete would free it (stopped or errored) and `delete` was not asked.
 *
 * @since 0.2.0
 */
export type Verdict = "live-lease" | "recent" | "stop" | "delete" | "needs-delete"

/**
 * One sandbox of the plan.
 *
 * @since 0.2.0
 */
export interface Planned {
  readonly sandbox: Sandbox
  readonly verdict: Verdict
  /** Since the last heartbeat (or creation, without a lease), in milliseconds. */
  readonly silentMillis: number
  readonly holder: Option.Option<string>
  /** What the sandbox costs per hour as it is now (0 when unknown). */
  readonly costPerHour: number
}

const lastSign = (sandbox: Sandbox): Option.Option<Date> =>
  Option.match(Lease.read(sandbox.labels), {
    onSome: (lease) => Option.some(lease.heartbeat),
    onNone: () => {
      const label = sandbox.labels[CREATED_AT_LABEL]
      const millis = label === undefined ? NaN : Date.parse(label)
      return Number.isNaN(millis) ? sandbox.createdAt : Option.some(new Date(millis))
    }
  })

/**
 * What a sandbox costs per hour in its state: resources while running, disk only otherwise.
 *
 * @since 0.2.0
 */
export const costPerHour = (sandbox: Sandbox, prices: Prices): number => {
  const resources = sandbox.resources
  if (resources === undefined || GONE.has(sandbox.state)) return 0
  const disk = resources.diskGiB * prices.diskGiBHour
  return RUNNING.has(sandbox.state)
    ? resources.cpu * prices.cpuHour + resources.memoryGiB * prices.memoryGiBHour + disk
    : disk
}

/**
 * The reaper's decision for every sandbox of this tool (the owner label), at `now`.
 *
 * @since 0.2.0
 */
export const plan = (sandboxes: ReadonlyArray<Sandbox>, now: number, options: ReapOptions): ReadonlyArray<Planned> =>
  sandboxes.flatMap((sandbox): ReadonlyArray<Planned> => {
    if (sandbox.labels[OWNER_LABEL] !== OWNER_VALUE || GONE.has(sandbox.state)) return []
    const lease = Lease.read(sandbox.labels)
    const sign = lastSign(sandbox)
    const silentMillis = Option.match(sign, { onNone: () => Infinity, onSome: (date) => now - date.getTime() })
    const ttl = FAILED.has(sandbox.state) ? options.errorTtl : options.ttl
    const verdict: Verdict = Option.exists(lease, (held) => Lease.holds(held, sandbox.state, now))
      ? "live-lease"
      : silentMillis < Duration.toMillis(ttl)
        ? "recent"
        : options.delete
          ? "delete"
          : RUNNING.has(sandbox.state)
            ? "stop"
            : "needs-delete"
    return [
      {
        sandbox,
        verdict,
        silentMillis,
        holder: Option.map(lease, (held) => held.holder),
        costPerHour: costPerHour(sandbox, options.prices)
      }
    ]
  })

/**
 * Whether the reaper acts on a planned sandbox.
 *
 * @since 0.2.0
 */
export const isReaped = (planned: Planned): boolean => planned.verdict === "stop" || planned.verdict === "delete"

/**
 * Carries out the plan's stops and deletes (four at a time); each result is the sandbox and, on failure, the error.
 * A sandbox already gone (404) counts as done. The lease is read again just before acting, so a holder that came
 * back since the plan was made is not touched.
 *
 * @since 0.2.0
 */
export const apply = (
  client: DaytonaClientService,
  planned: ReadonlyArray<Planned>,
  now: Effect.Effect<number>
): Effect.Effect<
  ReadonlyArray<{ readonly planned: Planned; readonly outcome: Either.Either<"done" | "revived", DaytonaApiError> }>
> =>
  Effect.forEach(
    planned.filter(isReaped),
    (item) =>
      Effect.gen(function* () {
        const fresh = yield* client.get(item.sandbox.id)
        const at = yield* now
        if (Option.exists(Lease.read(fresh.labels), (lease) => Lease.holds(lease, fresh.state, at))) {
          return "revived" as const
        }
        yield* item.verdict === "delete" ? client.delete(item.sandbox.id) : client.stop(item.sandbox.id)
        return "done" as const
      }).pipe(
        Effect.catchIf(
          (error): error is DaytonaApiError => error._tag === "DaytonaApiError" && error.reason === "NotFound",
          () => Effect.succeed("done" as const)
        ),
        Effect.either,
        Effect.map((outcome) => ({ planned: item, outcome }))
      ),
    { concurrency: 4 }
  )
