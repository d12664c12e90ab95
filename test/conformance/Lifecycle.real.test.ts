/**
 * The whole lifecycle through the emulator running the REAL OpenHands action execution server
 * (`actionServerCommand: ../shared/openhands-server/serve`), in both preview modes: acquire → run → `cd`
 * persists → edit → read → close, and after the close the sandbox is stopped and no process of it is left.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { Action } from "../../src/services/ActionServer.js"
import { available, realTest, SERVE, skipReason, steady } from "../real/support.js"

if (!available) console.log(skipReason)

const stack = (previewMode: "direct" | "proxy") =>
  DaytonaRuntime.layer.pipe(Layer.provideMerge(Emulator.layer({ actionServerCommand: SERVE, previewMode })))

describe.skipIf(!available)("the lifecycle against the real server", () => {
  for (const previewMode of ["proxy", "direct"] as const) {
    it.live(
      `${previewMode} preview: acquire → run → cd persists → edit → read → close`,
      () =>
        Effect.gen(function* () {
          const control = yield* Emulator.EmulatorControl
          const seen = yield* Effect.scoped(
            Effect.gen(function* () {
              const runtime = yield* DaytonaRuntime.acquire({ sid: `conformance-${previewMode}` })
              assert.strictEqual(yield* runtime.status, "READY")
              // The tests' commands are idempotent: a run the real server answered too early is run again.
              const run = steady(runtime.run, runtime.interrupt())
              const hello = yield* run("echo hello from the real server")
              const workspace = (yield* run("pwd")).output
              yield* run(`mkdir -p ${workspace}/src && cd ${workspace}/src`)
              const moved = yield* run("pwd")
              const file = `${moved.output}/main.py`
              yield* runtime.execute(Action.Edit({ path: file, command: "create", fileText: "print('v1')\n" }))
              const edited = yield* runtime.execute(
                Action.Edit({ path: file, command: "str_replace", oldStr: "v1", newStr: "v2" })
              )
              // A relative read starts in the shell's current folder.
              const read = yield* runtime.execute(Action.Read({ path: "main.py" }))
              const ran = yield* run("python3 main.py")
              return { hello, workspace, moved, edited, read, ran, sandboxes: yield* control.sandboxes }
            })
          )
          assert.deepStrictEqual([seen.hello._tag, seen.hello.output], ["Completed", "hello from the real server"])
          assert.match(seen.workspace, /\/workspace$/)
          assert.strictEqual(seen.moved.output, `${seen.workspace}/src`)
          assert.strictEqual(seen.edited._tag, "Edit")
          assert.deepStrictEqual(seen.read._tag === "Read" && [seen.read.path, seen.read.content], [
            `${seen.workspace}/src/main.py`,
            "print('v2')\n"
          ])
          assert.deepStrictEqual([seen.ran.exitCode, seen.ran.output], [0, "v2"])
          assert.strictEqual(seen.sandboxes.length, 1)
          const [after] = yield* control.sandboxes
          assert.strictEqual(after!.state, "stopped", "closed by the default policy")
          assert.strictEqual(yield* control.liveProcesses, 0, "the real server and its shell are gone")
        }).pipe(Effect.provide(stack(previewMode))),
      realTest
    )
  }
})
