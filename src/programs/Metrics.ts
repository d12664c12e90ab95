/**
 * The runtime's metrics (Effect `Metric`): the figures an operator watches — connects by outcome,
 * the duration of each phase, retries by policy, action latency and errors.
 *
 * @since 0.1.0
 */
import { Metric, MetricBoundaries } from "effect"

const millisBoundaries = MetricBoundaries.exponential({ start: 5, factor: 2, count: 16 })

/**
 * Connects, tagged `outcome` = `ready` | `failed` | `interrupted`.
 *
 * @since 0.1.0
 */
export const connects = Metric.counter("effect_daytona_connects_total", {
  description: "Runtime connects by outcome"
})

/**
 * Duration of a lifecycle phase in ms, tagged `phase` = `obtain` | `settle` | `server_start` | `wait_alive` | `setup` | `connect` | `close`.
 *
 * @since 0.1.0
 */
export const phaseDuration = Metric.histogram(
  "effect_daytona_phase_duration_ms",
  millisBoundaries,
  "Duration of each lifecycle phase in milliseconds"
)

/**
 * Retries granted, tagged `policy`.
 *
 * @since 0.1.0
 */
export const retries = Metric.counter("effect_daytona_retries_total", {
  description: "Retries by policy"
})

/**
 * Action latency in ms, tagged `action`.
 *
 * @since 0.1.0
 */
export const actionDuration = Metric.histogram(
  "effect_daytona_action_duration_ms",
  millisBoundaries,
  "Latency of actions sent to the action execution server in milliseconds"
)

const actionDurations = new Map<string, Metric.Metric.Histogram<number>>()

/**
 * `actionDuration` tagged with `action` = `name`, made once per name: a tagged metric is a new key, hashed and looked
 * up in the registry, and every action of every runtime records one.
 *
 * @since 0.2.0
 */
export const actionDurationOf = (name: string): Metric.Metric.Histogram<number> => {
  let metric = actionDurations.get(name)
  if (metric === undefined) {
    metric = Metric.tagged(actionDuration, "action", name)
    actionDurations.set(name, metric)
  }
  return metric
}

/**
 * Failed actions, tagged `action` and `error` (the error's tag).
 *
 * @since 0.1.0
 */
export const actionErrors = Metric.counter("effect_daytona_action_errors_total", {
  description: "Failed actions by error"
})

/**
 * Cleanup failures (a sandbox that could not be stopped or deleted).
 *
 * @since 0.1.0
 */
export const cleanupFailures = Metric.counter("effect_daytona_cleanup_failures_total", {
  description: "Sandboxes that close could not stop or delete"
})

/**
 * Sandboxes created, tagged `source` = `warm-pool` (Daytona served the create from a warm pool) | `cold` (a fresh
 * sandbox) | `unknown` (the client could not tell).
 *
 * @since 0.2.0
 */
export const sandboxCreates = Metric.counter("effect_daytona_sandbox_creates_total", {
  description: "Sandboxes created, by whether Daytona served them from a warm pool"
})

/**
 * Runtimes handed out by a runtime pool (`DaytonaRuntime.pool`), tagged `outcome` = `ready` (a pooled runtime) |
 * `discarded` (a pooled runtime that failed its liveness check, replaced).
 *
 * @since 0.2.0
 */
export const poolHandOuts = Metric.counter("effect_daytona_pool_hand_outs_total", {
  description: "Runtimes handed out by runtime pools, and pooled runtimes discarded at hand-out"
})

/**
 * How long a runtime pool's `acquire` took, in ms (waiting for a ready runtime included).
 *
 * @since 0.2.0
 */
export const poolAcquireDuration = Metric.histogram(
  "effect_daytona_pool_acquire_ms",
  MetricBoundaries.exponential({ start: 0.5, factor: 2, count: 20 }),
  "Duration of a runtime pool's acquire in milliseconds"
)
