/**
 * The results document (`bench/results.json`), the goals checked against it, and the Markdown tables written
 * into BENCHMARKS.md between the `bench:tables` markers.
 */
import type { FleetRow } from "./fleet.js"
import type { LifecycleResult } from "./lifecycle.js"
import type { OverheadResult } from "./overhead.js"
import type { Fleet1000, FleetSplit, PacedRun } from "./paced.js"
import type { ReadinessResult } from "./readiness.js"
import type { StartupResult } from "./startup.js"
import type { WarmPoolResult } from "./warmPool.js"

/** Everything one run measured. */
export interface Results {
  readonly mode: "full" | "quick"
  readonly date: string
  readonly machine: {
    readonly node: string
    readonly platform: string
    readonly cpus: number
    readonly cpu_model: string
    readonly memory_gb: number
    readonly load_average: ReadonlyArray<number>
  }
  readonly duration_s: number
  readonly overhead?: OverheadResult
  readonly lifecycle?: LifecycleResult
  readonly fleet?: ReadonlyArray<FleetRow>
  readonly fleet_1000?: Fleet1000
  readonly fleet_split?: FleetSplit
  readonly startup?: StartupResult
  readonly readiness_lag_ms?: ReadinessResult
  readonly warm_pool?: WarmPoolResult
  readonly goals?: ReadonlyArray<Goal>
}

/** One goal and whether this run met it. */
export interface Goal {
  readonly goal: string
  readonly target: string
  readonly measured: string
  readonly met: boolean
}

/** The goals this run can judge. */
export const goals = (results: Results): ReadonlyArray<Goal> => {
  const all: Array<Goal> = []
  const { overhead, lifecycle, fleet, startup } = results
  if (overhead !== undefined) {
    all.push({
      goal: "request overhead p50",
      target: "≤ 1.15× raw undici",
      measured: `${overhead.ratio_p50}×`,
      met: overhead.ratio_p50 <= 1.15
    })
  }
  if (lifecycle !== undefined) {
    all.push({
      goal: "lifecycle wall time",
      target: "≤ 1.10× raw SDK",
      measured: `${lifecycle.ratio}×`,
      met: lifecycle.ratio <= 1.1
    })
    all.push({
      goal: "lifecycle API calls",
      target: "≤ raw SDK's",
      measured: `${lifecycle.api_calls_ours} vs ${lifecycle.api_calls_baseline}`,
      met: lifecycle.api_calls_ours <= lifecycle.api_calls_baseline
    })
  }
  const largest = fleet?.find((row) => row.n === 200 && row.placement === "embedded")
  const clientOnly = fleet?.find((row) => row.n === 200 && row.placement === "separate" && row.client === "ours")
  if (largest !== undefined) {
    all.push({
      goal: "200 runtimes: wall time",
      target: "≤ 3× one runtime",
      measured: `${largest.wall_ratio}×`,
      met: largest.wall_ratio <= 3
    })
    all.push({
      goal: "200 runtimes: peak RSS (runtimes + emulator + 200 servers in one process)",
      target: "≤ 400 MB",
      measured: `${largest.peak_rss_mb} MB`,
      met: largest.peak_rss_mb <= 400
    })
    all.push({
      goal: "200 runtimes: leaked sandboxes, failed connects",
      target: "0",
      measured: `${largest.leaked}, ${largest.failed}`,
      met: largest.leaked === 0 && largest.failed === 0
    })
  }
  if (clientOnly !== undefined) {
    all.push({
      goal: "200 runtimes: peak RSS of the client process (emulator in its own process)",
      target: "≤ 400 MB",
      measured: `${clientOnly.peak_rss_mb} MB`,
      met: clientOnly.peak_rss_mb <= 400
    })
  }
  const { fleet_1000: paced, fleet_split: split } = results
  if (overhead?.added_cpu_us !== undefined) {
    all.push({
      goal: "request overhead: CPU added to raw undici",
      target: "≤ 60 µs per request",
      measured: `${overhead.added_cpu_us} µs`,
      met: overhead.added_cpu_us <= 60
    })
  }
  if (paced !== undefined) {
    const size = `${paced.n} runtimes at ${paced.creates_per_minute}/min`
    all.push(
      {
        goal: `${size}: wall time`,
        target: "≤ 1.10× raw SDK",
        measured: `${paced.wall_ratio}×`,
        met: paced.wall_ratio <= 1.1
      },
      {
        goal: `${size}: client CPU per runtime`,
        target: "≤ 1.25× raw SDK",
        measured: `${paced.cpu_ratio}× (${paced.ours.cpu_per_runtime_ms} vs ${paced.raw.cpu_per_runtime_ms} ms)`,
        met: paced.cpu_ratio <= 1.25
      },
      {
        goal: `${size}: client peak RSS`,
        target: "≤ 1.25× raw SDK",
        measured: `${paced.rss_ratio}× (${paced.ours.peak_rss_mb} vs ${paced.raw.peak_rss_mb} MB)`,
        met: paced.rss_ratio <= 1.25
      },
      {
        goal: `${size}: failed connects, leaked sandboxes, 429s met (our pacing)`,
        target: "0",
        measured: `${paced.failed}, ${paced.leaked}, ${paced.throttled}`,
        met: paced.failed === 0 && paced.leaked === 0 && paced.throttled === 0
      }
    )
  }
  if (split !== undefined) {
    all.push({
      goal: `${split.n} runtimes over ${split.processes} processes (a quarter of the rate each): wall time`,
      target: "≤ 1.2× one process",
      measured: `${split.wall_ratio}×`,
      met: split.wall_ratio <= 1.2 && split.run.failed === 0
    })
  }
  if (startup !== undefined) {
    all.push({
      goal: "CLI start-up",
      target: "≤ 4× `node -e 0`",
      measured: `${startup.ratio}×`,
      met: startup.ratio <= 4
    })
  }
  if (results.warm_pool !== undefined) {
    all.push({
      goal: "acquire from the runtime pool p50",
      target: "≤ 20 ms",
      measured: `${results.warm_pool.pool_p50_ms} ms`,
      met: results.warm_pool.pool_p50_ms <= 20
    })
  }
  if (results.readiness_lag_ms !== undefined) {
    all.push({
      goal: "readiness lag p50",
      target: "≤ 1000 ms",
      measured: `${results.readiness_lag_ms.p50} ms`,
      met: results.readiness_lag_ms.p50 <= 1000
    })
  }
  return all
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

/** The Markdown tables of a run. */
export const tables = (results: Results): string => {
  const parts: Array<string> = []
  const { machine } = results
  parts.push(
    `Run: \`${results.mode}\`, ${results.date}, ${Math.round(results.duration_s)} s; Node ${machine.node}, ` +
      `${machine.platform}, ${machine.cpus} × ${machine.cpu_model}, ${machine.memory_gb} GB; ` +
      `load average at the start ${machine.load_average.map((n) => n.toFixed(2)).join(" / ")}.`
  )
  if (results.goals !== undefined) {
    parts.push(
      "### Goals\n\n" +
        table(
          ["goal", "target", "measured", "met"],
          results.goals.map((goal) => [goal.goal, goal.target, goal.measured, goal.met ? "yes" : "**no**"])
        )
    )
  }
  const { overhead, lifecycle, fleet, startup, readiness_lag_ms: readiness } = results
  if (overhead !== undefined) {
    parts.push(
      `### 1. Request overhead (\`GET /alive\`, ${overhead.requests_each} requests each, blocks of ${overhead.block})\n\n` +
        table(
          ["client", "p50 (µs)", "p99 (µs)", "requests/s", "CPU per request (µs, client + server)"],
          [
            [
              "`ActionServer` (HttpClient over undici)",
              overhead.ours_p50_us,
              overhead.ours_p99_us,
              overhead.ours_rps,
              overhead.ours_cpu_us ?? "n/a"
            ],
            [
              "raw `undici.request`",
              overhead.raw_p50_us,
              overhead.raw_p99_us,
              overhead.raw_rps,
              overhead.raw_cpu_us ?? "n/a"
            ],
            [
              "bare `HttpClient` (the floor of `@effect/platform`)",
              overhead.platform_p50_us,
              overhead.platform_p99_us,
              overhead.platform_rps,
              overhead.platform_cpu_us ?? "n/a"
            ],
            [
              "ours ÷ raw",
              `${overhead.ratio_p50}×`,
              `${overhead.ratio_p99}×`,
              `${(overhead.raw_rps / overhead.ours_rps).toFixed(2)}× fewer`,
              overhead.added_cpu_us === undefined ? "" : `+${overhead.added_cpu_us} µs`
            ],
            [
              "bare `HttpClient` ÷ raw",
              `${overhead.platform_ratio_p50}×`,
              "",
              "",
              overhead.platform_added_cpu_us === undefined ? "" : `+${overhead.platform_added_cpu_us} µs`
            ]
          ]
        ) +
        (overhead.guarantees === undefined
          ? ""
          : "\n\nWhat each guarantee of an action request costs, stacked one on the other on the bare client " +
            "(CPU per request, client and server, and what the layer added to the row above; raw undici first):\n\n" +
            table(
              ["layer", "CPU per request (µs)", "added (µs)"],
              overhead.guarantees.map((row) => [
                row.layer,
                row.cpu_us,
                `${row.added_us >= 0 ? "+" : ""}${row.added_us}`
              ])
            ))
    )
  }
  if (lifecycle !== undefined) {
    const routes = (calls: Record<string, number>) =>
      Object.entries(calls)
        .map(([route, count]) => `${route} ×${count}`)
        .join(", ")
    parts.push(
      `### 2. Lifecycle (connect → \`run("true")\` → close, server already alive; medians of ${lifecycle.runs})\n\n` +
        table(
          ["", "wall (ms)", "CPU (ms)", "API calls", "calls"],
          [
            [
              "`DaytonaRuntime.acquire`",
              lifecycle.ours_ms,
              lifecycle.ours_cpu_ms,
              lifecycle.api_calls_ours,
              routes(lifecycle.calls_ours)
            ],
            [
              "raw SDK + async/await",
              lifecycle.baseline_ms,
              lifecycle.baseline_cpu_ms,
              lifecycle.api_calls_baseline,
              routes(lifecycle.calls_baseline)
            ],
            ["ratio", `${lifecycle.ratio}×`, `${lifecycle.cpu_ratio}×`, "", ""]
          ]
        )
    )
  }
  if (fleet !== undefined) {
    parts.push(
      '### 3. Fleet (N runtimes at once in one process: connect → `run("true")` → close)\n\n' +
        table(
          [
            "N",
            "client",
            "emulator",
            "wall (ms)",
            "one alone (ms)",
            "ratio",
            "connect p50 (ms)",
            "connect p95 (ms)",
            "peak RSS (MB)",
            "CPU per runtime (ms): process, main thread, emulator process",
            "failed",
            "leaked"
          ],
          fleet.map((row) => [
            row.n,
            row.client === "ours" ? "`acquire`" : "raw SDK",
            row.placement === "embedded" ? "in the process" : "own process",
            row.wall_ms,
            row.single_ms,
            `${row.wall_ratio}×`,
            row.p50_ms,
            row.p95_ms,
            row.peak_rss_mb,
            [
              row.cpu_per_runtime_ms,
              row.main_thread_cpu_per_runtime_ms ?? "n/a",
              row.emulator_cpu_per_runtime_ms ?? "(in the process)"
            ].join(", "),
            row.failed,
            row.leaked
          ])
        )
    )
  }
  if (startup !== undefined) {
    parts.push(
      `### 4. CLI start-up (medians of ${startup.runs})\n\n` +
        table(
          ["command", "ms", "× `node -e 0`"],
          [
            ["`node dist/bin/effect-daytona.js --version`", startup.ours_ms, `${startup.ratio}×`],
            [
              "`node -e 'await import(\"@effect/cli\")'` (the framework alone)",
              startup.framework_ms,
              `${startup.framework_ratio}×`
            ],
            ["`node -e 0`", startup.node_ms, "1×"]
          ]
        )
    )
  }
  if (readiness !== undefined) {
    parts.push(
      `### 5. Readiness lag (${readiness.runs} runs, boot delay ${readiness.boot_delay_ms.min}–${readiness.boot_delay_ms.max} ms)\n\n` +
        table(
          ["lag p50 (ms)", "lag max (ms)", "lag min (ms)", "connect p50 (ms)"],
          [[readiness.p50, readiness.max, readiness.min, readiness.connect_p50_ms]]
        )
    )
  }
  if (results.fleet_1000 !== undefined || results.fleet_split !== undefined) {
    parts.push(pacedTable(results.fleet_1000, results.fleet_split))
  }
  const warm = results.warm_pool
  if (warm !== undefined) {
    parts.push(
      `### 7. Instant runtimes (action server boot ${warm.boot_delay_ms} ms, sandbox create ${warm.create_latency_ms} ms; ` +
        `${warm.pool_runs} hand-outs, ${warm.cold_runs} acquires of each other kind)\n\n` +
        table(
          ["acquire", "p50 (ms)", "p99 (ms)", "note"],
          [
            ["from our runtime pool (`DaytonaRuntime.pool`)", warm.pool_p50_ms, warm.pool_p99_ms, "a ready runtime"],
            ["cold (`acquire`, no warm pool)", warm.cold_p50_ms, "", "create, boot, wait until it answers"],
            [
              "cold, a Daytona warm pool that matches",
              warm.claimed_p50_ms,
              "",
              `claimed: no create wait (${warm.claimed_seen}/${warm.cold_runs} reported from the warm pool)`
            ],
            [
              "cold, a Daytona warm pool that does not (another env)",
              warm.unclaimed_p50_ms,
              "",
              `not claimed (${warm.unclaimed_seen}/${warm.cold_runs} reported cold)`
            ]
          ]
        )
    )
  }
  return parts.join("\n\n")
}

/** The table of the paced fleets (section 6). */
const pacedTable = (paced: Fleet1000 | undefined, split: FleetSplit | undefined): string => {
  const runs: ReadonlyArray<PacedRun> = [
    ...(paced === undefined ? [] : [paced.ours, paced.raw]),
    ...(split === undefined ? [] : [split.run])
  ]
  const first = runs[0]!
  const rows = runs.map((run) => [
    run.client === "ours" ? "`acquire`" : "raw SDK",
    run.processes,
    run.n,
    run.wall_ms,
    run.cpu_per_runtime_ms,
    run.main_thread_cpu_per_runtime_ms ?? "n/a",
    run.emulator_cpu_per_runtime_ms ?? "n/a",
    run.peak_rss_mb,
    run.failed,
    run.leaked,
    run.throttled
  ])
  const ratios =
    paced === undefined
      ? []
      : [
          [
            "ours ÷ raw (one process)",
            "",
            "",
            `${paced.wall_ratio}×`,
            `${paced.cpu_ratio}×`,
            "",
            "",
            `${paced.rss_ratio}×`,
            "",
            "",
            ""
          ]
        ]
  const splitRatio =
    split === undefined
      ? []
      : [[`${split.processes} processes ÷ one`, "", "", `${split.wall_ratio}×`, "", "", "", "", "", "", ""]]
  return (
    `### 6. Paced fleets (${first.n} runtimes; the emulator, in its own process, enforces ` +
    `${first.creates_per_minute} creates a minute)\n\n` +
    table(
      [
        "client",
        "processes",
        "N",
        "wall (ms)",
        "CPU per runtime (ms)",
        "main thread (ms)",
        "emulator (ms)",
        "peak RSS (MB)",
        "failed",
        "leaked",
        "429s"
      ],
      [...rows, ...ratios, ...splitRatio]
    )
  )
}

/** The markers between which BENCHMARKS.md holds the generated tables. */
export const MARKERS = { start: "<!-- bench:tables:start -->", end: "<!-- bench:tables:end -->" } as const

/** Replaces the generated part of BENCHMARKS.md (or appends it when the markers are missing). */
export const updateDocument = (document: string, generated: string): string => {
  const block = `${MARKERS.start}\n${generated}\n${MARKERS.end}`
  const start = document.indexOf(MARKERS.start)
  const end = document.indexOf(MARKERS.end)
  if (start === -1 || end === -1 || end < start) return `${document.trimEnd()}\n\n${block}\n`
  return `${document.slice(0, start)}${block}${document.slice(end + MARKERS.end.length)}`
}
