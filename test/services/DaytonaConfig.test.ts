import { assert, describe, it } from "@effect/vitest"
import { inspect } from "node:util"
import { ConfigError, ConfigProvider, Effect, Either, Layer, Logger, LogLevel, Redacted } from "effect"
import { DaytonaConfig, Defaults, Variables } from "../../src/services/DaytonaConfig.js"
import { loadConfig, pathsOf } from "../support/config.js"

const CANARY_KEY = "dtn_CANARY_e5b1c0ffee_key"

const load = loadConfig

describe("DaytonaConfig defaults", () => {
  it.effect("every default, with only the key set", () =>
    Effect.gen(function* () {
      const result = yield* load({ DAYTONA_API_KEY: CANARY_KEY })
      assert.isTrue(Either.isRight(result))
      const config = Either.getOrThrow(result)
      assert.strictEqual(Redacted.value(config.apiKey), CANARY_KEY)
      assert.strictEqual(config.apiUrl, "https://app.daytona.io/api")
      assert.strictEqual(config.target, "eu")
      assert.strictEqual(config.disableAutoStop, false)
      assert.strictEqual(config.autoStopIntervalMinutes, 60)
      assert.strictEqual(config.deleteOnClose, false)
      assert.strictEqual(config.public, false)
      assert.strictEqual(config.maxConcurrentCreates, Defaults.maxConcurrentCreates)
    })
  )

  it.effect("every variable set", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(
        yield* load({
          DAYTONA_API_KEY: `  ${CANARY_KEY}\n`,
          DAYTONA_API_URL: "http://127.0.0.1:3000/api/",
          DAYTONA_TARGET: "us",
          DAYTONA_DISABLE_AUTO_STOP: "yes",
          DAYTONA_DELETE_ON_CLOSE: "1",
          DAYTONA_PUBLIC: "on",
          DAYTONA_MAX_CONCURRENT_CREATES: "4"
        })
      )
      assert.strictEqual(Redacted.value(config.apiKey), CANARY_KEY, "surrounding whitespace is trimmed")
      assert.strictEqual(config.apiUrl, "http://127.0.0.1:3000/api", "a trailing slash is dropped")
      assert.strictEqual(config.target, "us")
      assert.strictEqual(config.disableAutoStop, true)
      assert.strictEqual(config.autoStopIntervalMinutes, 0, "auto-stop disabled means interval 0 (never)")
      assert.strictEqual(config.deleteOnClose, true)
      assert.strictEqual(config.public, true)
      assert.strictEqual(config.maxConcurrentCreates, 4)
    })
  )

  it.effect("every false spelling is false", () =>
    Effect.gen(function* () {
      for (const value of ["false", "no", "off", "0"]) {
        const config = Either.getOrThrow(yield* load({ DAYTONA_API_KEY: "k", DAYTONA_PUBLIC: value }))
        assert.strictEqual(config.public, false, value)
      }
    })
  )

  it("the key prints as <redacted>", () => {
    const config = Either.getOrThrow(DaytonaConfig.make({ apiKey: CANARY_KEY }))
    assert.notInclude(JSON.stringify(config), CANARY_KEY)
    assert.notInclude(String(config.apiKey), CANARY_KEY)
    assert.notInclude(inspect(config), CANARY_KEY)
  })
})

/** [variable it must name, environment] — each one invalid. */
const invalid: ReadonlyArray<readonly [string, Record<string, string>]> = [
  ["DAYTONA_API_KEY", {}],
  ["DAYTONA_API_KEY", { DAYTONA_API_KEY: "" }],
  ["DAYTONA_API_KEY", { DAYTONA_API_KEY: "   " }],
  ["DAYTONA_API_KEY", { DAYTONA_API_KEY: "dtn_abc def" }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: "" }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: "not a url" }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: "ftp://app.daytona.io/api" }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: "ws://app.daytona.io/api" }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: "file:///etc/passwd" }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: "app.daytona.io/api" }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: `https://user:${CANARY_KEY}@host/api` }],
  ["DAYTONA_API_URL", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_API_URL: "https://host/api?key=1" }],
  ["DAYTONA_TARGET", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_TARGET: "" }],
  ["DAYTONA_TARGET", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_TARGET: "u s" }],
  ["DAYTONA_TARGET", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_TARGET: CANARY_KEY + "!" }],
  ["DAYTONA_DISABLE_AUTO_STOP", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_DISABLE_AUTO_STOP: "maybe" }],
  ["DAYTONA_DISABLE_AUTO_STOP", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_DISABLE_AUTO_STOP: "" }],
  ["DAYTONA_DELETE_ON_CLOSE", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_DELETE_ON_CLOSE: "2" }],
  ["DAYTONA_DELETE_ON_CLOSE", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_DELETE_ON_CLOSE: "TRUE" }],
  ["DAYTONA_PUBLIC", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_PUBLIC: "y" }],
  ["DAYTONA_PUBLIC", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_PUBLIC: CANARY_KEY }],
  ["DAYTONA_MAX_CONCURRENT_CREATES", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_MAX_CONCURRENT_CREATES: "0" }],
  ["DAYTONA_MAX_CONCURRENT_CREATES", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_MAX_CONCURRENT_CREATES: "-3" }],
  ["DAYTONA_MAX_CONCURRENT_CREATES", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_MAX_CONCURRENT_CREATES: "1.5" }],
  ["DAYTONA_MAX_CONCURRENT_CREATES", { DAYTONA_API_KEY: CANARY_KEY, DAYTONA_MAX_CONCURRENT_CREATES: "lots" }]
]

describe("DaytonaConfig invalid input", () => {
  it("covers at least 15 invalid inputs", () => {
    assert.isAtLeast(invalid.length, 15)
  })

  for (const [variable, env] of invalid) {
    it.effect(`${variable}=${JSON.stringify(env[variable] ?? "<unset>")} fails naming ${variable}`, () =>
      Effect.gen(function* () {
        const result = yield* load(env)
        assert.isTrue(Either.isLeft(result), "must fail")
        const error = (result as Either.Left<ConfigError.ConfigError, unknown>).left
        assert.include(pathsOf(error), variable, "the error's path names the variable")
        const text = String(error)
        assert.include(text, variable, "the message names the variable")
        assert.match(text, /(set|use|unset|put|remove|create)/i, "the message says what to do")
        assert.notInclude(text, CANARY_KEY, "the message never contains the key")
        assert.notInclude(JSON.stringify(error), CANARY_KEY)
      })
    )
  }

  it.effect("every error is reported, not only the first", () =>
    Effect.gen(function* () {
      const result = yield* load({ DAYTONA_API_URL: "ftp://x", DAYTONA_PUBLIC: "maybe" })
      assert.isTrue(Either.isLeft(result))
      const paths = pathsOf((result as Either.Left<ConfigError.ConfigError, unknown>).left)
      assert.includeMembers([...paths], ["DAYTONA_API_KEY", "DAYTONA_API_URL", "DAYTONA_PUBLIC"])
    })
  )

  it("make validates plain values with the same rules", () => {
    const bad = DaytonaConfig.make({ apiKey: CANARY_KEY, apiUrl: "ftp://x", target: "" })
    assert.isTrue(Either.isLeft(bad))
    const text = String((bad as Either.Left<ConfigError.ConfigError, unknown>).left)
    assert.include(text, Variables.apiUrl)
    assert.include(text, Variables.target)
    assert.notInclude(text, CANARY_KEY)
  })
})

describe("DaytonaConfig secrets in logs", () => {
  it.effect("logging the config or its failure never shows the key (canary)", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message, cause }) => lines.push(`${String(message)} ${String(cause)}`))
      )
      const good = Layer.provide(
        DaytonaConfig.layer,
        Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DAYTONA_API_KEY", CANARY_KEY]])))
      )
      yield* Effect.gen(function* () {
        const config = yield* DaytonaConfig
        yield* Effect.log("config", config)
        yield* Effect.logDebug(config.apiKey)
      }).pipe(Effect.provide(good), Effect.provide(capture), Logger.withMinimumLogLevel(LogLevel.All))

      const bad = Layer.provide(
        DaytonaConfig.layer,
        Layer.setConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["DAYTONA_API_KEY", CANARY_KEY],
              ["DAYTONA_TARGET", `${CANARY_KEY}!`]
            ])
          )
        )
      )
      yield* DaytonaConfig.pipe(
        Effect.provide(bad),
        Effect.tapErrorCause((cause) => Effect.logError("failed", cause)),
        Effect.ignore,
        Effect.provide(capture),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      assert.isAtLeast(lines.length, 3)
      for (const line of lines) assert.notInclude(line, CANARY_KEY)
    })
  )
})
