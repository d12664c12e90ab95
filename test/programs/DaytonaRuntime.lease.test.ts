/**
 * Ownership leases: written at create and at attach, renewed by the keep-alive fiber (one read and one label write
 * per interval), fencing when another holder takes over, the attach policy on a live lease, and the release on a
 * `keep` close — all in memory, time by TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Option, TestClock } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import * as Lease from "../../src/programs/Lease.js"
import { DaytonaClient, SID_LABEL } from "../../src/services/DaytonaClient.js"
import { clocked, harness, RecordedEvents } from "../support/harness.js"

const leaseOf = (id: string) =>
  Effect.flatMap(DaytonaClient, (client) =>
    Effect.map(client.get(id), (sandbox) => Option.getOrThrow(Lease.read(sandbox.labels)))
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

describe("DaytonaRuntime: ownership leases", () => {
  it.effect("a create takes generation 1; the keep-alive reads every interval and renews every other one", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const exit = yield* clocked(
        Effect.scoped(
          Effect.gen(function* () {
            const runtime = yield* DaytonaRuntime.acquire({ sid: "lease", holder: "me", keepAliveInterval: "1 minute" })
            const first = yield* leaseOf(runtime.sandboxId)
            assert.deepStrictEqual([first.holder, first.generation], ["me", 1])
            assert.strictEqual(first.expires.getTime() - first.heartbeat.getTime(), 3 * 60_000, "three intervals")
            const before = (yield* memory.calls).length
            yield* Effect.sleep("61 seconds")
            // The first tick: a read (for fencing) and, nothing else having made any, a refresh of the activity; the
            // lease lasts two more intervals, so it is not written yet.
            const firstTick = (yield* memory.calls).slice(before).map((call) => call.method)
            assert.deepStrictEqual(firstTick, ["get", "refreshActivity"])
            assert.deepStrictEqual(yield* leaseOf(runtime.sandboxId), first)
            const middle = (yield* memory.calls).length
            yield* Effect.sleep("60 seconds")
            const secondTick = (yield* memory.calls).slice(middle).map((call) => call.method)
            assert.deepStrictEqual(secondTick, ["get", "setLabels", "refreshActivity"])
            const renewed = yield* leaseOf(runtime.sandboxId)
            assert.strictEqual(renewed.generation, 1)
            assert.isAbove(renewed.heartbeat.getTime(), first.heartbeat.getTime())
            assert.isAbove(renewed.expires.getTime(), first.expires.getTime())
          })
        )
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
    }).pipe(Effect.provide(harness()))
  )

  it.effect(
    "a holder superseded by a newer generation is fenced: its actions fail typed, its close leaves the sandbox",
    () =>
      Effect.gen(function* () {
        const client = yield* DaytonaClient
        const memory = yield* DaytonaClientMemoryControl
        const exit = yield* clocked(
          Effect.scoped(
            Effect.gen(function* () {
              const runtime = yield* DaytonaRuntime.acquire({
                sid: "fenced",
                holder: "me",
                keepAliveInterval: "1 minute"
              })
              // Another process takes the sandbox over.
              const sandbox = yield* client.get(runtime.sandboxId)
              const now = yield* TestClock.currentTimeMillis
              yield* client.setLabels(runtime.sandboxId, {
                ...sandbox.labels,
                ...Lease.labels(Lease.renewed("other-host-1-abc", 2, now, Duration.minutes(15)))
              })
              yield* Effect.sleep("61 seconds")
              const fenced = (yield* RecordedEvents.all).find((event) => event._tag === "Fenced")
              assert.isTrue(fenced !== undefined && fenced._tag === "Fenced" && fenced.holder === "other-host-1-abc")
              const error = failureOf(yield* Effect.exit(runtime.run("echo hi")))
              assert.strictEqual(error?._tag, "RuntimeFenced")
              assert.include(String(error?.message), "other-host-1-abc")
              // No later renewal overwrites the new holder's lease.
              yield* Effect.sleep("3 minutes")
              assert.strictEqual((yield* leaseOf(runtime.sandboxId)).holder, "other-host-1-abc")
            })
          )
        )
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        const [sandbox] = yield* memory.sandboxes
        assert.strictEqual(sandbox!.state, "started", "the close left the sandbox to its new holder")
        const last = (yield* RecordedEvents.all).at(-1)!
        assert.isTrue(last._tag === "Closed" && last.action === "fenced")
      }).pipe(Effect.provide(harness()))
  )

  it.effect("attaching to a sandbox whose lease is live elsewhere: fail (default), share or take over", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const now = yield* TestClock.currentTimeMillis
      const seeded = yield* memory.seed({
        state: "started",
        labels: {
          [SID_LABEL]: "held",
          ...Lease.labels(Lease.renewed("other-host-1-abc", 4, now, Duration.minutes(15)))
        }
      })
      const attach = (onLiveLease?: Lease.LiveLeasePolicy) =>
        clocked(
          Effect.scoped(
            Effect.map(
              DaytonaRuntime.acquire({ sid: "held", attachToExisting: true, holder: "me", onLiveLease }),
              (runtime) => runtime.sandboxId
            )
          )
        )
      const refused = failureOf(yield* attach())
      assert.strictEqual(refused?._tag, "LeaseHeld")
      assert.include(String(refused?.message), "other-host-1-abc")
      assert.strictEqual((yield* leaseOf(seeded.id)).generation, 4, "a refused attach touches nothing")

      assert.isTrue(Exit.isSuccess(yield* attach("share")))
      const shared = yield* leaseOf(seeded.id)
      assert.deepStrictEqual([shared.holder, shared.generation], ["other-host-1-abc", 4], "a sharer keeps the holder")

      assert.isTrue(Exit.isSuccess(yield* attach("take-over")))
      const taken = yield* leaseOf(seeded.id)
      assert.strictEqual(taken.generation, 5)
      // The runtime closed with `keep`: it gave the lease up at once, so the next attach needs no policy.
      assert.isFalse(Lease.holds(taken, "started", yield* TestClock.currentTimeMillis))
      assert.isTrue(Exit.isSuccess(yield* attach()))
    }).pipe(Effect.provide(harness()))
  )

  it.effect("an expired lease, or one on a stopped sandbox, does not keep others out", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const now = yield* TestClock.currentTimeMillis
      const stale = yield* memory.seed({
        state: "started",
        labels: {
          [SID_LABEL]: "stale",
          ...Lease.labels(Lease.renewed("gone-1-abc", 7, now - 3_600_000, Duration.minutes(15)))
        }
      })
      const stopped = yield* memory.seed({
        state: "stopped",
        labels: { [SID_LABEL]: "stopped", ...Lease.labels(Lease.renewed("gone-2-abc", 2, now, Duration.minutes(15))) }
      })
      for (const [sid, id, generation] of [
        ["stale", stale.id, 8],
        ["stopped", stopped.id, 3]
      ] as const) {
        const exit = yield* clocked(
          Effect.scoped(DaytonaRuntime.acquire({ sid, attachToExisting: true, holder: "me" }))
        )
        assert.isTrue(Exit.isSuccess(exit), sid)
        assert.strictEqual((yield* leaseOf(id)).generation, generation)
      }
    }).pipe(Effect.provide(harness()))
  )
})
