/**
 * Bad input: a corpus of bad configurations (every variable; wrong types, empty, out of range, URLs with
 * credentials or the wrong scheme, whitespace, very long values, unicode, the key pasted into another
 * variable) through `DaytonaConfig.load` — a typed ConfigError naming the variable, never the key — and a
 * subset (every variable, the logging ones too) through the built CLI: exit 2, a message naming the
 * variable, no stack trace, never a hang. Bad command lines exit 2; invalid runtime options are
 * `InvalidRuntimeOptions` before anything is created, in process and through the CLI.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigError, Effect, Either, Exit, Option } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import type { RuntimeOptions } from "../../src/programs/Options.js"
import { cleanEnv } from "../cli/support.js"
import { clockedScoped, harness } from "../support/harness.js"
import { assertExit, assertReported, runBounded } from "./support-cli.js"
import { startStub } from "./support-stubs.js"
import { loadConfig, pathsOf } from "../support/config.js"

/** A key of the real shape (`dtn_` and 64 hex digits): it must never be echoed back. */
const KEY = `dtn_${"c0ffee5eed".repeat(6)}beef`

const load = loadConfig

/** [what is wrong, the variable the error must name, the value (undefined: unset)]; the key is valid unless named. */
const corpus: ReadonlyArray<readonly [string, string, string | undefined]> = [
  ["unset", "DAYTONA_API_KEY", undefined],
  ["empty", "DAYTONA_API_KEY", ""],
  ["only spaces", "DAYTONA_API_KEY", "   "],
  ["only a tab and a newline", "DAYTONA_API_KEY", "\t\n"],
  ["a space inside", "DAYTONA_API_KEY", "dtn_abc def"],
  ["two keys pasted on two lines", "DAYTONA_API_KEY", `${KEY}\n${KEY}`],
  ["very long, with a space", "DAYTONA_API_KEY", `${"k".repeat(100_000)} x`],
  ["empty", "DAYTONA_API_URL", ""],
  ["only spaces", "DAYTONA_API_URL", "   "],
  ["not a URL", "DAYTONA_API_URL", "not a url"],
  ["no scheme", "DAYTONA_API_URL", "app.daytona.io/api"],
  ["ftp scheme", "DAYTONA_API_URL", "ftp://app.daytona.io/api"],
  ["ws scheme", "DAYTONA_API_URL", "ws://app.daytona.io/api"],
  ["file scheme", "DAYTONA_API_URL", "file:///etc/passwd"],
  ["javascript scheme", "DAYTONA_API_URL", "javascript:alert(1)"],
  ["a unicode scheme", "DAYTONA_API_URL", "httpś://app.daytona.io/api"],
  ["user and the key as password", "DAYTONA_API_URL", `https://user:${KEY}@app.daytona.io/api`],
  ["the key as password only", "DAYTONA_API_URL", `https://:${KEY}@app.daytona.io/api`],
  ["the key in the query", "DAYTONA_API_URL", `https://app.daytona.io/api?token=${KEY}`],
  ["a fragment", "DAYTONA_API_URL", "https://app.daytona.io/api#keys"],
  ["no host", "DAYTONA_API_URL", "http://"],
  ["a port out of range", "DAYTONA_API_URL", "https://app.daytona.io:99999/api"],
  ["a space in the host", "DAYTONA_API_URL", "https://app.day tona.io/api"],
  ["the key pasted", "DAYTONA_API_URL", KEY],
  ["very long", "DAYTONA_API_URL", "x".repeat(100_000)],
  ["empty", "DAYTONA_TARGET", ""],
  ["a space inside", "DAYTONA_TARGET", "u s"],
  ["unicode", "DAYTONA_TARGET", "éu"],
  ["shell characters", "DAYTONA_TARGET", "eu;rm -rf /"],
  ["64 characters", "DAYTONA_TARGET", "r".repeat(64)],
  ["the key pasted", "DAYTONA_TARGET", KEY],
  ["maybe", "DAYTONA_DISABLE_AUTO_STOP", "maybe"],
  ["empty", "DAYTONA_DISABLE_AUTO_STOP", ""],
  ["a number", "DAYTONA_DISABLE_AUTO_STOP", "60"],
  ["2", "DAYTONA_DELETE_ON_CLOSE", "2"],
  ["upper case", "DAYTONA_DELETE_ON_CLOSE", "TRUE"],
  ["a Cyrillic e", "DAYTONA_DELETE_ON_CLOSE", "tru\u0435"],
  ["y", "DAYTONA_PUBLIC", "y"],
  ["1.0", "DAYTONA_PUBLIC", "1.0"],
  ["the key pasted", "DAYTONA_PUBLIC", KEY],
  ["zero", "DAYTONA_MAX_CONCURRENT_CREATES", "0"],
  ["negative", "DAYTONA_MAX_CONCURRENT_CREATES", "-3"],
  ["a fraction", "DAYTONA_MAX_CONCURRENT_CREATES", "1.5"],
  ["a word", "DAYTONA_MAX_CONCURRENT_CREATES", "lots"],
  ["above the maximum", "DAYTONA_MAX_CONCURRENT_CREATES", "10001"],
  ["twenty digits", "DAYTONA_MAX_CONCURRENT_CREATES", "99999999999999999999"],
  ["empty", "DAYTONA_MAX_CONCURRENT_CREATES", ""],
  ["an Arabic-Indic digit", "DAYTONA_MAX_CONCURRENT_CREATES", "\u0663"],
  ["exponent notation", "DAYTONA_MAX_CONCURRENT_CREATES", "1e3"],
  ["hexadecimal", "DAYTONA_MAX_CONCURRENT_CREATES", "0x10"],
  ["the key pasted", "DAYTONA_MAX_CONCURRENT_CREATES", KEY]
]

describe("bad configurations through DaytonaConfig.load", () => {
  it("the corpus holds at least 30 bad configurations, and every variable", () => {
    assert.isAtLeast(corpus.length, 30)
    assert.strictEqual(new Set(corpus.map(([, variable]) => variable)).size, 7)
  })

  for (const [what, variable, value] of corpus) {
    it.effect(`${variable}: ${what}`, () =>
      Effect.gen(function* () {
        const env: Record<string, string> = variable === "DAYTONA_API_KEY" ? {} : { DAYTONA_API_KEY: KEY }
        if (value !== undefined) env[variable] = value
        const result = yield* load(env)
        if (Either.isRight(result)) return assert.fail(`accepted ${JSON.stringify(value?.slice(0, 60))}`)
        const error = result.left
        assert.isTrue(ConfigError.isConfigError(error), "a typed ConfigError")
        assert.include(pathsOf(error), variable, "its path names the variable")
        const text = String(error)
        assert.include(text, variable, "its message names the variable")
        assert.match(text, /(set|use|unset|put|remove|create)/i, "its message says what to do")
        assert.isBelow(text.length, 2_000, "a short message, whatever the value")
        for (const shown of [text, JSON.stringify(error)]) assert.notInclude(shown, KEY, "the key never shows")
      })
    )
  }

  it.effect("every variable bad at once: every one is named, the key in none", () =>
    Effect.gen(function* () {
      const result = yield* load({
        DAYTONA_API_KEY: "a b",
        DAYTONA_API_URL: `https://u:${KEY}@host/api`,
        DAYTONA_TARGET: KEY,
        DAYTONA_DISABLE_AUTO_STOP: "maybe",
        DAYTONA_DELETE_ON_CLOSE: KEY,
        DAYTONA_PUBLIC: "2",
        DAYTONA_MAX_CONCURRENT_CREATES: "0"
      })
      if (Either.isRight(result)) return assert.fail("accepted")
      const paths = pathsOf(result.left)
      for (const variable of [
        "DAYTONA_API_KEY",
        "DAYTONA_API_URL",
        "DAYTONA_TARGET",
        "DAYTONA_DISABLE_AUTO_STOP",
        "DAYTONA_DELETE_ON_CLOSE",
        "DAYTONA_PUBLIC",
        "DAYTONA_MAX_CONCURRENT_CREATES"
      ]) {
        assert.include(paths, variable)
      }
      assert.notInclude(String(result.left), KEY)
    })
  )
})

/** [what is wrong, the variable, its value, the command line]. */
const cliCorpus: ReadonlyArray<readonly [string, string, string | undefined, ReadonlyArray<string>]> = [
  ["unset", "DAYTONA_API_KEY", undefined, ["exec", "--", "echo", "hi"]],
  ["a space inside", "DAYTONA_API_KEY", "dtn_abc def", ["connect"]],
  ["the key as password", "DAYTONA_API_URL", `https://user:${KEY}@app.daytona.io/api`, ["list"]],
  ["the key pasted", "DAYTONA_API_URL", KEY, ["list", "--json"]],
  ["the key pasted", "DAYTONA_TARGET", KEY, ["stop", "--sid", "x"]],
  ["maybe", "DAYTONA_DISABLE_AUTO_STOP", "maybe", ["exec", "--sid", "x", "--", "true"]],
  ["2", "DAYTONA_DELETE_ON_CLOSE", "2", ["delete", "--sid", "x"]],
  ["the key pasted", "DAYTONA_PUBLIC", KEY, ["exec", "--emulator", "--", "true"]],
  ["zero", "DAYTONA_MAX_CONCURRENT_CREATES", "0", ["reap"]],
  ["loud", "LOG_LEVEL", "loud", ["list"]]
]

/** A valid configuration that reaches nothing, with `extra` on top (undefined: unset). */
const envWith = (extra: Record<string, string | undefined>) =>
  cleanEnv({ DAYTONA_API_URL: "http://127.0.0.1:9/api", DAYTONA_API_KEY: KEY, ...extra })

describe.concurrent("bad configurations through the built CLI: exit 2, the variable named, no stack trace", () => {
  for (const [what, variable, value, args] of cliCorpus) {
    it(`${variable} ${what}: ${args.join(" ")}`, async () => {
      const run = await runBounded(args, envWith({ [variable]: value }), 30_000)
      assertExit(run, 2, variable)
      assert.include(run.stderr, variable, "stderr names the variable")
      assertReported(run, variable)
      for (const stream of [run.stdout, run.stderr]) assert.notInclude(stream, KEY, "the key never shows")
      if (args.includes("--json")) {
        const doc = JSON.parse(run.stdout) as { ok: boolean; error: { exitCode: number; message: string } }
        assert.isFalse(doc.ok)
        assert.strictEqual(doc.error.exitCode, 2)
        assert.include(doc.error.message, variable)
      } else {
        assert.strictEqual(run.stdout, "", "nothing on stdout")
      }
    })
  }

  const all: ReadonlyArray<readonly [string, Record<string, string>]> = [
    [
      "every Daytona variable bad at once",
      {
        DAYTONA_API_KEY: "a b",
        DAYTONA_API_URL: `https://u:${KEY}@host/api`,
        DAYTONA_TARGET: KEY,
        DAYTONA_DISABLE_AUTO_STOP: "maybe",
        DAYTONA_DELETE_ON_CLOSE: "tru\u0435",
        DAYTONA_PUBLIC: KEY,
        DAYTONA_MAX_CONCURRENT_CREATES: "1e3"
      }
    ],
    [
      "every logging variable bad at once",
      { LOG_LEVEL: "loud", LOG_FORMAT: "xml", DEBUG: "sometimes", LOG_ALL_EVENTS: "2", DEBUG_RUNTIME: KEY }
    ]
  ]
  for (const [what, extra] of all) {
    it(`${what}: each one is named`, async () => {
      const run = await runBounded(["list"], envWith(extra))
      assertExit(run, 2, what)
      assertReported(run, what, { twoLines: true })
      for (const variable of Object.keys(extra)) assert.include(run.stderr, variable)
      assert.notInclude(run.stdout + run.stderr, KEY, "the key never shows")
    })
  }

  it("doctor reports a bad variable as a failed check and exits 2", async () => {
    const run = await runBounded(["doctor"], envWith({ DAYTONA_API_URL: `ftp://${KEY}@x/api` }))
    assertExit(run, 2, "doctor")
    assert.match(run.stdout, /FAIL +configuration +.*DAYTONA_API_URL/)
    assert.notInclude(run.stdout + run.stderr, KEY)
    assert.notMatch(run.stdout + run.stderr, /^\s+at\s/m)
  })

  it("at least 10 bad configurations, and every variable (the logging ones too)", () => {
    assert.isAtLeast(cliCorpus.length, 10)
    const named = new Set([...cliCorpus.map(([, variable]) => variable), ...all.flatMap(([, env]) => Object.keys(env))])
    assert.strictEqual(named.size, 12)
  })
})

describe.concurrent("bad command lines exit 2 with a hint, no stack trace", () => {
  const usage: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
    ["no command", [], /give a command/],
    ["an unknown command", ["frobnicate"], /Invalid subcommand/],
    ["an unknown flag", ["list", "--frobnicate"], /fix: see effect-daytona --help/],
    ["stop without --sid", ["stop"], /sid/],
    ["exec without a command", ["exec"], /fix: see effect-daytona --help/],
    ["a word for --older-than", ["reap", "--older-than", "soon"], /--older-than: "soon" is not a duration/],
    ["a word for --port", ["emulator", "--port", "abc"], /'abc' is not a integer/]
  ]
  for (const [what, args, pattern] of usage) {
    it(what, async () => {
      const run = await runBounded(args, envWith({}))
      assertExit(run, 2, what)
      assert.match(run.stderr, pattern)
      assert.notMatch(run.stdout + run.stderr, /^\s+at\s/m, "no stack trace")
    })
  }
})

describe.concurrent("invalid runtime options through the CLI: exit 2, nothing asked of Daytona", () => {
  const sids: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["a space", ["exec", "--sid", "bad sid", "--", "true"]],
    ["a leading dash", ["connect", "--sid=-x"]],
    ["unicode and --json", ["exec", "--sid", "sïd", "--json", "--", "true"]]
  ]
  for (const [what, args] of sids) {
    it(`--sid with ${what}`, async () => {
      const stub = await startStub(() => undefined)
      try {
        const run = await runBounded(args, cleanEnv({ DAYTONA_API_URL: `${stub.origin}/api`, DAYTONA_API_KEY: KEY }))
        assertExit(run, 2, what)
        assertReported(run, what)
        assert.match(run.stderr, /^error: Invalid --sid$/m)
        assert.match(run.stderr, /fix: Use 1–63 letters/)
        assert.deepStrictEqual(stub.requests, [], "no request reached the API")
        if (args.includes("--json")) {
          assert.strictEqual((JSON.parse(run.stdout) as { error: { tag: string } }).error.tag, "InvalidRuntimeOptions")
        }
      } finally {
        await stub.close()
      }
    })
  }
})

describe("a mistyped exec option", () => {
  it("exits 2 naming the option; no sandbox is asked for", async () => {
    const stub = await startStub(() => undefined)
    try {
      const env = cleanEnv({ DAYTONA_API_URL: `${stub.origin}/api`, DAYTONA_API_KEY: KEY })
      for (const args of [
        ["exec", "--jsn", "echo", "hi"],
        ["exec", "--", "--jsn echo hi"]
      ]) {
        const run = await runBounded(args, env)
        assertExit(run, 2, args.join(" "))
        assert.match(run.stderr, /^error: Unknown option for exec: --jsn$/m)
        assert.match(run.stderr, /fix: Put exec's options before --, and the command after it/)
        assert.notMatch(run.stdout + run.stderr, /^\s+at\s/m, "no stack trace")
      }
      assert.deepStrictEqual(stub.requests, [], "no request reached the API")
    } finally {
      await stub.close()
    }
  })
})

describe("invalid runtime options in process: InvalidRuntimeOptions naming the option, nothing created", () => {
  const invalid: ReadonlyArray<readonly [string, RuntimeOptions]> = [
    ["sid", { sid: "s".repeat(64) }],
    ["sid", { sid: "-leading" }],
    ["sid", { sid: "ümlaut" }],
    ["sid", { sid: "two\nlines" }],
    ["workspacePath", { workspacePath: "/work space" }],
    ["workspacePath", { workspacePath: "/w;rm -rf /" }],
    ["workspacePath", { workspacePath: "/$(id)" }],
    ["workspacePath", { workspacePath: "" }],
    ["sandboxPort", { sandboxPort: 4444.5 }],
    ["sandboxPort", { sandboxPort: -1 }],
    ["sandboxPort", { sandboxPort: Number.NaN }],
    ["vscodePort", { vscodePort: 0 }],
    ["vscodePort", { vscodePort: 4444 }],
    ["plugins", { plugins: ["a;b"] }],
    ["plugins", { plugins: [""] }],
    ["envVars", { envVars: { "1BAD": "x" } }],
    ["envVars", { envVars: { "": "x" } }],
    ["envVars", { envVars: { "A=B": "x" } }],
    ["startCommand", { startCommand: "" }],
    ["keepAliveInterval", { keepAliveInterval: "500 millis" }],
    ["vscodeUrlTtl", { vscodeUrlTtl: "30 seconds" }]
  ]

  it.effect("each one fails with its option named, and nothing reaches the client", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      for (const [option, options] of invalid) {
        const label = `${option}: ${JSON.stringify(options)}`
        const exit = yield* clockedScoped(DaytonaRuntime.acquire(options))
        assert.isTrue(Exit.isFailure(exit), label)
        if (Exit.isSuccess(exit)) continue
        assert.deepStrictEqual([...Cause.defects(exit.cause)], [], label)
        const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
        assert.strictEqual(error?._tag, "InvalidRuntimeOptions", label)
        if (error?._tag === "InvalidRuntimeOptions") {
          assert.strictEqual(error.option, option, label)
          assert.include(error.message, option)
        }
      }
      assert.deepStrictEqual(yield* memory.calls, [], "no call reached the client")
    }).pipe(Effect.provide(harness()))
  )
})
