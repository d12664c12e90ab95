/**
 * The benchmark harness's pure parts: statistics, the goals read off a results document, and the rewrite of the
 * generated block of BENCHMARKS.md. (The benchmarks themselves run with `npm run bench`; timings are never
 * asserted here.)
 */
import { assert, describe, it } from "@effect/vitest"
import { goals, MARKERS, type Results, tables, updateDocument } from "../../bench/report.js"
import { median, quantile, round } from "../../bench/support.js"

const machine = {
  node: "v20.0.0",
  platform: "Linux",
  cpus: 2,
  cpu_model: "test",
  memory_gb: 8,
  load_average: [0, 0, 0]
}

const results: Results = {
  mode: "quick",
  date: "2026-01-01T00:00:00.000Z",
  machine,
  duration_s: 1,
  overhead: {
    requests_each: 10,
    block: 5,
    ours_p50_us: 110,
    raw_p50_us: 100,
    ratio_p50: 1.1,
    ours_p99_us: 300,
    raw_p99_us: 200,
    ratio_p99: 1.5,
    ours_rps: 900,
    raw_rps: 1000,
    platform_p50_us: 105,
    platform_p99_us: 250,
    platform_rps: 950,
    platform_ratio_p50: 1.05
  },
  lifecycle: {
    runs: 1,
    ours_ms: 12,
    baseline_ms: 10,
    ratio: 1.2,
    ours_cpu_ms: 6,
    baseline_cpu_ms: 5,
    cpu_ratio: 1.2,
    api_calls_ours: 5,
    api_calls_baseline: 5,
    calls_ours: { "sandbox.get": 2 },
    calls_baseline: { "sandbox.get": 2 }
  },
  readiness_lag_ms: { runs: 1, p50: 1200, max: 1300, min: 10, boot_delay_ms: { min: 0, max: 1 }, connect_p50_ms: 5 }
}

const warmPool = {
  boot_delay_ms: 3000,
  create_latency_ms: 400,
  pool_runs: 10,
  cold_runs: 3,
  pool_p50_ms: 8.5,
  pool_p99_ms: 31.2,
  cold_p50_ms: 3480,
  claimed_p50_ms: 3050,
  unclaimed_p50_ms: 3470,
  claimed_seen: 3,
  unclaimed_seen: 3
}

describe("bench statistics", () => {
  it("quantile is the nearest rank and median averages the middle pair", () => {
    const samples = [5, 1, 4, 2, 3]
    assert.strictEqual(quantile(samples, 0.5), 3)
    assert.strictEqual(quantile(samples, 0.99), 5)
    assert.strictEqual(quantile(samples, 0), 1)
    assert.strictEqual(median([4, 1, 3, 2]), 2.5)
    assert.isNaN(median([]))
    assert.strictEqual(round(1.23456, 2), 1.23)
  })
})

describe("bench goals and tables", () => {
  it("judges each measured goal against its target", () => {
    const judged = Object.fromEntries(goals(results).map((goal) => [goal.goal, goal.met]))
    assert.deepStrictEqual(judged, {
      "request overhead p50": true,
      "lifecycle wall time": false,
      "lifecycle API calls": true,
      "readiness lag p50": false
    })
  })

  it("renders a table per benchmark that ran", () => {
    const text = tables({ ...results, goals: goals(results) })
    assert.include(text, "### Goals")
    assert.include(text, "### 1. Request overhead")
    assert.include(text, "### 2. Lifecycle")
    assert.include(text, "### 5. Readiness lag")
    assert.notInclude(text, "### 3. Fleet")
  })

  it("judges the runtime pool's hand-out against 20 ms and renders the instant-runtimes table", () => {
    const withPool: Results = { ...results, warm_pool: warmPool }
    const judged = goals(withPool).find((goal) => goal.goal === "acquire from the runtime pool p50")
    assert.deepStrictEqual(judged, {
      goal: "acquire from the runtime pool p50",
      target: "≤ 20 ms",
      measured: "8.5 ms",
      met: true
    })
    assert.isFalse(
      goals({ ...results, warm_pool: { ...warmPool, pool_p50_ms: 21 } }).find((goal) => goal.goal.includes("pool"))!.met
    )
    const text = tables(withPool)
    assert.include(text, "### 7. Instant runtimes (action server boot 3000 ms, sandbox create 400 ms")
    assert.include(text, "| from our runtime pool (`DaytonaRuntime.pool`) | 8.5 | 31.2 | a ready runtime |")
    assert.include(text, "| cold (`acquire`, no warm pool) | 3480 |")
    assert.include(text, "| cold, a Daytona warm pool that matches | 3050 |  | claimed: no create wait (3/3 reported")
    assert.include(text, "| cold, a Daytona warm pool that does not (another env) | 3470 |")
    assert.notInclude(tables(results), "### 7. Instant runtimes")
  })

  it("replaces only the generated block of the document, and appends one when it is missing", () => {
    const document = `# Title\n\nprose before\n\n${MARKERS.start}\nold\n${MARKERS.end}\n\nprose after\n`
    const updated = updateDocument(document, "new")
    assert.strictEqual(updated, `# Title\n\nprose before\n\n${MARKERS.start}\nnew\n${MARKERS.end}\n\nprose after\n`)
    assert.strictEqual(updateDocument(updated, "newer").split(MARKERS.start).length, 2)
    assert.strictEqual(updateDocument("# Title\n", "x"), `# Title\n\n${MARKERS.start}\nx\n${MARKERS.end}\n`)
  })
})
