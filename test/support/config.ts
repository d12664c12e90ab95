/**
 * Helpers for configuration tests: load `DaytonaConfig` from a map, and read the variables a
 * `ConfigError` names.
 */
import { ConfigError, ConfigProvider, Effect } from "effect"
import { DaytonaConfig } from "../../src/services/DaytonaConfig.js"

/** Loads the settings from `env` (and nothing else), as an `Either`. */
export const loadConfig = (env: Record<string, string>) =>
  DaytonaConfig.load.pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.either
  )

/** Every variable a ConfigError names in its paths. */
export const pathsOf = (error: ConfigError.ConfigError): ReadonlyArray<string> =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, l, r) => [...l, ...r],
    orCase: (_, l, r) => [...l, ...r],
    invalidDataCase: (_, path) => [path.join(".")],
    missingDataCase: (_, path) => [path.join(".")],
    sourceUnavailableCase: (_, path) => [path.join(".")],
    unsupportedCase: (_, path) => [path.join(".")]
  })
