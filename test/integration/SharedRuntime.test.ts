/**
 * Sharing per SID with `DaytonaRuntime.layer` against the emulator: two attaching acquires of one SID in one process
 * share one handle and one sandbox (no second attach that would fence the first); it is closed once the last user is
 * done, and no process is left.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { waitUntil } from "../emulator/support.js"

const stack = DaytonaRuntime.layer.pipe(
  Layer.provideMerge(Emulator.layer({ actionServer: { bootDelay: "200 millis" } }))
)

describe("shared runtimes against the emulator", () => {
  it.live("two attaching users of one SID share one sandbox; it is stopped once, after the last", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const options = { sid: "shared-it", attachToExisting: true, onClose: "stop" } as const
      const first = yield* Scope.make()
      const second = yield* Scope.make()
      const [a, b] = yield* Effect.all(
        [Scope.extend(DaytonaRuntime.acquire(options), first), Scope.extend(DaytonaRuntime.acquire(options), second)],
        { concurrency: 2 }
      )
      assert.strictEqual(a, b)
      const [one, two] = yield* Effect.all([a.run("echo one"), b.run("echo two")], { concurrency: 2 })
      assert.deepStrictEqual([one.output, two.output], ["one", "two"])
      assert.strictEqual((yield* control.sandboxes).length, 1)

      yield* Scope.close(first, Exit.void)
      assert.strictEqual((yield* b.run("echo still")).output, "still", "the second user's runtime still works")
      assert.strictEqual((yield* control.sandboxes)[0]!.state, "started")
      yield* Scope.close(second, Exit.void)
      assert.strictEqual((yield* control.sandboxes)[0]!.state, "stopped")
      // (A repeat would give its schedule's count, not the number of processes.)
      assert.strictEqual(yield* waitUntil(control.liveProcesses, (n) => n === 0, "5 seconds"), 0)
    }).pipe(Effect.provide(stack))
  )
})
