/**
 * `DaytonaRuntime.pool` end to end: the real SDK and HttpClient against the embedded emulator, whose action servers
 * take 300 ms to boot. A hand-out skips the boot, carries the caller's SID, env vars and initial commands; a pooled
 * runtime whose sandbox was stopped behind the pool's back is discarded and never handed out; closing the pool leaves
 * no sandbox started and no process running.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { SID_LABEL } from "../../src/services/DaytonaClient.js"
import { waitUntil } from "../emulator/support.js"

const stack = DaytonaRuntime.layer.pipe(
  Layer.provideMerge(Emulator.layer({ actionServer: { bootDelay: "300 millis" } }))
)

const readyIs = (pool: DaytonaRuntime.RuntimePoolService, n: number) =>
  waitUntil(pool.stats, (stats) => stats.ready === n && stats.filling === 0, "20 seconds")

describe("the runtime pool against the emulator", () => {
  it.live(
    "hand-outs skip the boot and carry the caller's SID, env and commands; a dead one is never handed out; " +
      "closing the pool leaves nothing running",
    () =>
      Effect.gen(function* () {
        const control = yield* Emulator.EmulatorControl
        const poolScope = yield* Scope.make()
        const pool = yield* Scope.extend(DaytonaRuntime.pool({ size: 2, envVars: { POOL_VAR: "pool" } }), poolScope)
        yield* readyIs(pool, 2)

        const callerScope = yield* Scope.make()
        const handle = yield* Scope.extend(
          pool.acquire({
            sid: "pool-it-1",
            envVars: { CALLER_VAR: "caller" },
            initialCommands: ["echo ready > from-initial.txt"]
          }),
          callerScope
        )
        assert.deepStrictEqual(handle.origin, { sandbox: "cold", runtimePool: true })
        const echoed = yield* handle.run("echo $POOL_VAR-$CALLER_VAR; cat from-initial.txt")
        assert.deepStrictEqual([echoed.exitCode, echoed.output], [0, "pool-caller\nready"])
        const labelled = (yield* control.sandboxes).find((s) => s.id === handle.sandboxId)!
        assert.strictEqual(labelled.labels[SID_LABEL], "pool-it-1")

        // A pooled runtime whose sandbox was stopped behind the pool's back fails its check: it is deleted.
        yield* readyIs(pool, 2)
        const idle = (yield* control.sandboxes).filter((s) => s.labels[SID_LABEL]?.startsWith("pooled-"))
        assert.strictEqual(idle.length, 2)
        yield* Effect.forEach(idle, (s) => control.setSandboxState(s.id, "stopped"))
        const fresh = yield* Scope.extend(pool.acquire({ sid: "pool-it-2" }), callerScope).pipe(
          Effect.timeout("30 seconds")
        )
        assert.notInclude(
          idle.map((s) => s.id),
          fresh.sandboxId
        )
        assert.strictEqual((yield* fresh.run("echo alive")).output, "alive")
        assert.isAtLeast((yield* pool.stats).discarded, 2)

        // The callers' runtimes close by their own policy (stopped); the pool deletes its idle ones.
        yield* Scope.close(callerScope, Exit.void)
        yield* Scope.close(poolScope, Exit.void)
        const left = yield* control.sandboxes
        assert.deepStrictEqual(
          left.filter((s) => s.state === "started").map((s) => s.id),
          []
        )
        // Only the callers' runtimes are left (stopped); the pooled ones are deleted (or being deleted).
        assert.sameDeepMembers(
          left.filter((s) => s.state !== "destroying" && s.desiredState !== "destroyed").map((s) => [s.id, s.state]),
          [
            [handle.sandboxId, "stopped"],
            [fresh.sandboxId, "stopped"]
          ]
        )
        // Deleted sandboxes' processes end within the emulator's grace period for a process group.
        // (A repeat would give its schedule's count, not the number of processes.)
        assert.strictEqual(yield* waitUntil(control.liveProcesses, (n) => n === 0, "15 seconds"), 0)
      }).pipe(Effect.provide(stack)),
    60_000
  )
})
