/**
 * The built CLI's `ssh` command and its isolation switches, spawned as processes: bad usage exits 2; against a
 * standalone emulator `ssh --sid` prints a command that Debian's `ssh` logs in with and `--revoke` ends it; without
 * bubblewrap (BWRAP pointing nowhere) the emulator refuses with a typed error unless `--unsafe-host-processes`, and
 * `doctor` says which it is and how to fix it.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeContext } from "@effect/platform-node"
import { Effect, Option } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as Isolation from "../../src/emulator/Isolation.js"
import { runSsh, sshAvailable } from "../emulator/ssh-support.js"
import {
  cleanEnv,
  parseJson,
  refusesUsage,
  runCli,
  spawnCli,
  startEmulator,
  type StandaloneEmulator
} from "./support.js"

const bwrapWorks = Option.isSome(await Effect.runPromise(Isolation.detect.pipe(Effect.provide(NodeContext.layer))))
if (!bwrapWorks)
  console.log("doctor's 'bubblewrap works' test skipped: bubblewrap is missing or cannot make namespaces")

/** No bubblewrap: the probe runs a program that does not exist. */
const noBwrap = (extra: Record<string, string> = {}) => cleanEnv({ BWRAP: "/nonexistent/bwrap", ...extra })

describe.concurrent("ssh: bad usage exits 2 and touches nothing", () => {
  refusesUsage([
    ["no --sid", ["ssh"], /--sid/],
    ["a lifetime of 0 minutes", ["ssh", "--sid", "s", "--expires", "0"], /not a positive number of minutes/],
    ["--emulator", ["ssh", "--emulator", "--sid", "s"], /ends with this command/],
    ["--unsafe-host-processes without --emulator", ["list", "--unsafe-host-processes"], /emulator only/]
  ])
})

describe("ssh against a standalone emulator", () => {
  let emulator: StandaloneEmulator
  beforeAll(async () => {
    emulator = await startEmulator({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" })
  })
  afterAll(async () => {
    await emulator?.stop()
  })

  it("the emulator prints its SSH port; a SID without a sandbox exits 1", async () => {
    assert.isAbove(emulator.sshPort, 0)
    const result = await runCli(["ssh", "--sid", "cli-ssh-none"], emulator.env())
    assert.strictEqual(result.code, 1, result.stderr)
    assert.match(result.stderr, /No sandbox carries the label OpenHands_SID=cli-ssh-none/)
  })

  it("prints a command that logs into the sandbox; a new access replaces it; --revoke ends one", async (context) => {
    const attach = await runCli(["exec", "--sid", "cli-ssh", "--attach", "--", "true"], emulator.env())
    assert.strictEqual(attach.code, 0, attach.stderr)
    const sandboxId = (await emulator.sandboxes()).find((s) => s.labels.OpenHands_SID === "cli-ssh")!.id
    if (!sshAvailable) {
      console.log("ssh --sid login skipped: /usr/bin/ssh (openssh-client) is not installed")
      return context.skip()
    }

    const json = await runCli(["ssh", "--sid", "cli-ssh", "--json", "--expires", "5"], emulator.env())
    assert.strictEqual(json.code, 0, json.stderr)
    const doc = parseJson(json.stdout) as { sandboxId: string; sshCommand: string; token: string; expiresAt: string }
    assert.strictEqual(doc.sandboxId, sandboxId)
    assert.strictEqual(doc.sshCommand, `ssh -p ${emulator.sshPort} ${doc.token}@127.0.0.1`)
    assert.notInclude(json.stderr, doc.token)
    const login = await Effect.runPromise(runSsh(emulator.sshPort, doc.token, ["echo ok; id -u"]))
    assert.deepStrictEqual(login, { status: 0, stdout: "ok\n1000\n", stderr: "" })

    // For people: the command alone on stdout, the rest on stderr without the token.
    const human = await runCli(["ssh", "--sid", "cli-ssh"], emulator.env())
    assert.strictEqual(human.code, 0, human.stderr)
    const [, token] = /^ssh -p \d+ (\S+)@127\.0\.0\.1\n$/.exec(human.stdout) ?? []
    assert.isDefined(token, human.stdout)
    assert.match(human.stderr, /until \d{4}-\d\d-\d\dT/)
    assert.notInclude(human.stderr, token!)
    assert.strictEqual((await Effect.runPromise(runSsh(emulator.sshPort, doc.token, ["echo ok"]))).status, 255)

    const revoked = await runCli(["ssh", "--sid", "cli-ssh", "--revoke", token!], emulator.env())
    assert.strictEqual(revoked.code, 0, revoked.stderr)
    assert.match(revoked.stdout, /revoked/)
    const refused = await Effect.runPromise(runSsh(emulator.sshPort, token!, ["echo ok"]))
    assert.strictEqual(refused.status, 255)
    assert.match(refused.stderr, /Permission denied/)
  })
})

describe.concurrent("without bubblewrap", () => {
  it("exec --emulator exits 2 with what to install and what --unsafe-host-processes means, no stack trace", async () => {
    const result = await runCli(["exec", "--emulator", "--", "echo", "hi"], noBwrap())
    assert.strictEqual(result.code, 2, result.stderr)
    assert.match(result.stderr, /^error: The emulator cannot isolate sandbox processes: bubblewrap/m)
    assert.match(result.stderr, /^ {2}fix: .*apt-get install bubblewrap.*--unsafe-host-processes/m)
    assert.strictEqual(result.stderr.trim().split("\n").length, 2, result.stderr)
    assert.strictEqual(result.stdout, "")
    const json = await runCli(["connect", "--emulator", "--json"], noBwrap())
    assert.strictEqual(json.code, 2)
    assert.deepInclude(parseJson(json.stdout).error as object, { tag: "IsolationUnavailable", exitCode: 2 })
  })

  it("exec --emulator --unsafe-host-processes runs, with one warning line", async () => {
    const result = await runCli(["exec", "--emulator", "--unsafe-host-processes", "--", "echo", "hi"], noBwrap())
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout, "hi\n")
    assert.lengthOf(
      result.stderr.split("\n").filter((line) => /UNISOLATED/.test(line)),
      1
    )
  })

  it("the emulator command refuses, or runs with --unsafe-host-processes and prints its ports", async () => {
    const refused = await runCli(["emulator", "--json"], noBwrap())
    assert.strictEqual(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /apt-get install bubblewrap/)
    const spawned = spawnCli(["emulator", "--json", "--unsafe-host-processes"], noBwrap())
    const [line] = await spawned.waitFor("stdout", /^\{.*\}\n/m)
    const doc = JSON.parse(line) as { apiUrl: string; sshPort: number }
    assert.match(doc.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/)
    assert.isAbove(doc.sshPort, 0)
    spawned.child.kill("SIGTERM")
    assert.strictEqual((await spawned.exited).code, 143)
  })

  it("doctor: a warning, a failure with --emulator, and what --unsafe-host-processes changes", async () => {
    const key = { DAYTONA_API_URL: "http://127.0.0.1:9/api", DAYTONA_API_KEY: "k" }
    const isolationOf = async (args: ReadonlyArray<string>) => {
      const result = await runCli(["doctor", "--json", ...args], noBwrap(key))
      const checks = parseJson(result.stdout).checks as ReadonlyArray<{ name: string; status: string; detail: string }>
      return { code: result.code, check: checks.find((check) => check.name === "isolation")! }
    }
    const plain = await isolationOf([])
    assert.strictEqual(plain.check.status, "warn")
    assert.match(plain.check.detail, /bubblewrap \(bwrap\) is not installed: the local emulator refuses to start/)
    const emulated = await isolationOf(["--emulator"])
    assert.strictEqual(emulated.check.status, "fail")
    assert.strictEqual(emulated.code, 1)
    const unsafe = await isolationOf(["--emulator", "--unsafe-host-processes"])
    assert.strictEqual(unsafe.check.status, "warn")
    assert.match(unsafe.check.detail, /UNISOLATED/)
    const text = await runCli(["doctor", "--emulator"], noBwrap())
    assert.match(text.stdout, /FAIL +isolation +bubblewrap \(bwrap\) is not installed/)
    assert.match(text.stdout, /fix: Install it \(Debian\/Ubuntu: apt-get install bubblewrap.*--unsafe-host-processes/)
  })

  it.skipIf(!bwrapWorks)("doctor with a working bubblewrap says so", async () => {
    const result = await runCli(["doctor", "--json"], cleanEnv())
    const checks = parseJson(result.stdout).checks as ReadonlyArray<{ name: string; status: string; detail: string }>
    const isolation = checks.find((check) => check.name === "isolation")!
    assert.strictEqual(isolation.status, "ok")
    assert.match(isolation.detail, /bubblewrap works/)
  })
})
