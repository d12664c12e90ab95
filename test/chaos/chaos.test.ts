/**
 * A reduced, seeded chaos run inside the test suite: randomized faults and interruptions against
 * embedded emulators (some trials take their runtime from a runtime pool), and afterwards no sandbox running against its close policy, no process left, no
 * defect, and every runtime's events ending with Closed. `npm run chaos` runs the full version.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Chaos from "../../chaos/Chaos.js"
import { describePlan, planTrial } from "../../chaos/Plan.js"

describe("chaos", () => {
  it("plans are reproducible: the same seed and index give the same trial, another seed another", () => {
    const plans = Array.from({ length: 50 }, (_, i) => describePlan(planTrial("s", i)))
    assert.deepStrictEqual(
      Array.from({ length: 50 }, (_, i) => describePlan(planTrial("s", i))),
      plans
    )
    const other = Array.from({ length: 50 }, (_, i) => describePlan(planTrial("t", i)))
    assert.notDeepEqual(other, plans)
    // Every fault kind shows up in a few hundred trials.
    const kinds = new Set(Array.from({ length: 300 }, (_, i) => planTrial("s", i).faults.map((f) => f.kind)).flat())
    assert.strictEqual(kinds.size, 11)
    // Some trials take their runtime from a runtime pool, some of them interrupted; never an attaching one.
    const pooled = Array.from({ length: 300 }, (_, i) => planTrial("s", i)).filter((p) => p.poolSize !== undefined)
    assert.isAbove(pooled.length, 30)
    assert.isAbove(pooled.filter((p) => p.interruptAt !== undefined).length, 5)
    assert.isTrue(pooled.every((p) => !p.attach && (p.poolSize === 1 || p.poolSize === 2)))
  })

  it.live(
    "25 seeded trials: leaked=0 defects=0",
    () =>
      Effect.gen(function* () {
        const summary = yield* Chaos.run({ seed: "npm-test", trials: 25, concurrency: 3 })
        const lines = Chaos.reportLines(summary)
        assert.strictEqual(summary.trials, 25)
        assert.match(lines.at(-1)!, /^trials=25 leaked=\d+ defects=\d+ ready=\d+ failed=\d+ interrupted=\d+/)
        assert.strictEqual(summary.leaked, 0, lines.join("\n"))
        assert.strictEqual(summary.defects, 0, lines.join("\n"))
        assert.isAbove(summary.outcomes["ready"] ?? 0, 0, "some trials succeed")
        assert.isAbove(Object.keys(summary.faults).length, 5, "a mix of faults was injected")
      }),
    90_000
  )
})
