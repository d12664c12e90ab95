/**
 * `reap [--ttl D] [--error-ttl D] [--apply] [--delete] [--json]`: finds the sandboxes this tool created whose holder
 * is gone — no lease renewal for longer than the TTL (24 h; 2 h for `error`/`build_failed`) — and stops them (or
 * deletes them with `--delete`) only with `--apply`. A sandbox whose lease is live is never touched, whatever the
 * TTL. Says what the reaped sandboxes cost per hour.
 *
 * @since 0.1.0
 */
import { Clock, Console, Duration, Effect, Either, Option } from "effect"
import * as Reaper from "../programs/Reaper.js"
import { DaytonaClient, OWNER_LABEL, OWNER_VALUE, SID_LABEL } from "../services/DaytonaClient.js"
import * as Env from "./Env.js"
import { sandboxJson, table } from "./Manage.js"
import * as Output from "./Output.js"

/**
 * The flags of `reap`.
 *
 * @since 0.1.0
 */
export interface ReapFlags extends Env.CommonFlags {
  readonly ttl: Duration.Duration
  readonly errorTtl: Duration.Duration
  readonly apply: boolean
  readonly delete: boolean
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Parses a duration such as `90s`, `30m`, `1h`, `1h30m`, `2d` or `0`.
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const trimmed = text.trim()
  if (trimmed === "0") return Option.some(Duration.zero)
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return Option.none()
  let millis = 0
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    millis += Number(amount) * UNITS[unit!]!
  }
  return Option.some(Duration.millis(millis))
}

const age = (millis: number) =>
  Number.isFinite(millis) ? Duration.format(Duration.seconds(Math.max(0, Math.floor(millis / 1000)))) : "unknown"

const money = (perHour: number) => `$${perHour.toFixed(perHour < 1 ? 4 : 2)}/h`

/** What `reap` reports for one sandbox. */
const actionOf = (planned: Reaper.Planned, outcome: Option.Option<Either.Either<"done" | "revived", unknown>>) =>
  Option.match(outcome, {
    onNone: () =>
      planned.verdict === "stop" ? "would-stop" : planned.verdict === "delete" ? "would-delete" : planned.verdict,
    onSome: Either.match({
      onLeft: () => "failed",
      onRight: (done) => (done === "revived" ? "revived" : planned.verdict === "delete" ? "deleted" : "stopped")
    })
  })

/**
 * Runs `reap`. Exit code 1 when stopping or deleting any sandbox failed.
 *
 * @since 0.1.0
 */
export const reap = (flags: ReapFlags) =>
  Effect.gen(function* () {
    const client = yield* DaytonaClient
    const options: Reaper.ReapOptions = {
      ...Reaper.Defaults,
      ttl: flags.ttl,
      errorTtl: flags.errorTtl,
      delete: flags.delete
    }
    const planned = Reaper.plan(
      yield* client.list({ [OWNER_LABEL]: OWNER_VALUE }),
      yield* Clock.currentTimeMillis,
      options
    )
    const outcomes = flags.apply ? yield* Reaper.apply(client, planned, Clock.currentTimeMillis) : []
    const outcomeOf = (item: Reaper.Planned) =>
      Option.map(Option.fromNullable(outcomes.find((o) => o.planned === item)), (o) => o.outcome)
    const rows = planned.map((item) => {
      const outcome = outcomeOf(item)
      return {
        item,
        action: actionOf(item, outcome),
        error: Option.flatMap(outcome, (o) => Either.getLeft(o)).pipe(
          Option.map((e) => e.message),
          Option.getOrUndefined
        )
      }
    })
    const reaped = rows.filter((row) => Reaper.isReaped(row.item))
    const cost = reaped.reduce((sum, row) => sum + row.item.costPerHour, 0)
    const failed = rows.filter((row) => row.action === "failed").length
    if (failed > 0) yield* Output.setExitCode(1)
    if (flags.json) {
      return yield* Output.printJson({
        ok: failed === 0,
        applied: flags.apply,
        delete: flags.delete,
        ttlSeconds: Duration.toSeconds(flags.ttl),
        errorTtlSeconds: Duration.toSeconds(flags.errorTtl),
        costPerHour: Number(cost.toFixed(6)),
        sandboxes: rows.map(({ action, error, item }) => ({
          ...sandboxJson(item.sandbox),
          action,
          silentSeconds: Number.isFinite(item.silentMillis) ? Math.floor(item.silentMillis / 1000) : null,
          holder: Option.getOrNull(item.holder),
          costPerHour: Number(item.costPerHour.toFixed(6)),
          ...(error === undefined ? {} : { error })
        }))
      })
    }
    const shown = rows.filter((row) => row.action !== "recent")
    const untouched = rows.length - shown.length
    if (shown.length === 0) {
      return yield* Console.log(
        `Nothing to reap: ${rows.length} sandbox(es) of effect-daytona, each renewed within ` +
          `${Duration.format(flags.ttl)} (${Duration.format(flags.errorTtl)} for error/build_failed).`
      )
    }
    yield* Console.log(
      table([
        ["ID", "SID", "STATE", "SILENT", "HOLDER", "COST", "ACTION"],
        ...shown.map(({ action, error, item }) => [
          item.sandbox.id,
          item.sandbox.labels[SID_LABEL] ?? "",
          item.sandbox.state,
          age(item.silentMillis),
          Option.getOrElse(item.holder, () => "-"),
          money(item.costPerHour),
          action + (error === undefined ? "" : `: ${error}`)
        ])
      ])
    )
    if (untouched > 0) yield* Output.note(`${untouched} more renewed within the TTL, left alone.`)
    const verb = flags.delete ? "deleted" : "stopped"
    if (!flags.apply) {
      if (reaped.length > 0) {
        yield* Console.log(
          `${reaped.length} sandbox(es) would be ${verb} (about ${money(cost)} now): run again with --apply to do it.`
        )
      }
    } else if (failed > 0) {
      yield* Output.note(`${failed} sandbox(es) could not be ${verb}: see the errors above, then run reap again.`)
    }
    if (rows.some((row) => row.action === "needs-delete")) {
      yield* Output.note("Sandboxes marked needs-delete are stopped or failed: only --delete frees them.")
    }
  }).pipe(Effect.provide(Env.clientLayer(flags)))
