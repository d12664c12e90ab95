/**
 * The built CLI against a standalone emulator: exec's output and exit codes, the JSON documents of
 * exec, list and delete, and doctor against a healthy emulator, with a wrong or missing key, and against a URL that is not the API.
 */
import { sessionKeyOf } from "../support/sessionKey.js"
import { assert, describe, it } from "@effect/vitest"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "vitest"
import { cleanEnv, parseJson, runCli, spawnCli, startEmulator, type StandaloneEmulator } from "./support.js"

let emulator: StandaloneEmulator

beforeAll(async () => {
  // Action servers that answer at once: the lifecycle is what is tested here, not the wait.
  emulator = await startEmulator({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" })
})

afterAll(async () => {
  await emulator?.stop()
})

describe("exec", () => {
  it("prints the command's output on stdout and exits 0", async () => {
    const result = await runCli(["exec", "--sid", "cli-echo", "--", "echo", "hi"], emulator.env())
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout, "hi\n")
    assert.match(result.stderr, /ready/)
    assert.match(result.stderr, /closed sandbox \S+: stopped/)

    // No secret in any output: the API key, the sandbox's preview token, its session key.
    const sandboxId = result.stderr.match(/sandbox: +(\S+)/)![1]!
    const get = async (path: string) =>
      (await (
        await fetch(`${emulator.apiUrl}/sandbox/${sandboxId}${path}`, {
          headers: { authorization: `Bearer ${emulator.apiKey}` }
        })
      ).json()) as { env?: Record<string, string>; token?: string }
    const sessionKey = (await get("")).env?.SESSION_API_KEY ?? sessionKeyOf(emulator.apiKey, sandboxId)
    const previewToken = (await get("/ports/4444/preview-url")).token
    assert.isString(sessionKey)
    assert.isString(previewToken)
    for (const secret of [emulator.apiKey, sessionKey!, previewToken!]) {
      assert.notInclude(result.stdout + result.stderr, secret)
    }
  })

  it("--emulator: the process ends as soon as the sandbox is closed (nothing of the SDK holds it open)", async () => {
    const spawned = spawnCli(["exec", "--emulator", "--", "echo", "hi"], cleanEnv())
    const killer = setTimeout(() => spawned.child.kill("SIGKILL"), 45_000)
    await spawned.waitFor("stderr", /closed sandbox \S+: stopped/, 45_000)
    const closedAt = Date.now()
    const { code } = await spawned.exited
    clearTimeout(killer)
    assert.strictEqual(code, 0, spawned.stderr)
    assert.strictEqual(spawned.stdout, "hi\n")
    assert.isBelow(Date.now() - closedAt, 1_500, "exit right after the close")
  })

  it("a second process attaches to the sandbox a first one created, and talks to the server it started", async () => {
    // The sandbox is created without env vars; the second process derives the session key from the API key.
    const first = await runCli(
      ["exec", "--sid", "two-processes", "--attach", "--", "sh", "-c", "echo from-the-first > /workspace/first.txt"],
      emulator.env()
    )
    assert.strictEqual(first.code, 0, first.stderr)
    assert.match(first.stderr, /starting the action execution server/)
    assert.match(first.stderr, /closed sandbox \S+: kept/)
    const second = await runCli(
      ["exec", "--sid", "two-processes", "--attach", "--", "cat", "/workspace/first.txt"],
      emulator.env()
    )
    assert.strictEqual(second.code, 0, second.stderr)
    assert.strictEqual(second.stdout, "from-the-first\n")
    assert.match(second.stderr, /attached to sandbox/)
    assert.notMatch(second.stderr, /starting the action execution server/, "the first process's server answered")
    const [sandbox, ...others] = (await emulator.sandboxes()).filter((s) => s.labels.OpenHands_SID === "two-processes")
    assert.isDefined(sandbox)
    assert.lengthOf(others, 0, "one sandbox")
    for (const output of [first, second]) {
      assert.notInclude(output.stdout + output.stderr, sessionKeyOf(emulator.apiKey, sandbox!.id))
    }
  })

  it("exits with the command's own exit code", async () => {
    const result = await runCli(["exec", "--", "sh", "-c", "exit 7"], emulator.env())
    assert.strictEqual(result.code, 7, result.stderr)
  })

  it("--json prints one document with the exit code and output, and list --json shows the sandboxes", async () => {
    const exec = await runCli(["exec", "--json", "--sid", "cli-json", "--", "echo", "a b"], emulator.env())
    assert.strictEqual(exec.code, 0, exec.stderr)
    const doc = parseJson(exec.stdout)
    assert.strictEqual(doc.ok, true)
    assert.strictEqual(doc.exitCode, 0)
    assert.strictEqual(doc.output, "a b")
    assert.strictEqual(doc.command, "echo 'a b'")
    assert.strictEqual(doc.sid, "cli-json")

    const list = await runCli(["list", "--json"], emulator.env())
    assert.strictEqual(list.code, 0, list.stderr)
    const sandboxes = parseJson(list.stdout).sandboxes as ReadonlyArray<Record<string, unknown>>
    const mine = sandboxes.find((sandbox) => sandbox.id === doc.sandboxId)
    assert.isDefined(mine)
    assert.strictEqual(mine!.sid, "cli-json")
    assert.strictEqual(mine!.state, "stopped")
    assert.strictEqual(mine!.ownedByEffectDaytona, true)
  })

  it("delete --sid removes the sandboxes of a SID; then stop finds none and exits 1", async () => {
    const deleted = await runCli(["delete", "--sid", "cli-json", "--json"], emulator.env())
    assert.strictEqual(deleted.code, 0, deleted.stderr)
    const doc = parseJson(deleted.stdout)
    assert.deepStrictEqual(
      (doc.sandboxes as ReadonlyArray<{ action: string }>).map((s) => s.action),
      ["deleted"]
    )
    const left = (await emulator.sandboxes()).filter((s) => s.labels.OpenHands_SID === "cli-json")
    assert.isTrue(
      left.every((s) => s.state === "destroyed" || s.state === "destroying"),
      JSON.stringify(left)
    )

    const none = await runCli(["stop", "--sid", "cli-json"], emulator.env())
    assert.strictEqual(none.code, 1)
    assert.match(none.stderr, /No sandbox carries the label OpenHands_SID=cli-json/)
  })
})

describe.concurrent("doctor", () => {
  it("passes against a healthy emulator, with the key shown redacted", async () => {
    const result = await runCli(["doctor", "--json"], emulator.env())
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
    assert.notInclude(result.stdout + result.stderr, emulator.apiKey)
    const doc = parseJson(result.stdout)
    assert.strictEqual(doc.ok, true)
    const checks = doc.checks as ReadonlyArray<{ name: string; status: string; detail: string; latencyMs?: number }>
    assert.includeMembers(
      checks.map((c) => `${c.name}:${c.status}`),
      ["configuration:ok", "API reachable:ok", "authentication:ok", "sandboxes:ok"]
    )
    assert.include(checks[0]!.detail, `key set (${emulator.apiKey.length} chars)`)
    assert.isNumber(checks.find((c) => c.name === "API reachable")!.latencyMs)
  })

  it("fails with a wrong key and says to fix the key", async () => {
    const result = await runCli(["doctor"], emulator.env({ DAYTONA_API_KEY: "wrong-key" }))
    assert.strictEqual(result.code, 1)
    assert.match(result.stdout, /FAIL +authentication +the API key was rejected \(HTTP 401\)/)
    assert.notInclude(result.stdout + result.stderr, "wrong-key")
    assert.match(result.stdout, /fix: Create a new key at \S+ and export DAYTONA_API_KEY/)
  })

  it("says when the URL answers, but not as the Daytona API does (a web page)", async () => {
    const page = createServer((_, response) => {
      response.writeHead(200, { "content-type": "text/html" })
      response.end("<html><body>Sign in</body></html>")
    })
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve))
    try {
      const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}`
      const result = await runCli(["doctor"], emulator.env({ DAYTONA_API_URL: url }))
      assert.strictEqual(result.code, 1)
      assert.match(result.stdout, new RegExp(`FAIL +API reachable +${url} answered, but not as the Daytona API does`))
      assert.match(result.stdout, /fix: Point DAYTONA_API_URL at the API itself/)
      assert.match(result.stdout, /skip +authentication +the answer could not be read/)
      assert.notInclude(result.stdout, "did not answer")
    } finally {
      await new Promise((resolve) => page.close(resolve))
    }
  })

  it("exits 2 when the key is missing", async () => {
    const result = await runCli(["doctor"], cleanEnv())
    assert.strictEqual(result.code, 2)
    assert.match(result.stdout, /FAIL +configuration +Invalid configuration: DAYTONA_API_KEY is not set/)
  })
})
