/**
 * What the benchmarks share: statistics, timers, an RSS sampler, temporary folders and the progress log.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import { performance } from "node:perf_hooks"

/** How a benchmark is run. */
export interface BenchOptions {
  /** The short run (`npm run bench -- --quick`). */
  readonly quick: boolean
  /** Prints one progress line. */
  readonly log: (line: string) => void
}

/** The current time in milliseconds, with sub-millisecond resolution. */
export const now = (): number => performance.now()

/** The `q`-quantile (0..1) of the samples, by the nearest-rank method. */
export const quantile = (samples: ReadonlyArray<number>, q: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

/** The median of the samples. */
export const median = (samples: ReadonlyArray<number>): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Rounds to `digits` decimals. */
export const round = (value: number, digits = 2): number => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Collects full garbage when the process runs with `--expose-gc`, so one benchmark's garbage is not another's. */
export const collectGarbage = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) {
    gc()
    gc()
  }
}

/** Samples the process's resident set size every `intervalMs` until stopped; returns the peak in MB. */
export const sampleRss = (intervalMs = 20): { readonly stop: () => number } => {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      peak = Math.max(peak, process.memoryUsage.rss())
      return peak / (1024 * 1024)
    }
  }
}

/** A fresh temporary folder and its removal. */
export const tempDir = (prefix: string): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(NodePath.join(tmpdir(), `effect-daytona-bench-${prefix}-`))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The CPU time of this process's main thread (the event loop) in milliseconds, from `/proc` (Linux); `undefined`
 * elsewhere. `process.cpuUsage()` also counts the garbage collector's and libuv's helper threads.
 */
export const mainThreadCpuMs = (): number | undefined => cpuFromStat(`/proc/self/task/${process.pid}/stat`)

/** The CPU time of another process (all its threads) in milliseconds, from `/proc` (Linux); `undefined` elsewhere. */
export const processCpuMs = (pid: number): number | undefined => cpuFromStat(`/proc/${pid}/stat`)

const cpuFromStat = (path: string): number | undefined => {
  try {
    const stat = readFileSync(path, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // utime and stime, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}
