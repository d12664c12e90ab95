/**
 * The chaos run: seeded trials spread over a few lanes (each lane its own embedded emulators, running
 * one trial at a time), the summary of what the checks found, and its report lines.
 *
 * @since 0.1.0
 */
import { Effect, Queue } from "effect"
import type { EmulatorError } from "../src/emulator/Emulator.js"
import { type Lane, makeLane, recordingLoggerLayer } from "./Lane.js"
import { describePlan, planTrial } from "./Plan.js"
import { runTrial, type TrialResult } from "./Trial.js"

/**
 * What to run.
 *
 * @since 0.1.0
 */
export interface ChaosOptions {
  readonly seed: string
  readonly trials: number
  /** Lanes run in parallel (default 4); trials of one lane run one after the other. */
  readonly concurrency?: number | undefined
  /** Run only this trial (to replay a failure). */
  readonly only?: number | undefined
  /** Called after each trial, e.g. to print progress. */
  readonly onTrial?: ((result: TrialResult, done: number, total: number) => Effect.Effect<void>) | undefined
}

/**
 * What a run found.
 *
 * @since 0.1.0
 */
export interface ChaosSummary {
  readonly seed: string
  readonly trials: number
  /** Trials that left a sandbox running against the policy, or a process behind. */
  readonly leaked: number
  /** Trials with a defect: a `Die`, an untyped failure, a wrong result, a hang, or events not ending with Closed. */
  readonly defects: number
  readonly outcomes: Readonly<Record<string, number>>
  readonly errors: Readonly<Record<string, number>>
  readonly closes: Readonly<Record<string, number>>
  readonly faults: Readonly<Record<string, number>>
  readonly failing: ReadonlyArray<TrialResult>
  /** Trials that hit the deadline (not a failure by itself, but worth a look). */
  readonly slow: ReadonlyArray<TrialResult>
  readonly millis: number
}

const OUTCOMES = ["ready", "failed", "interrupted", "deadline", "hung"] as const

const count = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1
}

/**
 * Summarises trial results.
 *
 * @since 0.1.0
 */
export const summarize = (seed: string, results: ReadonlyArray<TrialResult>, millis: number): ChaosSummary => {
  const outcomes: Record<string, number> = Object.fromEntries(OUTCOMES.map((o) => [o, 0]))
  const errors: Record<string, number> = {}
  const closes: Record<string, number> = {}
  const faults: Record<string, number> = {}
  for (const result of results) {
    count(outcomes, result.outcome)
    if (result.error !== undefined) count(errors, result.error)
    count(closes, result.closed)
    for (const fault of result.plan.faults) count(faults, fault.kind)
  }
  const failing = results.filter((r) => r.leaks.length > 0 || r.defects.length > 0)
  return {
    seed,
    trials: results.length,
    leaked: results.filter((r) => r.leaks.length > 0).length,
    defects: results.filter((r) => r.defects.length > 0).length,
    outcomes,
    errors,
    closes,
    faults,
    failing,
    slow: results.filter((r) => r.outcome === "deadline"),
    millis
  }
}

const pairs = (record: Readonly<Record<string, number>>) =>
  Object.entries(record)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`)
    .join(" ")

/**
 * The line of a failing trial: its plan (enough to replay it) and what was wrong.
 *
 * @since 0.1.0
 */
export const failureLine = (result: TrialResult): string =>
  `FAIL ${describePlan(result.plan)} outcome=${result.outcome}${result.error === undefined ? "" : `(${result.error})`}` +
  ` closed=${result.closed} :: ${[...result.leaks.map((l) => `LEAK ${l}`), ...result.defects.map((d) => `DEFECT ${d}`)].join("; ")}`

/**
 * The report: a line per failing trial, the breakdowns, and last the summary line
 * `trials=N leaked=L defects=D ready=… failed=… interrupted=… deadline=… hung=…`.
 *
 * @since 0.1.0
 */
export const reportLines = (summary: ChaosSummary): ReadonlyArray<string> => [
  ...summary.failing.map(failureLine),
  ...summary.slow.map((result) => `SLOW ${describePlan(result.plan)} closed=${result.closed}`),
  `errors: ${pairs(summary.errors) || "none"}`,
  `closed: ${pairs(summary.closes)}`,
  `faults: ${pairs(summary.faults)}`,
  `seed=${summary.seed} time=${(summary.millis / 1000).toFixed(1)}s`,
  `trials=${summary.trials} leaked=${summary.leaked} defects=${summary.defects} ` +
    OUTCOMES.map((o) => `${o}=${summary.outcomes[o] ?? 0}`).join(" ")
]

/**
 * Runs the trials and summarises them. Log lines are recorded, never printed.
 *
 * @since 0.1.0
 */
export const run = (options: ChaosOptions): Effect.Effect<ChaosSummary, EmulatorError> =>
  Effect.gen(function* () {
    const started = Date.now()
    const indices = options.only === undefined ? Array.from({ length: options.trials }, (_, i) => i) : [options.only]
    const laneCount = Math.max(1, Math.min(options.concurrency ?? 4, indices.length))
    const lanes = yield* Queue.unbounded<Lane>()
    for (let i = 0; i < laneCount; i++) yield* Queue.offer(lanes, yield* makeLane(i))
    let done = 0
    const results = yield* Effect.forEach(
      indices,
      (index) =>
        Effect.acquireUseRelease(
          Queue.take(lanes),
          (lane) => {
            const plan = planTrial(options.seed, index)
            return runTrial(plan, plan.previewMode === "proxy" ? lane.proxy : lane.direct)
          },
          (lane) => Queue.offer(lanes, lane)
        ).pipe(
          Effect.tap((result) => {
            done++
            return options.onTrial?.(result, done, indices.length) ?? Effect.void
          })
        ),
      { concurrency: laneCount }
    )
    const summary = summarize(options.seed, results, Date.now() - started)
    return summary
  }).pipe(Effect.scoped, Effect.provide(recordingLoggerLayer))
