/**
 * Validated settings for talking to Daytona, read through Effect `Config`
 * (the environment by default; any `ConfigProvider` works).
 *
 * @since 0.1.0
 */
import { Config, ConfigError, Context, Effect, Either, Layer, Option, Redacted } from "effect"

/**
 * The validated configuration.
 *
 * @since 0.1.0
 */
export interface DaytonaSettings {
  /** The Daytona API key; never printed. */
  readonly apiKey: Redacted.Redacted<string>
  /** The API base URL, without a trailing slash. */
  readonly apiUrl: string
  /** The region sandboxes are created in (`us`, `eu`, …). */
  readonly target: string
  /** `DAYTONA_DISABLE_AUTO_STOP`: when true sandboxes are created with auto-stop off. */
  readonly disableAutoStop: boolean
  /** Derived: `0` (never) when auto-stop is disabled, otherwise 60 minutes. */
  readonly autoStopIntervalMinutes: number
  /** `DAYTONA_DELETE_ON_CLOSE`: close deletes the sandbox instead of stopping it. */
  readonly deleteOnClose: boolean
  /** `DAYTONA_PUBLIC`: public previews; when false every request carries the preview token. */
  readonly public: boolean
  /** `DAYTONA_MAX_CONCURRENT_CREATES`: how many sandbox creations may be in flight at once in this process. */
  readonly maxConcurrentCreates: number
  /**
   * `DAYTONA_CREATES_PER_MINUTE`: the most sandbox creations this process starts in any minute (default 300, the
   * organization limit of Daytona's lowest tier); 0 turns the pacing off. Processes sharing one organization should
   * split the organization's rate between them.
   */
  readonly createsPerMinute: number
}

/**
 * Plain values accepted by {@link DaytonaConfig.make}; everything but the key has a default.
 *
 * @since 0.1.0
 */
export interface DaytonaSettingsInput {
  readonly apiKey: string | Redacted.Redacted<string>
  readonly apiUrl?: string | undefined
  readonly target?: string | undefined
  readonly disableAutoStop?: boolean | undefined
  readonly deleteOnClose?: boolean | undefined
  readonly public?: boolean | undefined
  readonly maxConcurrentCreates?: number | undefined
  readonly createsPerMinute?: number | undefined
}

/** The environment variable names, in one place. */
export const Variables = {
  apiKey: "DAYTONA_API_KEY",
  apiUrl: "DAYTONA_API_URL",
  target: "DAYTONA_TARGET",
  disableAutoStop: "DAYTONA_DISABLE_AUTO_STOP",
  deleteOnClose: "DAYTONA_DELETE_ON_CLOSE",
  public: "DAYTONA_PUBLIC",
  maxConcurrentCreates: "DAYTONA_MAX_CONCURRENT_CREATES",
  createsPerMinute: "DAYTONA_CREATES_PER_MINUTE"
} as const

/** Defaults for everything optional. */
export const Defaults = {
  apiUrl: "https://app.daytona.io/api",
  target: "eu",
  disableAutoStop: false,
  deleteOnClose: false,
  public: false,
  maxConcurrentCreates: 16,
  createsPerMinute: 300,
  autoStopIntervalMinutes: 60
} as const

const KEY_HELP = `create one at https://app.daytona.io/dashboard/keys and export ${Variables.apiKey}=<your key>`

const invalid = (name: string, message: string) => ConfigError.InvalidData([name], `${name} ${message}`)

/** Shows a user-supplied value in an error, short and on one line. */
const show = (value: string): string => {
  const oneLine = value.replace(/[\r\n\t]/g, " ")
  return JSON.stringify(oneLine.length > 40 ? `${oneLine.slice(0, 40)}…` : oneLine)
}

const validateApiKey = (raw: string): Either.Either<Redacted.Redacted<string>, ConfigError.ConfigError> => {
  const key = raw.trim()
  if (key.length === 0) {
    return Either.left(ConfigError.MissingData([Variables.apiKey], `${Variables.apiKey} is empty: ${KEY_HELP}`))
  }
  if (/\s/.test(key)) {
    return Either.left(
      invalid(Variables.apiKey, "contains whitespace inside it (a copy-paste error?): set it to the key alone")
    )
  }
  return Either.right(Redacted.make(key))
}

const validateApiUrl = (raw: string): Either.Either<string, ConfigError.ConfigError> => {
  const text = raw.trim()
  if (text.length === 0) {
    return Either.left(invalid(Variables.apiUrl, `is empty: unset it to use ${Defaults.apiUrl}, or set an http(s) URL`))
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return Either.left(invalid(Variables.apiUrl, `is not a URL: set an http(s) URL such as ${Defaults.apiUrl}`))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(
      invalid(
        Variables.apiUrl,
        `must be an http or https URL, not ${show(url.protocol.replace(/:$/, ""))}: set one such as ${Defaults.apiUrl}`
      )
    )
  }
  if (url.username !== "" || url.password !== "") {
    return Either.left(
      invalid(
        Variables.apiUrl,
        `must not carry credentials (user:password@): put the key in ${Variables.apiKey} and remove them from the URL`
      )
    )
  }
  if (url.search !== "" || url.hash !== "") {
    return Either.left(invalid(Variables.apiUrl, "must not have a query string or fragment: set the API base URL only"))
  }
  return Either.right(url.toString().replace(/\/+$/, ""))
}

const validateTarget = (raw: string): Either.Either<string, ConfigError.ConfigError> => {
  const text = raw.trim()
  if (text.length === 0) {
    return Either.left(invalid(Variables.target, `is empty: set a region such as "us" or "eu", or unset it for "eu"`))
  }
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(text)) {
    return Either.left(
      invalid(Variables.target, `is not a region name (${show(text)}): use letters, digits, "-" or "_", e.g. "us"`)
    )
  }
  return Either.right(text)
}

const validateMaxCreates = (value: number): Either.Either<number, ConfigError.ConfigError> =>
  Number.isInteger(value) && value >= 1 && value <= 10_000
    ? Either.right(value)
    : Either.left(invalid(Variables.maxConcurrentCreates, `must be a whole number from 1 to 10000, got ${value}`))

const validateCreatesPerMinute = (value: number): Either.Either<number, ConfigError.ConfigError> =>
  Number.isInteger(value) && value >= 0 && value <= 1_000_000
    ? Either.right(value)
    : Either.left(
        invalid(Variables.createsPerMinute, `must be a whole number from 0 (no pacing) to 1000000, got ${value}`)
      )

const booleanHelp = "use true or false (yes/no, on/off and 1/0 also work)"

/**
 * A strict boolean variable: what `Config.boolean` accepts (true/false, yes/no, on/off, 1/0); unset
 * gives `fallback`; anything else (empty included) is an error naming the variable.
 *
 * @since 0.1.0
 */
export const strictBoolean = (name: string, fallback: boolean): Config.Config<boolean> =>
  Config.string(name).pipe(
    Config.option,
    Config.mapOrFail((option) => {
      if (Option.isNone(option)) return Either.right(fallback)
      const text = option.value.trim()
      switch (text) {
        case "true":
        case "yes":
        case "on":
        case "1":
          return Either.right(true)
        case "false":
        case "no":
        case "off":
        case "0":
          return Either.right(false)
        case "":
          return Either.left(invalid(name, `is empty: ${booleanHelp}, or unset it for ${fallback}`))
        default:
          return Either.left(invalid(name, `is not a boolean (${show(text)}): ${booleanHelp}`))
      }
    })
  )

const optionalString = <A>(
  name: string,
  fallback: A,
  validate: (raw: string) => Either.Either<A, ConfigError.ConfigError>
): Config.Config<A> =>
  Config.string(name).pipe(
    Config.option,
    Config.mapOrFail((option) => (Option.isNone(option) ? Either.right(fallback) : validate(option.value)))
  )

const apiKeyConfig: Config.Config<Redacted.Redacted<string>> = Config.string(Variables.apiKey).pipe(
  Config.option,
  Config.mapOrFail((option) =>
    Option.isNone(option)
      ? Either.left(ConfigError.MissingData([Variables.apiKey], `${Variables.apiKey} is not set: ${KEY_HELP}`))
      : validateApiKey(option.value)
  )
)

const maxCreatesConfig: Config.Config<number> = optionalString(
  Variables.maxConcurrentCreates,
  Defaults.maxConcurrentCreates as number,
  (raw) => {
    const text = raw.trim()
    return /^\d+$/.test(text)
      ? validateMaxCreates(Number(text))
      : Either.left(
          invalid(Variables.maxConcurrentCreates, `is not a whole number (${show(text)}): set a number from 1 to 10000`)
        )
  }
)

const createsPerMinuteConfig: Config.Config<number> = optionalString(
  Variables.createsPerMinute,
  Defaults.createsPerMinute as number,
  (raw) => {
    const text = raw.trim()
    return /^\d+$/.test(text)
      ? validateCreatesPerMinute(Number(text))
      : Either.left(
          invalid(
            Variables.createsPerMinute,
            `is not a whole number (${show(text)}): set the creates per minute, e.g. 300, or 0 for no pacing`
          )
        )
  }
)

const finish = (values: Omit<DaytonaSettings, "autoStopIntervalMinutes">): DaytonaSettings => ({
  ...values,
  autoStopIntervalMinutes: values.disableAutoStop ? 0 : Defaults.autoStopIntervalMinutes
})

/**
 * The `Config` that reads every variable; errors name the variable and say what to set.
 * Every error is collected (not only the first), and none contains the key.
 *
 * @since 0.1.0
 */
export const settingsConfig: Config.Config<DaytonaSettings> = Config.all({
  apiKey: apiKeyConfig,
  apiUrl: optionalString(Variables.apiUrl, Defaults.apiUrl as string, validateApiUrl),
  target: optionalString(Variables.target, Defaults.target as string, validateTarget),
  disableAutoStop: strictBoolean(Variables.disableAutoStop, Defaults.disableAutoStop),
  deleteOnClose: strictBoolean(Variables.deleteOnClose, Defaults.deleteOnClose),
  public: strictBoolean(Variables.public, Defaults.public),
  maxConcurrentCreates: maxCreatesConfig,
  createsPerMinute: createsPerMinuteConfig
}).pipe(Config.map(finish))

/**
 * Replaces every occurrence of `secret` in the messages of a `ConfigError`, so that a key pasted into
 * the wrong variable is never echoed back.
 */
export const scrubConfigError = (error: ConfigError.ConfigError, secret: string): ConfigError.ConfigError => {
  if (secret.length === 0) return error
  const clean = (text: string) => text.split(secret).join("<redacted>")
  switch (error._op) {
    case "And":
      return ConfigError.And(scrubConfigError(error.left, secret), scrubConfigError(error.right, secret))
    case "Or":
      return ConfigError.Or(scrubConfigError(error.left, secret), scrubConfigError(error.right, secret))
    case "InvalidData":
      return ConfigError.InvalidData([...error.path], clean(error.message))
    case "MissingData":
      return ConfigError.MissingData([...error.path], clean(error.message))
    case "SourceUnavailable":
      return ConfigError.SourceUnavailable([...error.path], clean(error.message), error.cause)
    case "Unsupported":
      return ConfigError.Unsupported([...error.path], clean(error.message))
  }
}

const loadSettings: Effect.Effect<DaytonaSettings, ConfigError.ConfigError> = Effect.catchAll(
  Effect.suspend(() => settingsConfig),
  (error) =>
    Config.option(Config.string(Variables.apiKey)).pipe(
      Effect.orElseSucceed(() => Option.none<string>()),
      Effect.flatMap((key) => Effect.fail(Option.isSome(key) ? scrubConfigError(error, key.value.trim()) : error))
    )
)

/**
 * The configuration service.
 *
 * @since 0.1.0
 * @category tags
 */
export class DaytonaConfig extends Context.Tag("effect-daytona/DaytonaConfig")<DaytonaConfig, DaytonaSettings>() {
  /** The `Config` descriptor (environment variable names as in the README). */
  static readonly config = settingsConfig

  /** Reads and validates the settings through the current `ConfigProvider` (the environment by default). */
  static readonly layer: Layer.Layer<DaytonaConfig, ConfigError.ConfigError> = Layer.effect(DaytonaConfig, loadSettings)

  /** Reads and validates the settings as an Effect (what {@link DaytonaConfig.layer} runs). */
  static readonly load = loadSettings

  /** Validates plain values (defaults filled in) with the same rules as the environment. */
  static readonly make = (input: DaytonaSettingsInput): Either.Either<DaytonaSettings, ConfigError.ConfigError> => {
    const key = Redacted.isRedacted(input.apiKey) ? Redacted.value(input.apiKey) : input.apiKey
    const apiKey = validateApiKey(key)
    const apiUrl = input.apiUrl === undefined ? Either.right(Defaults.apiUrl as string) : validateApiUrl(input.apiUrl)
    const target = input.target === undefined ? Either.right(Defaults.target as string) : validateTarget(input.target)
    const maxConcurrentCreates = validateMaxCreates(input.maxConcurrentCreates ?? Defaults.maxConcurrentCreates)
    const createsPerMinute = validateCreatesPerMinute(input.createsPerMinute ?? Defaults.createsPerMinute)
    const errors = [
      Either.getLeft(apiKey),
      Either.getLeft(apiUrl),
      Either.getLeft(target),
      Either.getLeft(maxConcurrentCreates),
      Either.getLeft(createsPerMinute)
    ].flatMap((left) => (Option.isSome(left) ? [left.value] : []))
    if (errors.length > 0) return Either.left(scrubConfigError(errors.reduce(ConfigError.And), key.trim()))
    return Either.all({ apiKey, apiUrl, target, maxConcurrentCreates, createsPerMinute }).pipe(
      Either.map((valid) =>
        finish({
          ...valid,
          disableAutoStop: input.disableAutoStop ?? Defaults.disableAutoStop,
          deleteOnClose: input.deleteOnClose ?? Defaults.deleteOnClose,
          public: input.public ?? Defaults.public
        })
      )
    )
  }

  /** A layer from plain values, validated by {@link DaytonaConfig.make}. */
  static readonly layerFrom = (input: DaytonaSettingsInput): Layer.Layer<DaytonaConfig, ConfigError.ConfigError> =>
    Layer.effect(
      DaytonaConfig,
      Effect.suspend(() => DaytonaConfig.make(input))
    )
}
