/**
 * The built CLI's `pool` command, spawned as a process against a standalone emulator: list, create, update and delete
 * with `--json` and for people; bad usage exits 2 without touching anything; a refused call (an unknown pool, a second
 * pool of one snapshot) exits 1 with what happened and what to do, and no stack trace.
 */
import { assert, describe, it } from "@effect/vitest"
import { afterAll, beforeAll } from "vitest"
import { hasStackTrace, parseJson, refusesUsage, runCli, startEmulator, type StandaloneEmulator } from "./support.js"

const SNAPSHOT = "daytonaio/sandbox:emulator"

describe.concurrent("pool: bad usage exits 2 and touches nothing", () => {
  refusesUsage([
    ["no subcommand", ["pool"], /give a subcommand/],
    ["create without --size", ["pool", "create", "--snapshot", SNAPSHOT], /size/],
    ["create with --size 0", ["pool", "create", "--snapshot", SNAPSHOT, "--size", "0"], /--size: 0 is below 1/],
    ["update with a negative size", ["pool", "update", "--size", "-1", "abc"], /--size: -1 is below 0/],
    ["delete without an id", ["pool", "delete"], /id/]
  ])
})

describe("pool against a standalone emulator", () => {
  let emulator: StandaloneEmulator
  beforeAll(async () => {
    emulator = await startEmulator({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" })
  })
  afterAll(async () => {
    await emulator?.stop()
  })

  it("create, list, update, delete (--json), and the same for people", async () => {
    const none = await runCli(["pool", "list"], emulator.env())
    assert.strictEqual(none.code, 0, none.stderr)
    assert.match(none.stdout, /^No warm pool/)

    const created = await runCli(["pool", "create", "--snapshot", SNAPSHOT, "--size", "2", "--json"], emulator.env())
    assert.strictEqual(created.code, 0, created.stderr)
    const pool = parseJson(created.stdout)
    assert.strictEqual(pool["ok"], true)
    assert.deepInclude(pool["pool"], { snapshot: SNAPSHOT, target: "us", pool: 2, osUser: "daytona", envNames: [] })
    const id: string = pool["pool"].id

    const listed = parseJson((await runCli(["pool", "list", "--json"], emulator.env())).stdout)
    assert.deepStrictEqual(
      listed["pools"].map((p: { id: string; pool: number }) => [p.id, p.pool]),
      [[id, 2]]
    )
    const table = await runCli(["pool", "list"], emulator.env())
    assert.match(table.stdout, /^ID\s+SNAPSHOT\s+TARGET\s+READY\s+ERROR\n/)
    assert.match(table.stdout, new RegExp(`${id}\\s+${SNAPSHOT.replace(/[/.]/g, "\\$&")}\\s+us\\s+\\d/2`))

    const updated = await runCli(["pool", "update", id, "--size", "0"], emulator.env())
    assert.strictEqual(updated.code, 0, updated.stderr)
    assert.match(updated.stdout, new RegExp(`^updated warm pool ${id}: snapshot .* in us, \\d+ of 0 ready\\n$`))

    const deleted = await runCli(["pool", "delete", id, "--json"], emulator.env())
    assert.strictEqual(deleted.code, 0, deleted.stderr)
    assert.deepStrictEqual(parseJson(deleted.stdout), { ok: true, id, deleted: true })
    assert.deepStrictEqual(parseJson((await runCli(["pool", "list", "--json"], emulator.env())).stdout)["pools"], [])
  })

  it("an unknown pool and a second pool of one snapshot exit 1 with what to do", async () => {
    const missing = await runCli(["pool", "delete", "no-such-pool"], emulator.env())
    assert.strictEqual(missing.code, 1, missing.stderr)
    assert.match(missing.stderr, /deleteWarmPool failed \(HTTP 404\)/)
    assert.match(missing.stderr, /fix: No such warm pool \(see `effect-daytona pool list`\)/)
    assert.isFalse(hasStackTrace(missing.stderr), missing.stderr)

    const first = await runCli(["pool", "create", "--snapshot", SNAPSHOT, "--size", "1", "--json"], emulator.env())
    const id: string = parseJson(first.stdout)["pool"].id
    const second = await runCli(["pool", "create", "--snapshot", SNAPSHOT, "--size", "1", "--json"], emulator.env())
    assert.strictEqual(second.code, 1, second.stderr)
    const error = parseJson(second.stdout)
    assert.strictEqual(error["ok"], false)
    assert.strictEqual(error["error"].tag, "DaytonaApiError")
    assert.match(error["error"].message, /already exists/)
    await runCli(["pool", "delete", id], emulator.env())
  })
})
