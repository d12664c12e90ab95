/**
 * What the runtime logs beyond the level: every runtime event, and the traffic with the action execution server. A
 * service of its own so that programs read it without knowing the logging layer, which provides it
 * (`Logging.layer`, from `LOG_ALL_EVENTS` and `DEBUG_RUNTIME`).
 *
 * @since 0.2.0
 */
import { Context } from "effect"

/**
 * Switches the runtime reads to decide what to log beyond the level.
 *
 * @since 0.1.0
 */
export interface LogSwitches {
  /** Log every runtime event (at info). */
  readonly allEvents: boolean
  /** Log each request to and response from the action execution server (at debug). */
  readonly debugRuntime: boolean
}

/**
 * The current {@link LogSwitches}; both off unless `Logging.layer` (or a test) provides them.
 *
 * @since 0.1.0
 */
export class LogSwitchesRef extends Context.Reference<LogSwitchesRef>()("effect-daytona/LogSwitches", {
  defaultValue: (): LogSwitches => ({ allEvents: false, debugRuntime: false })
}) {}
