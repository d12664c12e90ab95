/**
 * The built CLI's failures and its help: configuration errors exit 2 naming the variable with no stack
 * trace, an unreachable API exits 1 with two lines, bad usage exits 2; --help and --version work without
 * loading the runtime, the SDK or the emulator.
 */
import { assert, describe, it } from "@effect/vitest"
import { rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { BIN, cleanEnv, hasStackTrace, parseJson, runCli, spawnNode } from "./support.js"

/** Settings that pass validation; nothing listens at this URL. */
const unreachable = () => cleanEnv({ DAYTONA_API_URL: "http://127.0.0.1:9/api", DAYTONA_API_KEY: "k" })

describe.concurrent("errors", () => {
  it("a missing DAYTONA_API_KEY exits 2, names the variable, says what to do, no stack trace", async () => {
    const result = await runCli(["exec", "--", "echo", "hi"], cleanEnv())
    assert.strictEqual(result.code, 2)
    assert.match(result.stderr, /DAYTONA_API_KEY is not set/)
    assert.match(result.stderr, /fix: .*dashboard\/keys/)
    assert.isFalse(hasStackTrace(result.stderr), result.stderr)
    assert.strictEqual(result.stdout, "")
  })

  it("a bad boolean exits 2 naming the variable, also under --json and --emulator", async () => {
    for (const args of [["list"], ["exec", "--emulator", "--json", "--", "true"]]) {
      const result = await runCli(args, cleanEnv({ ...unreachable(), DAYTONA_PUBLIC: "maybe" }))
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /DAYTONA_PUBLIC is not a boolean \("maybe"\)/)
      assert.isFalse(hasStackTrace(result.stderr), result.stderr)
      if (args.includes("--json"))
        assert.strictEqual((parseJson(result.stdout).error as { exitCode: number }).exitCode, 2)
    }
  })

  it("an unreachable API exits 1 with two lines and no stack trace; --verbose adds the cause", async () => {
    const env = unreachable()
    const result = await runCli(["list"], env)
    assert.strictEqual(result.code, 1, result.stderr)
    assert.match(result.stderr, /^error: Cannot reach the Daytona API/m)
    assert.match(result.stderr, /^ {2}fix: Check DAYTONA_API_URL/m)
    assert.strictEqual(result.stderr.trim().split("\n").length, 2, result.stderr)
    const verbose = await runCli(["list", "--verbose"], env)
    assert.strictEqual(verbose.code, 1)
    assert.match(verbose.stderr, /cause: /)
  })

  it("bad usage exits 2", async () => {
    const result = await runCli(["reap", "--ttl", "soon"], cleanEnv())
    assert.strictEqual(result.code, 2)
    assert.match(result.stderr, /not a duration/)
  })
})

describe("help and version", () => {
  // A resolve hook that refuses the runtime, the SDK and the emulator: --help and --version must not need them.
  const hook = Path.join(tmpdir(), `effect-daytona-forbid-${process.pid}.mjs`)
  writeFileSync(
    hook,
    `import { register } from "node:module"
register("data:text/javascript," + encodeURIComponent(\`
export async function resolve(specifier, context, next) {
  if (/@daytonaio\\\\/sdk|\\\\/emulator\\\\/|Emulator|DaytonaRuntime|DaytonaClientLive/.test(specifier)) throw new Error("forbidden: " + specifier)
  return next(specifier, context)
}\`))
`
  )
  afterAll(() => rmSync(hook, { force: true }))
  const run = async (args: ReadonlyArray<string>) => {
    const spawned = spawnNode(["--import", hook, BIN, ...args], cleanEnv())
    const exit = await spawned.exited
    await new Promise((resolve) => setImmediate(resolve))
    return { ...exit, stdout: spawned.stdout, stderr: spawned.stderr }
  }

  it("--help and --version work, fast, without loading the SDK or the emulator", async () => {
    const started = Date.now()
    const [help, version] = await Promise.all([run(["--help"]), run(["--version"])])
    // A generous bound for a loaded machine; the hook is the real check.
    assert.isBelow(Date.now() - started, 15_000)
    assert.strictEqual(help.code, 0, help.stderr)
    for (const command of ["connect", "exec", "list", "stop", "delete", "reap", "doctor", "emulator"]) {
      assert.include(help.stdout, command)
    }
    assert.strictEqual(version.code, 0, version.stderr)
    assert.strictEqual(version.stdout.trim(), "0.1.0")
    assert.include(help.stdout, "--attach")
  })

  it("the hook does refuse them (so the check above means something)", async () => {
    const result = await run(["exec", "--emulator", "--", "true"])
    assert.strictEqual(result.code, 1)
    assert.match(result.stderr, /forbidden/)
  })
})
