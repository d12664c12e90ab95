/**
 * Signals and leaks, with the built CLI against standalone emulators: Ctrl-C (SIGINT) during the wait
 * for the action server and after ready ends with exit 130 once the sandbox is closed; SIGTERM with 143;
 * and `reap` finds the sandbox a SIGKILLed CLI left running, and stops it only with `--apply`.
 */
import { assert, describe, it } from "@effect/vitest"
import { afterAll, beforeAll } from "vitest"
import { spawnCli, runCli, startEmulator, type StandaloneEmulator } from "./support.js"
import { eventually } from "../reliability/support-cli.js"

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
  it("two holders: only the SIGKILLed one's sandbox is reaped; a live lease is never touched, whatever the TTL", async () => {
    // Leases renewed every second (they last three): a crashed holder's lapses within seconds.
    const live = spawnCli(["connect", "--sid", "reap-live", "--keep-alive", "1s"], fast.env())
    const crashed = spawnCli(["connect", "--sid", "reap-crashed", "--keep-alive", "1s"], fast.env())
    const [[, liveId], [, crashedId]] = await Promise.all([
      live.waitFor("stdout", /^ready: sandbox (\S+)/m),
      crashed.waitFor("stdout", /^ready: sandbox (\S+)/m)
    ])
    crashed.child.kill("SIGKILL")
    assert.strictEqual((await crashed.exited).signal, "SIGKILL")

    type Report = {
      applied: boolean
      costPerHour: number
      sandboxes: Array<{ id: string; action: string; holder: string | null }>
    }
    const actions = async (args: ReadonlyArray<string>) => {
      const result = await runCli(["reap", "--json", ...args], fast.env())
      assert.strictEqual(result.code, 0, result.stderr)
      const report = JSON.parse(result.stdout) as Report
      const of = (id: string) => report.sandboxes.find((s) => s.id === id)?.action
      return { report, live: of(liveId!), crashed: of(crashedId!) }
    }
    // Right after the crash both leases are still live.
    const young = await actions([])
    assert.deepStrictEqual([young.live, young.crashed], ["live-lease", "live-lease"])
    // Once the crashed holder's lease has lapsed, a short TTL reaps it; the living holder keeps renewing.
    assert.isTrue(
      await eventually(async () => (await actions(["--ttl", "2s"])).crashed === "would-stop", 15_000),
      "the crashed holder's lease lapses"
    )
    assert.strictEqual((await actions([])).crashed, "recent", "within the default 24 h TTL it is left alone")
    const dryRun = await actions(["--ttl", "0"])
    assert.deepStrictEqual([dryRun.live, dryRun.crashed], ["live-lease", "would-stop"])
    assert.isAbove(dryRun.report.costPerHour, 0, "what the reaped sandbox costs")
    assert.strictEqual(await stateOf(fast, "reap-crashed"), "started", "a dry run touches nothing")

    const applied = await actions(["--ttl", "0", "--apply"])
    assert.deepStrictEqual([applied.live, applied.crashed], ["live-lease", "stopped"])
    assert.strictEqual(await stateOf(fast, "reap-crashed"), "stopped")
    assert.strictEqual(await stateOf(fast, "reap-live"), "started", "the living holder's sandbox is untouched")

    live.child.kill("SIGINT")
    assert.strictEqual((await live.exited).code, 130)
    assert.strictEqual(await stateOf(fast, "reap-live"), "stopped", "closed by its own holder")
  })
})
