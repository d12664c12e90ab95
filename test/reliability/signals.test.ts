/**
 * Signals in every phase: SIGINT and SIGTERM sent to the built CLI (`connect` and `exec`) while the sandbox
 * is being created, while the runtime waits for the action server, while the command runs, once ready, and
 * while the sandbox is being closed. Each ends with the cleanup done (`closed sandbox …: stopped`), exit 130
 * (SIGINT) or 143 (SIGTERM), and nothing of the SID left started in the emulator. A second signal exits at
 * once. Each phase has its own standalone emulator, so the cases run concurrently.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import { spawnCli, startEmulator, type StandaloneEmulator } from "../cli/support.js"
import { clocked, harness, RecordedEvents } from "../support/harness.js"
import { eventually, exitWithin, processesWith, sidStates } from "./support-cli.js"

type Phase = "creating" | "waiting" | "command" | "ready" | "closing"

const emulators: Partial<Record<Phase, StandaloneEmulator>> = {}

beforeAll(async () => {
  const knobs: Record<Phase, Record<string, string>> = {
    // Creates take 4 s: the CLI sits in BUILDING_RUNTIME.
    creating: { EFFECT_DAYTONA_EMULATOR_CREATE_DELAY_MS: "4000", EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" },
    // Action servers take a minute to boot: the CLI sits in its wait for /alive.
    waiting: { EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "60000" },
    command: { EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" },
    ready: { EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" },
    // Stops take 3 s: the CLI sits in its cleanup.
    closing: { EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0", EFFECT_DAYTONA_EMULATOR_STOP_DELAY_MS: "3000" }
  }
  const started = await Promise.all(
    Object.entries(knobs).map(async ([phase, env]) => [phase, await startEmulator(env)] as const)
  )
  for (const [phase, emulator] of started) emulators[phase as Phase] = emulator
})

afterAll(async () => {
  await Promise.all(Object.values(emulators).map((emulator) => emulator?.stop()))
})

const CODES = { SIGINT: 130, SIGTERM: 143 } as const
type Signal = keyof typeof CODES

interface Case {
  readonly phase: Phase
  readonly command: "connect" | "exec"
  readonly signal: Signal
}

const cases: ReadonlyArray<Case> = [
  ...(["creating", "waiting"] as const).flatMap((phase) =>
    (["connect", "exec"] as const).flatMap((command) =>
      (["SIGINT", "SIGTERM"] as const).map((signal) => ({ phase, command, signal }))
    )
  ),
  ...(["SIGINT", "SIGTERM"] as const).flatMap((signal) => [
    { phase: "command" as const, command: "exec" as const, signal },
    { phase: "ready" as const, command: "connect" as const, signal },
    { phase: "closing" as const, command: "exec" as const, signal }
  ])
]

/** Brings the CLI to the phase; resolves once it is there. */
const reach = async (phase: Phase, cli: ReturnType<typeof spawnCli>, marker: string) => {
  switch (phase) {
    case "creating":
      return cli.waitFor("stderr", /status BUILDING_RUNTIME/)
    case "waiting":
      return cli.waitFor("stderr", /waiting for the action execution server/)
    case "command":
      // The command itself runs in the sandbox: wait until its process exists.
      await cli.waitFor("stderr", /running: /)
      assert.isTrue(await eventually(() => processesWith(marker).length > 0, 15_000), "the command started")
      return
    case "ready":
      return cli.waitFor("stdout", /^ready: sandbox \S+/m)
    case "closing":
      return cli.waitFor("stderr", /closing sandbox \S+/)
  }
}

describe.concurrent("a signal in each phase: cleanup done, 130/143, nothing left started", () => {
  cases.forEach(({ command, phase, signal }, index) => {
    it(`${signal} to ${command} while ${phase}`, async () => {
      const emulator = emulators[phase]!
      const sid = `sig-${phase}-${command}-${signal.toLowerCase()}`
      const marker = `signal-marker-${index}-${process.pid}`
      const args =
        command === "connect"
          ? ["connect", "--sid", sid]
          : // The server types the command into its shell: the marker is the argument of a process of its own.
            ["exec", "--sid", sid, "--", phase === "command" ? `sh -c 'sleep 30' ${marker}` : "echo hi"]
      const cli = spawnCli(args, emulator.env())
      await reach(phase, cli, marker)
      if (phase === "creating") {
        const creating = await eventually(async () => (await sidStates(emulator, sid)).join() === "creating", 3_000)
        assert.isTrue(creating, "the sandbox is being created when the signal comes")
      }
      if (phase === "waiting" || phase === "ready") assert.deepStrictEqual(await sidStates(emulator, sid), ["started"])
      cli.child.kill(signal)
      const run = await exitWithin(cli, 30_000)
      assert.isFalse(run.timedOut, `hung after ${signal}:\n${run.stderr}`)
      assert.strictEqual(run.code, CODES[signal], run.stderr)
      assert.match(run.stderr, /closed sandbox \S+: stopped/, "the cleanup ran to its end")
      assert.notMatch(run.stderr, /^\s+at\s/m, "no stack trace")
      assert.deepStrictEqual(await sidStates(emulator, sid), ["stopped"], "nothing of the SID left started")
      if (phase === "command") {
        assert.isTrue(await eventually(() => processesWith(marker).length === 0), "the command's process ended")
      }
      if (command === "exec" && phase !== "closing") assert.strictEqual(run.stdout, "", "no command output came")
      if (phase === "closing") assert.strictEqual(run.stdout, "hi\n", "the command ran before the close")
    })
  })

  it("a second SIGINT exits 130 at once, without waiting for the cleanup", async () => {
    const emulator = emulators.closing!
    const cli = spawnCli(["connect", "--sid", "sig-twice"], emulator.env())
    await cli.waitFor("stdout", /^ready: sandbox \S+/m)
    cli.child.kill("SIGINT")
    await cli.waitFor("stderr", /closing sandbox \S+/)
    const second = Date.now()
    cli.child.kill("SIGINT")
    const run = await exitWithin(cli, 10_000)
    assert.isFalse(run.timedOut)
    assert.strictEqual(run.code, 130, run.stderr)
    assert.isBelow(Date.now() - second, 2_500, "well before the 3 s stop ends")
    assert.notMatch(run.stderr, /closed sandbox/, "it did not wait for the close")
  })

  it("a SIGTERM after a SIGINT exits 143 at once", async () => {
    const emulator = emulators.closing!
    const cli = spawnCli(["exec", "--sid", "sig-int-term", "--", "sleep 20"], emulator.env())
    await cli.waitFor("stderr", /running: /)
    cli.child.kill("SIGINT")
    await cli.waitFor("stderr", /closing sandbox \S+/)
    cli.child.kill("SIGTERM")
    const run = await exitWithin(cli, 10_000)
    assert.isFalse(run.timedOut)
    assert.strictEqual(run.code, 143, run.stderr)
    assert.notMatch(run.stderr, /closed sandbox/)
  })
})

describe("an interruption during close (in process)", () => {
  it.effect("does not abort the close: the sandbox is stopped and Closed says so", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      // The runtime is used and released; its close then sits in a 3 s stop when the interruption comes.
      const fiber = yield* Effect.fork(Effect.scoped(Effect.asVoid(DaytonaRuntime.acquire({ sid: "close" }))))
      for (let i = 0; i < 600; i++) {
        if ((yield* RecordedEvents.all).some((event) => event._tag === "Closing")) break
        yield* TestClock.adjust("100 millis")
      }
      assert.isTrue(
        (yield* RecordedEvents.all).some((event) => event._tag === "Closing"),
        "the close began"
      )
      yield* TestClock.adjust("1 second")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* clocked(Fiber.join(interrupting))
      const sandboxes = yield* memory.sandboxes
      assert.deepStrictEqual(
        sandboxes.map((sandbox) => sandbox.state),
        ["stopped"]
      )
      const last = (yield* RecordedEvents.all).at(-1)
      assert.strictEqual(last?._tag, "Closed")
      assert.strictEqual(last?._tag === "Closed" ? last.action : undefined, "stopped")
      assert.isTrue(Option.isSome(Option.fromNullable(last?._tag === "Closed" ? last.sandboxId : undefined)))
    }).pipe(Effect.provide(harness({ delays: { stop: "3 seconds" } })))
  )
})
