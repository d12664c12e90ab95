/**
 * `reap [--older-than D] [--apply]`: finds sandboxes this tool created (the owner label) that are older
 * than D and still running — what a killed process (SIGKILL, OOM) left behind — and stops them only
 * with `--apply`.
 *
 * @since 0.1.0
 */
import { Clock, Console, Duration, Effect, Either, Option } from "effect"
import { CREATED_AT_LABEL, DaytonaClient, OWNER_LABEL, OWNER_VALUE, SID_LABEL } from "../services/DaytonaClient.js"
import type { Sandbox } from "../services/DaytonaClient.js"
import * as Env from "./Env.js"
import { sandboxJson, table } from "./Manage.js"
import * as Output from "./Output.js"

/**
 * The flags of `reap`.
 *
 * @since 0.1.0
 */
export interface ReapFlags extends Env.CommonFlags {
  readonly olderThan: Duration.Duration
  readonly apply: boolean
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

/** States in which a sandbox still runs (and costs). */
const RUNNING = new Set(["started", "starting"])

/**
 * When a sandbox was created: its created-at label, else the API's `createdAt`.
 *
 * @since 0.1.0
 */
export const createdAtOf = (sandbox: Sandbox): Option.Option<Date> => {
  const label = sandbox.labels[CREATED_AT_LABEL]
  const fromLabel = label === undefined ? NaN : Date.parse(label)
  return Number.isNaN(fromLabel) ? sandbox.createdAt : Option.some(new Date(fromLabel))
}

/**
 * The running sandboxes carrying the owner label that are older than `olderThan` at `now`.
 *
 * @since 0.1.0
 */
export const orphans = (sandboxes: ReadonlyArray<Sandbox>, olderThan: Duration.Duration, now: number) =>
  sandboxes.flatMap((sandbox) => {
    if (sandbox.labels[OWNER_LABEL] !== OWNER_VALUE || !RUNNING.has(sandbox.state)) return []
    const created = createdAtOf(sandbox)
    if (Option.isNone(created)) return []
    const ageMillis = now - created.value.getTime()
    return ageMillis >= Duration.toMillis(olderThan) ? [{ sandbox, ageMillis }] : []
  })

const age = (millis: number) => Duration.format(Duration.seconds(Math.max(0, Math.floor(millis / 1000))))

/**
 * Runs `reap`. Exit code 1 when stopping any sandbox failed.
 *
 * @since 0.1.0
 */
export const reap = (flags: ReapFlags) =>
  Effect.gen(function* () {
    const client = yield* DaytonaClient
    const now = yield* Clock.currentTimeMillis
    const found = orphans(yield* client.list({ [OWNER_LABEL]: OWNER_VALUE }), flags.olderThan, now)
    const results = yield* Effect.forEach(
      found,
      ({ ageMillis, sandbox }) =>
        (flags.apply ? Effect.either(client.stop(sandbox.id)) : Effect.succeed(Either.right(undefined))).pipe(
          Effect.map((outcome) => ({
            ...sandboxJson(sandbox),
            ageSeconds: Math.floor(ageMillis / 1000),
            action: !flags.apply ? "would-stop" : Either.isRight(outcome) ? "stopped" : "failed",
            ...(Either.isLeft(outcome) ? { error: outcome.left.message } : {})
          }))
        ),
      { concurrency: 4 }
    )
    const failed = results.filter((result) => result.action === "failed").length
    if (failed > 0) yield* Output.setExitCode(1)
    if (flags.json) {
      return yield* Output.printJson({
        ok: failed === 0,
        applied: flags.apply,
        olderThanSeconds: Duration.toSeconds(flags.olderThan),
        sandboxes: results
      })
    }
    if (results.length === 0) {
      return yield* Console.log(
        `No running sandbox of effect-daytona is older than ${Duration.format(flags.olderThan)}; nothing to reap.`
      )
    }
    yield* Console.log(
      table([
        ["ID", "SID", "STATE", "AGE", "ACTION"],
        ...found.map(({ ageMillis, sandbox }, i) => [
          sandbox.id,
          sandbox.labels[SID_LABEL] ?? "",
          sandbox.state,
          age(ageMillis),
          results[i]!.action + ("error" in results[i]! ? `: ${results[i]!.error}` : "")
        ])
      ])
    )
    if (!flags.apply) {
      yield* Console.log(`${results.length} sandbox(es) would be stopped: run again with --apply to stop them.`)
    } else if (failed > 0) {
      yield* Output.note(`${failed} sandbox(es) could not be stopped: see the errors above, then run reap again.`)
    }
  }).pipe(Effect.provide(Env.clientLayer(flags)))
