/**
 * The emulator's periodic jobs, one loop for every sandbox (as Daytona's 10-second crons in
 * `managers/sandbox.manager.ts` and `sandbox-warm-pool.service.ts`), so an idle sandbox costs nothing:
 *
 * - auto-stop: a started sandbox idle longer than `autoStopInterval` minutes (not 0) is stopped — deleted when
 *   ephemeral;
 * - auto-archive: a stopped sandbox idle longer than `autoArchiveInterval` minutes is archived;
 * - auto-delete: a stopped sandbox idle longer than `autoDeleteInterval` minutes (0 or more) is deleted;
 * - open preview connections count as activity (Daytona's proxy refreshes it every 50 s on long connections);
 * - warm pools are refilled to their size.
 *
 * Sandboxes in a state change are left alone, as the crons only pick `pending = false` ones.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import type { SandboxRecord } from "./Dto.js"
import { coreOf, isPending } from "./Store.js"
import type { Store } from "./Store.js"

/**
 * What the jobs need.
 *
 * @since 0.1.0
 */
export interface JobsOptions {
  readonly store: Store
  /** 1 = real minutes; the tick is Daytona's 10 s scaled the same way (at least 20 ms). */
  readonly timeScale: number
  /** Whether a sandbox has an open preview connection right now. */
  readonly busy: (sandboxId: string) => boolean
  /** Runs on every tick after the sandbox jobs (the warm-pool refill). */
  readonly afterTick?: Effect.Effect<void> | undefined
}

/**
 * What one tick decides for a sandbox.
 *
 * @since 0.1.0
 */
export type JobAction = "stop" | "archive" | "delete" | "none"

/**
 * The job a sandbox is due for, given its idle time in (scaled) minutes.
 *
 * @since 0.1.0
 */
export const dueJob = (record: SandboxRecord, idleMinutes: number): JobAction => {
  if (record.warmPoolId !== undefined || isPending(record)) return "none"
  if (record.state === "started" && record.desiredState === "started") {
    return record.autoStopInterval !== 0 && idleMinutes > record.autoStopInterval ? "stop" : "none"
  }
  if (record.state === "stopped" && record.desiredState === "stopped") {
    if (record.autoDeleteInterval >= 0 && idleMinutes > record.autoDeleteInterval) return "delete"
    if (idleMinutes > record.autoArchiveInterval) return "archive"
  }
  return "none"
}

/**
 * The tick of the job loop for a time scale.
 *
 * @since 0.1.0
 */
export const jobTick = (timeScale: number): Duration.Duration =>
  Duration.millis(Math.min(10_000, Math.max(20, 10_000 * timeScale)))

/**
 * Runs the job loop in the calling scope.
 *
 * @since 0.1.0
 */
export const runJobs = (options: JobsOptions): Effect.Effect<void, never, Scope.Scope> => {
  const core = coreOf(options.store)
  const minute = 60_000 * options.timeScale
  const tick = Effect.gen(function* () {
    const at = yield* Clock.currentTimeMillis
    for (const record of [...core.records.values()]) {
      if (options.busy(record.id)) {
        yield* options.store.touch(record.id)
        continue
      }
      const job = dueJob(record, (at - record.lastActivityAt.getTime()) / minute)
      if (job === "none") continue
      yield* Effect.logDebug(`sandbox ${record.id}: auto-${job} after ${at - record.lastActivityAt.getTime()} ms idle`)
      if (job === "stop") yield* options.store.stopNow(record.id)
      else if (job === "archive") yield* options.store.archiveNow(record.id)
      else yield* options.store.destroy(record.id)
    }
    if (options.afterTick !== undefined) yield* options.afterTick
  })
  return tick.pipe(
    Effect.repeat(Schedule.spaced(jobTick(options.timeScale))),
    Effect.asVoid,
    Effect.forkScoped,
    Effect.asVoid
  )
}
