/**
 * Profiles of one stretch of a benchmark process, through the inspector: a CPU profile (`.cpuprofile`) and a sampling
 * allocation profile (`.heapprofile`) that counts every allocation of the stretch, including what the garbage
 * collector has freed since (Node's `--heap-prof` keeps only what is still alive at exit). Both open in Chrome's
 * DevTools.
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import * as NodePath from "node:path"

/** A profiling session under way. */
export interface Running {
  /** Stops both profilers and writes `<name>.cpuprofile` and `<name>.heapprofile` into `dir`. */
  readonly stop: (dir: string, name: string) => Promise<void>
}

/** Starts the CPU profiler and the allocation sampler (one sample every 32 KiB allocated, on average). */
export const start = async (): Promise<Running> => {
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 200 })
  await session.post("HeapProfiler.enable")
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 32 * 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true
  })
  await session.post("Profiler.start")
  return {
    stop: async (dir, name) => {
      const { profile } = await session.post("Profiler.stop")
      const { profile: heap } = await session.post("HeapProfiler.stopSampling")
      session.disconnect()
      writeFileSync(NodePath.join(dir, `${name}.cpuprofile`), JSON.stringify(profile))
      writeFileSync(NodePath.join(dir, `${name}.heapprofile`), JSON.stringify(heap))
    }
  }
}
