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
