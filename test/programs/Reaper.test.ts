import { assert, describe, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import * as Lease from "../../src/programs/Lease.js"
import * as Reaper from "../../src/programs/Reaper.js"
import { CREATED_AT_LABEL, OWNER_LABEL, OWNER_VALUE, type Sandbox } from "../../src/services/DaytonaClient.js"

const NOW = Date.UTC(2030, 0, 1, 12)
const HOUR = 3_600_000

const sandbox = (id: string, state: string, labels: Record<string, string>, createdAgoHours = 48): Sandbox => ({
  id,
  name: id,
  state,
  labels: { [OWNER_LABEL]: OWNER_VALUE, ...labels },
  env: {},
  public: false,
  target: "us",
  snapshot: Option.none(),
  errorReason: Option.none(),
  recoverable: false,
  autoStopInterval: Option.none(),
  createdAt: Option.some(new Date(NOW - createdAgoHours * HOUR)),
  lastActivityAt: Option.none(),
  resources: { cpu: 2, memoryGiB: 4, diskGiB: 10 }
})

/** The labels of a lease whose last heartbeat was `agoHours` ago and that lasts `forHours` after it. */
const leased = (agoHours: number, forHours: number, holder = "host-1-abc", generation = 1) =>
  Lease.labels(Lease.renewed(holder, generation, NOW - agoHours * HOUR, Duration.hours(forHours)))

describe("Lease", () => {
  it("round-trips through labels; unreadable labels are no lease", () => {
    const lease = Lease.renewed("h", 3, NOW, Duration.minutes(15))
    assert.deepStrictEqual(Lease.read({ x: "y", ...Lease.labels(lease) }), Option.some(lease))
    assert.isTrue(Option.isNone(Lease.read({})))
    assert.isTrue(Option.isNone(Lease.read({ ...Lease.labels(lease), [Lease.GENERATION_LABEL]: "x" })))
    assert.isTrue(Option.isNone(Lease.read({ ...Lease.labels(lease), [Lease.HEARTBEAT_LABEL]: "yesterday" })))
    assert.isTrue(Lease.isLive(lease, NOW + 14 * 60_000))
    assert.isFalse(Lease.isLive(lease, NOW + 15 * 60_000))
  })

  it("a holder is superseded by a newer generation, or by another holder at its own unless it shares", () => {
    const at = (holder: string, generation: number) =>
      Option.some(Lease.renewed(holder, generation, NOW, Duration.minutes(1)))
    const me = { holder: "me", generation: 2, shared: false }
    assert.strictEqual(Lease.standing(at("me", 2), me), "held")
    assert.strictEqual(Lease.standing(at("other", 3), me), "superseded")
    assert.strictEqual(Lease.standing(at("other", 2), me), "superseded")
    assert.strictEqual(Lease.standing(at("other", 2), { ...me, shared: true }), "held")
    assert.strictEqual(Lease.standing(at("other", 3), { ...me, shared: true }), "superseded")
    assert.strictEqual(Lease.standing(Option.none(), me), "missing")
    assert.isAtMost(Lease.processHolder.length, 63)
  })
})

describe("Reaper.plan", () => {
  const plan = (sandboxes: ReadonlyArray<Sandbox>, options: Partial<Reaper.ReapOptions> = {}) =>
    Object.fromEntries(Reaper.plan(sandboxes, NOW, { ...Reaper.Defaults, ...options }).map((p) => [p.sandbox.id, p]))

  it("never touches a live lease, whatever the TTL; reaps by the last heartbeat, not by age", () => {
    const result = plan(
      [
        // Created two days ago, but its holder renewed a minute ago and its lease runs on: the living.
        sandbox("alive", "started", leased(1 / 60, 0.25)),
        // Its holder stopped renewing 25 hours ago: abandoned.
        sandbox("crashed", "started", leased(25, 0.25)),
        // Silent for 3 hours only: within the 24-hour TTL.
        sandbox("quiet", "started", leased(3, 0.25)),
        // A lease still live although its heartbeat is older than a short TTL.
        sandbox("long-lease", "started", leased(2, 5))
      ],
      { ttl: Duration.hours(1) }
    )
    assert.strictEqual(result["alive"]!.verdict, "live-lease")
    assert.strictEqual(result["crashed"]!.verdict, "stop")
    assert.strictEqual(result["quiet"]!.verdict, "stop", "over a 1-hour TTL")
    assert.strictEqual(result["long-lease"]!.verdict, "live-lease")
    assert.strictEqual(plan([sandbox("quiet", "started", leased(3, 0.25))])["quiet"]!.verdict, "recent")
  })

  it("error and build_failed go after 2 hours; stopped ones need a delete; --delete deletes", () => {
    const sandboxes = [
      sandbox("failed", "error", leased(3, 0.25)),
      sandbox("failed-recent", "build_failed", leased(1, 0.25)),
      sandbox("stopped", "stopped", leased(30, 0.25)),
      sandbox("gone", "destroyed", leased(30, 0.25))
    ]
    const stop = plan(sandboxes)
    assert.strictEqual(stop["failed"]!.verdict, "needs-delete")
    assert.strictEqual(stop["failed-recent"]!.verdict, "recent")
    assert.strictEqual(stop["stopped"]!.verdict, "needs-delete")
    assert.isUndefined(stop["gone"])
    const remove = plan(sandboxes, { delete: true })
    assert.strictEqual(remove["failed"]!.verdict, "delete")
    assert.strictEqual(remove["stopped"]!.verdict, "delete")
  })

  it("without a lease the creation time stands in; other tools' sandboxes are not ours", () => {
    const result = plan([
      sandbox("legacy-old", "started", { [CREATED_AT_LABEL]: new Date(NOW - 30 * HOUR).toISOString() }),
      sandbox("legacy-new", "started", { [CREATED_AT_LABEL]: new Date(NOW - HOUR).toISOString() }),
      { ...sandbox("foreign", "started", {}), labels: {} }
    ])
    assert.strictEqual(result["legacy-old"]!.verdict, "stop")
    assert.strictEqual(result["legacy-new"]!.verdict, "recent")
    assert.isUndefined(result["foreign"])
  })

  it("estimates the cost per hour: resources while running, disk only when stopped", () => {
    const prices = { cpuHour: 1, memoryGiBHour: 0.1, diskGiBHour: 0.01 }
    assert.closeTo(Reaper.costPerHour(sandbox("a", "started", {}), prices), 2 + 0.4 + 0.1, 1e-9)
    assert.closeTo(Reaper.costPerHour(sandbox("b", "stopped", {}), prices), 0.1, 1e-9)
    assert.strictEqual(Reaper.costPerHour({ ...sandbox("c", "started", {}), resources: undefined }, prices), 0)
  })
})
