/**
 * Effect's Logger configured from the environment:
 *
 * - `LOG_LEVEL` — `all|trace|debug|info|warning|error|fatal|none` (default `info`; `warn` is accepted)
 * - `DEBUG=true` — at least the debug level
 * - `LOG_FORMAT` — `pretty|json|logfmt` (default `pretty`)
 * - `LOG_ALL_EVENTS=true` — log every runtime event
 * - `DEBUG_RUNTIME=true` — log the traffic with the action execution server
 *
 * Logs go to stderr, so standard output stays clean for results (`--json`).
 *
 * @since 0.1.0
 */
import { Config, ConfigError, Effect, Either, Layer, Logger, LogLevel, Option } from "effect"
import { type LogSwitches, LogSwitchesRef } from "../services/LogSwitches.js"

/**
 * The log format.
 *
 * @since 0.1.0
 */
export type LogFormat = "pretty" | "json" | "logfmt"

export { type LogSwitches, LogSwitchesRef } from "../services/LogSwitches.js"

/**
 * The validated logging settings.
 *
 * @since 0.1.0
 */
export interface LoggingSettings extends LogSwitches {
  readonly level: LogLevel.LogLevel
  readonly format: LogFormat
}

const levels: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

const flag = (name: string): Config.Config<boolean> =>
  Config.string(name).pipe(
    Config.option,
    Config.mapOrFail((option) => {
      if (Option.isNone(option)) return Either.right(false)
      const text = option.value.trim()
      if (["true", "yes", "on", "1"].includes(text)) return Either.right(true)
      if (["false", "no", "off", "0", ""].includes(text)) return Either.right(false)
      return Either.left(
        ConfigError.InvalidData(
          [name],
          `${name} is not a boolean (${JSON.stringify(text.slice(0, 40))}): use true or false (yes/no, on/off and 1/0 also work)`
        )
      )
    })
  )

/**
 * The `Config` for logging.
 *
 * @since 0.1.0
 */
export const settingsConfig: Config.Config<LoggingSettings> = Config.all({
  level: Config.string("LOG_LEVEL").pipe(
    Config.option,
    Config.mapOrFail((option) => {
      if (Option.isNone(option) || option.value.trim() === "") return Either.right(LogLevel.Info)
      const level = levels[option.value.trim().toLowerCase()]
      return level === undefined
        ? Either.left(
            ConfigError.InvalidData(
              ["LOG_LEVEL"],
              `LOG_LEVEL is not a level (${JSON.stringify(option.value.slice(0, 40))}): use one of ${Object.keys(levels).join(", ")}`
            )
          )
        : Either.right(level)
    })
  ),
  debug: flag("DEBUG"),
  format: Config.string("LOG_FORMAT").pipe(
    Config.option,
    Config.mapOrFail((option): Either.Either<LogFormat, ConfigError.ConfigError> => {
      if (Option.isNone(option) || option.value.trim() === "") return Either.right("pretty")
      const format = option.value.trim().toLowerCase()
      return format === "pretty" || format === "json" || format === "logfmt"
        ? Either.right(format)
        : Either.left(
            ConfigError.InvalidData(
              ["LOG_FORMAT"],
              `LOG_FORMAT is not a format (${JSON.stringify(option.value.slice(0, 40))}): use pretty, json or logfmt`
            )
          )
    })
  ),
  allEvents: flag("LOG_ALL_EVENTS"),
  debugRuntime: flag("DEBUG_RUNTIME")
}).pipe(
  Config.map(({ debug, ...rest }) => ({
    ...rest,
    // DEBUG=true lowers the level to debug, never raises it.
    level: debug && LogLevel.greaterThan(rest.level, LogLevel.Debug) ? LogLevel.Debug : rest.level
  }))
)

/**
 * The logger of a format, writing to stderr.
 *
 * @since 0.1.0
 */
export const loggerOf = (format: LogFormat): Logger.Logger<unknown, void> => {
  switch (format) {
    case "json":
      return Logger.withConsoleError(Logger.jsonLogger)
    case "logfmt":
      return Logger.withConsoleError(Logger.logfmtLogger)
    case "pretty":
      return Logger.prettyLogger({ stderr: true })
  }
}

/**
 * A layer that installs the logger, level and switches of the given settings.
 *
 * @since 0.1.0
 */
export const layerFrom = (settings: LoggingSettings): Layer.Layer<LogSwitchesRef> =>
  Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, loggerOf(settings.format)),
    // NodeRuntime.runMain installs a pretty logger of its own beside the default one: without this,
    // every line would be printed twice, the second time on stdout.
    Logger.remove(Logger.prettyLoggerDefault),
    Logger.minimumLogLevel(settings.level),
    Layer.succeed(LogSwitchesRef, { allEvents: settings.allEvents, debugRuntime: settings.debugRuntime })
  )

/**
 * The logger configured from the environment (or the current `ConfigProvider`); an invalid value
 * fails with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<LogSwitchesRef, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(
    Effect.suspend(() => settingsConfig),
    layerFrom
  )
)
