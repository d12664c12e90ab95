import { assert, describe, it } from "@effect/vitest"
import { NodeContext } from "@effect/platform-node"
import { Effect, Option } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as Isolation from "../../src/emulator/Isolation.js"
import { call, sdk } from "./support.js"

const bwrap = await Effect.runPromise(Isolation.detect.pipe(Effect.provide(NodeContext.layer)))
if (Option.isNone(bwrap))
  console.log("Isolation tests skipped: bubblewrap (bwrap) is not installed or cannot make namespaces")

describe.skipIf(Option.isNone(bwrap))("sandbox isolation (bubblewrap)", () => {
  it.scopedLive("a sandbox command runs as a non-root user and writes only into its own sandbox", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(NodePath.join(tmpdir(), "effect-daytona-isolation-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const control = yield* Emulator.make({ dataDir })
      assert.strictEqual(control.isolation, "bubblewrap")
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const sandboxDir = NodePath.join(dataDir, "sandboxes", sandbox.id)
      const marker = `effect-daytona-isolation-${sandbox.id}`

      const id = yield* call(() => sandbox.process.executeCommand("id -u; id -un; echo $HOME"))
      assert.strictEqual(id.exitCode, 0)
      assert.deepStrictEqual(id.result.trim().split("\n"), ["1000", "daytona", "/home/daytona"])

      const write = yield* call(() =>
        sandbox.process.executeCommand(
          `cd /home/daytona && echo a > /tmp/${marker} && echo b > /home/daytona/${marker} && echo c > ../../${marker}` +
            ` && cat /tmp/${marker} /home/daytona/${marker} /${marker}`
        )
      )
      assert.strictEqual(write.exitCode, 0)
      assert.strictEqual(write.result, "a\nb\nc\n")
      // Everything landed in the sandbox folder …
      assert.isTrue(existsSync(NodePath.join(sandboxDir, "tmp", marker)))
      assert.isTrue(existsSync(NodePath.join(sandboxDir, "home/daytona", marker)))
      assert.isTrue(existsSync(NodePath.join(sandboxDir, marker)))
      // … and nothing on the host.
      assert.isFalse(existsSync(NodePath.join("/tmp", marker)))
      assert.isFalse(existsSync(NodePath.join("/", marker)))
      assert.isFalse(existsSync(NodePath.join("/home/daytona", marker)))

      // The host's system folders are read-only, and the host's own files are not there at all.
      const system = yield* call(() =>
        sandbox.process.executeCommand(
          `touch /usr/${marker} 2>/dev/null && echo usr; touch /etc/${marker} 2>/dev/null && echo etc;` +
            ` ls ${JSON.stringify(dataDir)} 2>/dev/null && echo data; echo done`
        )
      )
      assert.strictEqual(system.result, "done\n")
      assert.isFalse(existsSync(`/usr/${marker}`))
      assert.isFalse(existsSync(`/etc/${marker}`))
    })
  )

  it.scopedLive("a sandbox's processes have their own pid namespace and end with the sandbox", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const pid = yield* call(() => sandbox.process.executeCommand("echo $$"))
      // The command's shell is a low pid of its own namespace, not a host pid.
      assert.isBelow(Number(pid.result.trim()), 10)
      yield* call(() => sandbox.process.createSession("bg"))
      yield* call(() =>
        sandbox.process.executeSessionCommand("bg", { command: "sleep 300 & sleep 300", runAsync: true })
      )
      assert.isAbove(yield* control.liveProcesses, 0)
      yield* call(() => sandbox.stop())
      assert.strictEqual(yield* control.liveProcesses, 0)
    })
  )
})
