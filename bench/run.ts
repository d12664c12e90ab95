/**
 * `npm run bench` (full) and `npm run bench -- --quick`: runs the benchmarks against the embedded
 * emulator, checks the goals, writes the results and the tables.
 *
 * - full: writes `bench/results.json` and the tables of BENCHMARKS.md;
 * - `--quick` (about 3½ minutes; the paced fleets at 100): writes `.build/bench/results.quick.json` and prints the tables (BENCHMARKS.md keeps
 *   the figures of the last full run);
 * - `--only overhead,lifecycle,…` (or `warm_pool`): runs the named benchmarks and prints their tables, writing nothing;
 * - `--tables-only`: rewrites the tables of BENCHMARKS.md from `bench/results.json`.
 *
 * `--fleet-child N` is the entry of one fleet size in its own process (see `fleet.ts`), `--paced-child` that of one
 * client process of a paced fleet (see `paced.ts`); `--paced-n N` sets the paced fleets' size (default 1000, quick
 * 100), and `--profile DIR` writes a CPU and a heap profile of each paced client process into DIR.
 */
import { readFileSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Fleet from "./fleet.js"
import * as Lifecycle from "./lifecycle.js"
import * as Overhead from "./overhead.js"
import * as Paced from "./paced.js"
import * as Readiness from "./readiness.js"
import { goals, type Results, tables, updateDocument } from "./report.js"
import * as Startup from "./startup.js"
import * as WarmPool from "./warmPool.js"
import { now } from "./support.js"

/** The repository root: `npm run bench` runs from it. */
const root = process.cwd()

const names = ["overhead", "lifecycle", "readiness", "fleet", "paced", "startup", "warm_pool"] as const
type Name = (typeof names)[number]

/** Writes BENCHMARKS.md with new tables, formatted as the repository's prettier config says. */
const writeDocument = async (generated: string): Promise<void> => {
  const file = NodePath.join(root, "BENCHMARKS.md")
  const prettier = await import("prettier")
  const config = (await prettier.resolveConfig(file)) ?? {}
  const text = updateDocument(readFileSync(file, "utf8"), generated)
  writeFileSync(file, await prettier.format(text, { ...config, filepath: file }))
}

const argValue = (flag: string): string | undefined => {
  const index = process.argv.indexOf(flag)
  return index === -1 ? undefined : process.argv[index + 1]
}

const numberArg = (flag: string): number | undefined => {
  const value = argValue(flag)
  return value === undefined ? undefined : Number(value)
}

const main = async (): Promise<void> => {
  if (process.argv.includes("--paced-child")) {
    await Paced.runChild()
    return
  }
  const child = argValue("--fleet-child")
  if (child !== undefined) {
    const [n, placement, client] = child.split(":")
    const row = await Fleet.runSize(Number(n), placement as Fleet.Placement, client as Fleet.Client)
    process.stdout.write(`${JSON.stringify(row)}\n`)
    return
  }
  if (process.argv.includes("--tables-only")) {
    // Rewrites the tables of BENCHMARKS.md from bench/results.json, measuring nothing.
    const saved = JSON.parse(readFileSync(NodePath.join(root, "bench", "results.json"), "utf8")) as Results
    await writeDocument(tables(saved))
    return
  }
  const quick = process.argv.includes("--quick")
  const only = argValue("--only")?.split(",") as Array<Name> | undefined
  const unknown = only?.filter((name) => !names.includes(name)) ?? []
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(", ")}: pick from ${names.join(", ")}`)
  const selected = (name: Name) => only === undefined || only.includes(name)
  const started = now()
  const log = (line: string) => console.log(`[${((now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`)
  const options = { quick, log }
  const load = Os.loadavg()

  const overhead = selected("overhead") ? await Overhead.run(options) : undefined
  const lifecycle = selected("lifecycle") ? await Lifecycle.run(options) : undefined
  const readiness = selected("readiness") ? await Readiness.run(options) : undefined
  const fleet = selected("fleet") ? await Fleet.run(options) : undefined
  const paced = selected("paced")
    ? await Paced.run({ ...options, n: numberArg("--paced-n"), profileDir: argValue("--profile") })
    : undefined
  const startup = selected("startup") ? await Startup.run({ ...options, root }) : undefined
  const warmPool = selected("warm_pool") ? await WarmPool.run(options) : undefined

  const cpus = Os.cpus()
  const measured: Results = {
    mode: quick ? "quick" : "full",
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      platform: `${Os.type()} ${Os.release()} ${Os.arch()}`,
      cpus: cpus.length,
      cpu_model: cpus[0]?.model.trim() ?? "unknown",
      memory_gb: Math.round(Os.totalmem() / 1024 ** 3),
      load_average: load
    },
    duration_s: Math.round((now() - started) / 1000),
    ...(overhead === undefined ? {} : { overhead }),
    ...(lifecycle === undefined ? {} : { lifecycle }),
    ...(fleet === undefined ? {} : { fleet }),
    ...(paced === undefined ? {} : paced),
    ...(startup === undefined ? {} : { startup }),
    ...(readiness === undefined ? {} : { readiness_lag_ms: readiness }),
    ...(warmPool === undefined ? {} : { warm_pool: warmPool })
  }
  const results: Results = { ...measured, goals: goals(measured) }
  const generated = tables(results)
  console.log(`\n${generated}\n`)
  if (only !== undefined) return
  const file = NodePath.join(root, quick ? ".build/bench/results.quick.json" : "bench/results.json")
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  log(`wrote ${NodePath.relative(root, file)}`)
  if (!quick) {
    await writeDocument(generated)
    log("updated the tables of BENCHMARKS.md")
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
