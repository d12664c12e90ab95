/**
 * Operating-system helpers of the emulator: free loopback ports, process-group liveness and termination.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import * as Net from "node:net"

/**
 * Asks the kernel for a free TCP port on 127.0.0.1 (bind to port 0, read it, release it).
 *
 * @since 0.1.0
 */
export const allocateLoopbackPort: Effect.Effect<number, Error> = Effect.async<number, Error>((resume) => {
  const server = Net.createServer()
  server.unref()
  server.once("error", (error) => resume(Effect.fail(error)))
  server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(port > 0 ? Effect.succeed(port) : Effect.fail(new Error("no port assigned"))))
  })
})

/** The state letter and process group of a pid from `/proc` (Linux), or undefined when it is gone. */
const procStat = (pid: number): { readonly state: string; readonly pgrp: number } | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0] ?? "?", pgrp: Number(fields[2]) }
  } catch {
    return undefined
  }
}

const hasProc = (() => {
  try {
    readdirSync("/proc/self")
    return true
  } catch {
    return false
  }
})()

/**
 * Whether a process is alive. Zombies (exited, not yet reaped — common for orphans when PID 1 does not
 * reap) count as dead.
 *
 * @since 0.1.0
 */
export const pidAlive = (pid: number): boolean => {
  if (hasProc) {
    const stat = procStat(pid)
    return stat !== undefined && stat.state !== "Z" && stat.state !== "X"
  }
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Whether any live (non-zombie) process is left in the process group `pgid`.
 *
 * @since 0.1.0
 */
export const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
  } catch {
    return false
  }
  if (!hasProc) return true
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(Number(entry))
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") return true
  }
  return false
}

const signalGroup = (pgid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pgid, signal)
  } catch {
    // the group is gone already
  }
}

/**
 * Ends a whole process group: SIGTERM, up to `grace` for it to go, then SIGKILL. Never fails.
 *
 * @since 0.1.0
 */
export const terminateGroup = (pgid: number, grace: Duration.DurationInput = "1500 millis"): Effect.Effect<void> => {
  // Polls are bounded by count, not by a timeout: this runs uninterruptibly, where a timeout could not cut in.
  const polls = (every: number, within: Duration.DurationInput) =>
    Effect.sync(() => groupAlive(pgid)).pipe(
      Effect.repeat({
        schedule: Schedule.intersect(
          Schedule.spaced(Duration.millis(every)),
          Schedule.recurs(Math.ceil(Duration.toMillis(within) / every))
        ),
        while: (alive) => alive
      })
    )
  return Effect.gen(function* () {
    if (!groupAlive(pgid)) return
    signalGroup(pgid, "SIGTERM")
    yield* polls(20, grace)
    if (groupAlive(pgid)) signalGroup(pgid, "SIGKILL")
    yield* polls(10, "1 second")
  }).pipe(Effect.uninterruptible)
}
