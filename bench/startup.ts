/**
 * CLI start-up: `node dist/bin/effect-daytona.js --version` against `node -e 0`, interleaved, medians of several runs. The
 * import of `@effect/cli` alone is measured beside them: it is the floor of any CLI built on it.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import * as NodePath from "node:path"
import { type BenchOptions, median, now, round } from "./support.js"

/** What `results.startup` holds. */
export interface StartupResult {
  readonly runs: number
  readonly ours_ms: number
  readonly node_ms: number
  readonly ratio: number
  /** `node -e 'import("@effect/cli")'`: what loading the CLI framework alone costs. */
  readonly framework_ms: number
  readonly framework_ratio: number
}

/** The newest modification time of the files under `dir`. */
const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = NodePath.join(dir, entry.name)
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)

/** Builds `dist/` (`npm run build`) when the CLI bundle is missing or older than `src/`. */
const ensureBuilt = (root: string, options: BenchOptions): string => {
  const bin = NodePath.join(root, "dist", "bin", "effect-daytona.js")
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest(NodePath.join(root, "src"))) {
    options.log("startup: dist/ is missing or older than src/: building it (npm run build)")
    execFileSync("npm", ["run", "build"], { cwd: root, stdio: ["ignore", 2, 2] })
  }
  return bin
}

/** The wall time of one `node …args` run, in milliseconds; fails when the process does. */
const timeRun = (args: ReadonlyArray<string>, cwd: string): number => {
  const start = now()
  const result = spawnSync(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
  const ms = now() - start
  if (result.status !== 0) {
    throw new Error(`node ${args.join(" ")} exited ${result.status}: ${result.stderr.toString().slice(0, 300)}`)
  }
  return ms
}

/** Runs the benchmark: `runs` runs of each (15 full, 5 quick) after one warm-up each, interleaved. */
export const run = async (options: BenchOptions & { readonly root: string }): Promise<StartupResult> => {
  const runs = options.quick ? 5 : 15
  const bin = ensureBuilt(options.root, options)
  const commands = {
    ours: [bin, "--version"],
    node: ["-e", "0"],
    framework: ["--input-type=module", "-e", 'await import("@effect/cli")']
  } as const
  const samples: Record<keyof typeof commands, Array<number>> = { ours: [], node: [], framework: [] }
  for (let i = 0; i <= runs; i++) {
    for (const [name, args] of Object.entries(commands) as Array<[keyof typeof commands, ReadonlyArray<string>]>) {
      const ms = timeRun(args, options.root)
      if (i > 0) samples[name].push(ms)
    }
  }
  const ours = median(samples.ours)
  const node = median(samples.node)
  const framework = median(samples.framework)
  const result: StartupResult = {
    runs,
    ours_ms: round(ours, 1),
    node_ms: round(node, 1),
    ratio: round(ours / node, 2),
    framework_ms: round(framework, 1),
    framework_ratio: round(framework / node, 2)
  }
  options.log(
    `startup: --version ${result.ours_ms} ms, node -e 0 ${result.node_ms} ms (×${result.ratio}); ` +
      `import("@effect/cli") alone ${result.framework_ms} ms (×${result.framework_ratio})`
  )
  return result
}
