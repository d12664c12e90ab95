/**
 * The built CLI with the emulator running the REAL OpenHands server:
 * `effect-daytona exec --emulator --action-server-command ../shared/openhands-server/serve -- CMD` prints the real
 * server's output and exits with the command's code; a command still running at the end of `--timeout` is
 * interrupted and exits 124. (The flag without `--emulator` is a usage error, checked without the server.)
 */
import { assert, describe, it } from "@effect/vitest"
import { beforeAll } from "vitest"
import { cleanEnv, hasStackTrace, requireBuild, runCli } from "../cli/support.js"
import { available, realTest, skipReason } from "./support.js"

if (!available) console.log(skipReason)

/** As a user types it, from the repository's root (the CLI's working folder here). */
const SERVE_FLAG = ["--action-server-command", "../shared/openhands-server/serve"] as const

beforeAll(() => requireBuild())

describe.skipIf(!available)("exec --emulator with the real server", () => {
  it("prints the real server's output and exits with the command's exit code", realTest, async () => {
    const result = await runCli(
      ["exec", "--emulator", ...SERVE_FLAG, "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
      cleanEnv(),
      90_000
    )
    assert.strictEqual(result.code, 3, result.stderr)
    // One terminal: the real server reads stdout and stderr from the same screen.
    assert.strictEqual(result.stdout, "out\nerr\n")
    assert.match(result.stderr, /exit code: +3/)
    assert.match(result.stderr, /closed sandbox \S+: stopped/)
  })

  it("--json: one document with the real server's output", realTest, async () => {
    const result = await runCli(["exec", "--emulator", "--json", ...SERVE_FLAG, "--", "whoami"], cleanEnv(), 90_000)
    assert.strictEqual(result.code, 0, result.stderr)
    const doc = JSON.parse(result.stdout) as Record<string, unknown>
    assert.deepStrictEqual([doc.ok, doc.status, doc.exitCode, doc.output], [true, "completed", 0, "openhands"])
  })

  it(
    "a command still running at the end of --timeout: its output so far, a clear message, exit 124",
    realTest,
    async () => {
      const started = Date.now()
      const result = await runCli(
        ["exec", "--emulator", ...SERVE_FLAG, "--timeout", "3s", "--", "echo started; sleep 60; echo never"],
        cleanEnv(),
        90_000
      )
      assert.strictEqual(result.code, 124, result.stderr)
      assert.strictEqual(result.stdout, "started\n")
      assert.match(result.stderr, /still running: the command did not finish within 3s; it was interrupted \(C-c\)/)
      assert.isBelow(Date.now() - started, 45_000, "no hang")
      assert.isFalse(hasStackTrace(result.stderr))
    }
  )
})

describe("exec --action-server-command without --emulator", () => {
  it("is a usage error (exit 2) that says to add --emulator", async () => {
    const result = await runCli(
      ["exec", ...SERVE_FLAG, "--", "true"],
      cleanEnv({ DAYTONA_API_KEY: "dtn_unused", DAYTONA_API_URL: "http://127.0.0.1:9/api" })
    )
    assert.strictEqual(result.code, 2, result.stderr)
    assert.match(result.stderr, /--action-server-command works only with --emulator/)
    assert.isFalse(hasStackTrace(result.stderr))
  })
})
