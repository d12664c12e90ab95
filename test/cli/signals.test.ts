/**
 * Signals and leaks, with the built CLI against standalone emulators: Ctrl-C (SIGINT) during the wait
 * for the action server and after ready ends with exit 130 once the sandbox is closed; SIGTERM with 143;
 * and `reap` finds the sandbox a SIGKILLed CLI left running, and stops it only with `--apply`.
 */
import { assert, describe, it } from "@effect/vitest"
import { afterAll, beforeAll } from "vitest"
import { spawnCli, runCli, startEmulator, type StandaloneEmulator } from "./support.js"

let fast: StandaloneEmulator
let slow: StandaloneEmulator

beforeAll(async () => {
  ;[fast, slow] = await Promise.all([
    startEmulator({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" }),
    // Action servers that take a minute to boot (the CLI sits in its wait for /alive), and stops that take
    // 3 s (the CLI sits in its cleanup).
    startEmulator({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "60000", EFFECT_DAYTONA_EMULATOR_STOP_DELAY_MS: "3000" })
  ])
})

afterAll(async () => {
  await Promise.all([fast?.stop(), slow?.stop()])
})

const stateOf = async (emulator: StandaloneEmulator, sid: string) => {
  const sandboxes = (await emulator.sandboxes()).filter((sandbox) => sandbox.labels.OpenHands_SID === sid)
  assert.strictEqual(sandboxes.length, 1, JSON.stringify(sandboxes))
  return sandboxes[0]!.state
}

describe.concurrent("signals", () => {
  it("Ctrl-C during the wait for the action server closes the sandbox, then exits 130", async () => {
    const cli = spawnCli(["exec", "--sid", "sig-wait", "--", "echo", "never"], slow.env())
    await cli.waitFor("stderr", /waiting for the action execution server/)
    assert.strictEqual(await stateOf(slow, "sig-wait"), "started")
    cli.child.kill("SIGINT")
    const exit = await cli.exited
    assert.strictEqual(exit.code, 130, cli.stderr)
    assert.strictEqual(await stateOf(slow, "sig-wait"), "stopped")
    assert.match(cli.stderr, /closed sandbox \S+: stopped/)
    assert.strictEqual(cli.stdout, "")
  })

  it("a second Ctrl-C exits 130 at once, without waiting for the cleanup", async () => {
    const cli = spawnCli(["exec", "--sid", "sig-twice", "--", "echo", "never"], slow.env())
    await cli.waitFor("stderr", /waiting for the action execution server/)
    cli.child.kill("SIGINT")
    await cli.waitFor("stderr", /closing sandbox/)
    const second = Date.now()
    cli.child.kill("SIGINT")
    const exit = await cli.exited
    assert.strictEqual(exit.code, 130, cli.stderr)
    assert.isBelow(Date.now() - second, 2_500, "well before the 3 s stop ends")
    assert.notMatch(cli.stderr, /closed sandbox/, "it did not wait for the close")
  })

  it("SIGTERM during the wait closes the sandbox, then exits 143", async () => {
    const cli = spawnCli(["connect", "--sid", "sig-term"], slow.env())
    await cli.waitFor("stderr", /waiting for the action execution server/)
    cli.child.kill("SIGTERM")
    const exit = await cli.exited
    assert.strictEqual(exit.code, 143, cli.stderr)
    assert.strictEqual(await stateOf(slow, "sig-term"), "stopped")
  })

  it("Ctrl-C after ready (connect) closes the sandbox, then exits 130", async () => {
    const cli = spawnCli(["connect", "--sid", "sig-ready"], fast.env())
    const [, sandboxId] = await cli.waitFor("stdout", /^ready: sandbox (\S+)/m)
    await cli.waitFor("stdout", /VSCode: +http:\/\/127\.0\.0\.1:\d+\/\S*tkn=/)
    await cli.waitFor("stdout", /agent instructions: .*port 3000/)
    assert.strictEqual(await stateOf(fast, "sig-ready"), "started")
    cli.child.kill("SIGINT")
    const exit = await cli.exited
    assert.strictEqual(exit.code, 130, cli.stderr)
    assert.strictEqual(await stateOf(fast, "sig-ready"), "stopped")
    assert.include(cli.stderr, `closed sandbox ${sandboxId}: stopped`)
  })
})

describe("reap", () => {
  it("finds the sandbox a SIGKILLed CLI left running, and stops it only with --apply", async () => {
    const cli = spawnCli(["connect", "--sid", "orphan"], fast.env())
    const [, sandboxId] = await cli.waitFor("stdout", /^ready: sandbox (\S+)/m)
    cli.child.kill("SIGKILL")
    assert.strictEqual((await cli.exited).signal, "SIGKILL")
    assert.strictEqual(await stateOf(fast, "orphan"), "started", "nothing cleaned up after SIGKILL")

    const dryRun = await runCli(["reap", "--older-than", "0s", "--json"], fast.env())
    assert.strictEqual(dryRun.code, 0, dryRun.stderr)
    const found = JSON.parse(dryRun.stdout) as { applied: boolean; sandboxes: Array<{ id: string; action: string }> }
    assert.isFalse(found.applied)
    assert.deepStrictEqual(
      found.sandboxes.filter((s) => s.id === sandboxId).map((s) => s.action),
      ["would-stop"]
    )
    assert.strictEqual(await stateOf(fast, "orphan"), "started", "a dry run touches nothing")

    const young = await runCli(["reap", "--json"], fast.env())
    assert.deepStrictEqual((JSON.parse(young.stdout) as typeof found).sandboxes, [], "younger than the default 1h")

    const applied = await runCli(["reap", "--older-than", "0s", "--apply"], fast.env())
    assert.strictEqual(applied.code, 0, applied.stderr)
    assert.match(applied.stdout, new RegExp(`${sandboxId} +orphan +started +\\S+ +stopped`))
    assert.strictEqual(await stateOf(fast, "orphan"), "stopped")
  })
})
