import { assert, describe, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Effect, Either, FiberRef, HashSet, Layer, Logger, LogLevel } from "effect"
import * as Logging from "../../src/layers/Logging.js"

const settings = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(Logging.settingsConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("Logging settings", () => {
  it.effect("defaults: info, pretty, switches off", () =>
    Effect.gen(function* () {
      const s = Either.getOrThrow(yield* settings({}))
      assert.strictEqual(s.level, LogLevel.Info)
      assert.strictEqual(s.format, "pretty")
      assert.isFalse(s.allEvents)
      assert.isFalse(s.debugRuntime)
    })
  )

  it.effect("LOG_LEVEL, LOG_FORMAT and the switches are read", () =>
    Effect.gen(function* () {
      const s = Either.getOrThrow(
        yield* settings({ LOG_LEVEL: "Warn", LOG_FORMAT: "json", LOG_ALL_EVENTS: "true", DEBUG_RUNTIME: "1" })
      )
      assert.strictEqual(s.level, LogLevel.Warning)
      assert.strictEqual(s.format, "json")
      assert.isTrue(s.allEvents)
      assert.isTrue(s.debugRuntime)
    })
  )

  it.effect("DEBUG=true lowers the level to debug but never raises it", () =>
    Effect.gen(function* () {
      assert.strictEqual(Either.getOrThrow(yield* settings({ DEBUG: "true" })).level, LogLevel.Debug)
      assert.strictEqual(
        Either.getOrThrow(yield* settings({ DEBUG: "true", LOG_LEVEL: "error" })).level,
        LogLevel.Debug
      )
      assert.strictEqual(
        Either.getOrThrow(yield* settings({ DEBUG: "true", LOG_LEVEL: "trace" })).level,
        LogLevel.Trace
      )
    })
  )

  for (const [name, value] of [
    ["LOG_LEVEL", "loud"],
    ["LOG_FORMAT", "xml"],
    ["DEBUG", "sure"],
    ["LOG_ALL_EVENTS", "maybe"],
    ["DEBUG_RUNTIME", "2"]
  ] as const) {
    it.effect(`${name}=${value} is an error naming ${name}`, () =>
      Effect.gen(function* () {
        const result = yield* settings({ [name]: value })
        assert.isTrue(Either.isLeft(result))
        const error = (result as Either.Left<ConfigError.ConfigError, unknown>).left
        assert.include(String(error), name)
      })
    )
  }

  it.effect("the layer installs the level and the switches", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const layer = Logging.layerFrom({
        level: LogLevel.Warning,
        format: "logfmt",
        allEvents: true,
        debugRuntime: false
      })
      const switches = yield* Effect.gen(function* () {
        yield* Effect.log("hidden at info")
        yield* Effect.logWarning("shown at warning")
        return yield* Logging.LogSwitchesRef
      }).pipe(
        Effect.provide(layer),
        // Capture what the installed level lets through, with a logger added beside the format's.
        Effect.provide(Logger.add(Logger.make(({ message }) => lines.push(String(message)))))
      )
      assert.deepStrictEqual(lines, ["shown at warning"])
      assert.isTrue(switches.allEvents)
      assert.isFalse(switches.debugRuntime)
    })
  )

  it.effect("Logging.layer from the environment fails on a bad value", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(
        Layer.build(Logging.layer).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LOG_FORMAT", "yaml"]])))
        )
      )
      assert.isTrue(Either.isLeft(result))
    })
  )
})

describe("Logging.layer beside NodeRuntime.runMain's logger", () => {
  it.effect("removes the pretty logger runMain adds, so no line is printed twice", () =>
    Effect.gen(function* () {
      const before = yield* FiberRef.get(FiberRef.currentLoggers).pipe(
        Effect.provide(Logger.add(Logger.prettyLoggerDefault))
      )
      assert.isTrue(HashSet.has(before, Logger.prettyLoggerDefault))
      const after = yield* FiberRef.get(FiberRef.currentLoggers).pipe(
        Effect.provide(
          Logging.layerFrom({ level: LogLevel.Info, format: "json", allEvents: false, debugRuntime: false })
        ),
        Effect.provide(Logger.add(Logger.prettyLoggerDefault))
      )
      assert.isFalse(HashSet.has(after, Logger.prettyLoggerDefault))
      assert.isFalse(HashSet.has(after, Logger.defaultLogger))
      // The pretty and default loggers are gone; one logger (of the chosen format) came in.
      assert.strictEqual(HashSet.size(HashSet.difference(after, before)), 1)
    })
  )
})
