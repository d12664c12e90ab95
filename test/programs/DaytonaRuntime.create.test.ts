import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, Option, Redacted } from "effect"
import { DaytonaClientMemoryControl } from "../../src/layers/DaytonaClientMemory.js"
import * as DaytonaRuntime from "../../src/programs/DaytonaRuntime.js"
import * as Lease from "../../src/programs/Lease.js"
import * as SessionKey from "../../src/programs/SessionKey.js"
import { DaytonaConfig } from "../../src/services/DaytonaConfig.js"
import {
  ACQUIRE_LABEL,
  CREATED_AT_LABEL,
  DaytonaApiError,
  OWNER_LABEL,
  SID_LABEL
} from "../../src/services/DaytonaClient.js"
import { ConnectionRefused, HttpStatusError } from "../../src/services/ActionServer.js"
import { ScriptedActionServerControl } from "../support/ScriptedActionServer.js"
import { clocked, clockedScoped, harness, RecordedEvents, tags } from "../support/harness.js"

describe("DaytonaRuntime.acquire: create", () => {
  it.effect("creates a labelled sandbox, starts the server, waits for alive, then stops it on close", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.queueAlive(new ConnectionRefused({ url: "x" }), new ConnectionRefused({ url: "x" }))

      const exit = yield* clockedScoped(
        Effect.gen(function* () {
          const runtime = yield* DaytonaRuntime.acquire({ sid: "s1", envVars: { EXTRA: "1" } })
          const [sandbox] = yield* memory.sandboxes
          assert.strictEqual(runtime.sandboxId, sandbox!.id)
          assert.strictEqual(yield* runtime.status, "READY")
          assert.strictEqual(sandbox!.state, "started")
          assert.strictEqual(sandbox!.labels[SID_LABEL], "s1")
          assert.strictEqual(sandbox!.labels[OWNER_LABEL], "effect-daytona")
          assert.match(sandbox!.labels[CREATED_AT_LABEL]!, /^\d{4}-\d\d-\d\dT/)
          assert.match(sandbox!.labels[ACQUIRE_LABEL]!, /^[0-9a-f]{32}$/)
          assert.strictEqual(sandbox!.public, false)
          assert.deepStrictEqual(Option.getOrUndefined(sandbox!.autoStopInterval), 60)
          // Created without custom env vars (so a warm pool can serve it): the server's environment, the session
          // key (derived from the API key and the sandbox id) included, comes with its start command.
          assert.deepStrictEqual(sandbox!.env, {})
          const key = Redacted.value(yield* SessionKey.derive((yield* DaytonaConfig).apiKey, sandbox!.id))
          assert.match(key, /^[0-9a-f]{64}$/)
          assert.deepStrictEqual(Lease.read(sandbox!.labels).pipe(Option.map((l) => l.generation)), Option.some(1))

          const [command] = yield* memory.commands
          assert.strictEqual(command!.sessionId, "action-execution-server")
          assert.isTrue(command!.runAsync)
          assert.strictEqual(
            command!.command,
            "mkdir -p /workspace && cd /openhands/code && " +
              `export port=4444 PYTHONUNBUFFERED=1 VSCODE_PORT=4445 EXTRA=1 SESSION_API_KEY=${key} && ` +
              "/openhands/micromamba/bin/micromamba run -n openhands " +
              "poetry run python -u -m openhands.runtime.action_execution_server 4444 --working-dir /workspace " +
              "--username openhands --user-id 1000 --no-enable-browser"
          )
          // Then the shell's setup, as OpenHands' runtime does it: hidden, non-blocking 120 s runs.
          const setup = (yield* scripted.calls).flatMap((c) =>
            c.method === "execute" && c.action?._tag === "Run" ? [c.action] : []
          )
          assert.deepStrictEqual(
            setup.map((action) => [action.hidden, action.blocking, action.timeout]),
            setup.map(() => [true, undefined, undefined])
          )
          assert.deepStrictEqual(
            setup.map((action) => action.command),
            [
              "touch ~/.bashrc; grep -qx 'unset SESSION_API_KEY' ~/.bashrc || " +
                `echo 'unset SESSION_API_KEY' >> ~/.bashrc; exec env -u SESSION_API_KEY "\${BASH:-bash}"`,
              "export EXTRA='1';",
              `touch ~/.bashrc; grep -q '^export EXTRA=' ~/.bashrc || echo 'export EXTRA='\\''1'\\''' >> ~/.bashrc;`,
              `alias git="git --no-pager"; git config --global user.name 'openhands' && ` +
                "git config --global user.email 'openhands@all-hands.dev'"
            ]
          )
          // Every request carries the session key and, the sandbox being private, the current preview token.
          const calls = yield* scripted.calls
          assert.strictEqual(calls.filter((c) => c.method === "alive").length, 3)
          const token = yield* memory.previewTokens(sandbox!.id)
          for (const call of calls) {
            assert.strictEqual(Redacted.value(call.endpoint.sessionApiKey), key)
            assert.strictEqual(
              Option.map(call.endpoint.previewToken, Redacted.value).pipe(Option.getOrUndefined),
              token
            )
          }
          assert.strictEqual(runtime.actionServerUrl, `http://127.0.0.1:4444-preview/${sandbox!.id}/4444`)
        })
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const [after] = yield* memory.sandboxes
      assert.strictEqual(after!.state, "stopped", "the default close policy stops the sandbox")

      const events = yield* RecordedEvents.all
      assert.deepStrictEqual(tags(events), [
        "status:STARTING_RUNTIME",
        "status:BUILDING_RUNTIME",
        "SandboxCreated",
        "ServerStarting",
        "status:STARTING_RUNTIME",
        "Retrying",
        "Retrying",
        "status:READY",
        "Ready",
        "Closing",
        "status:STOPPED",
        "Closed"
      ])
      const last = events.at(-1)!
      assert.isTrue(last._tag === "Closed" && last.action === "stopped")
      const retrying = events.filter((e) => e._tag === "Retrying")
      assert.isTrue(retrying.every((e) => e._tag === "Retrying" && e.policy === "untilAlive"))
    }).pipe(Effect.provide(harness()))
  )

  it.effect("debug, public, auto-stop off and delete-on-close come from the options and config", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      const exit = yield* clockedScoped(
        Effect.gen(function* () {
          const runtime = yield* DaytonaRuntime.acquire({
            debug: true,
            plugins: ["agent_skills", "jupyter"],
            serverLauncher: "python",
            enableBrowser: true
          })
          const [sandbox] = yield* memory.sandboxes
          assert.deepStrictEqual(sandbox!.env, {})
          assert.isTrue(sandbox!.public)
          assert.isTrue(runtime.public)
          assert.deepStrictEqual(Option.getOrUndefined(sandbox!.autoStopInterval), 0)
          const [command] = yield* memory.commands
          assert.strictEqual(
            command!.command,
            "mkdir -p /workspace && cd /openhands/code && export port=4444 PYTHONUNBUFFERED=1 VSCODE_PORT=4445 " +
              `DEBUG=true SESSION_API_KEY=${Redacted.value(yield* SessionKey.derive((yield* DaytonaConfig).apiKey, sandbox!.id))} && ` +
              "python -u -m openhands.runtime.action_execution_server 4444 " +
              "--working-dir /workspace --plugins agent_skills jupyter --username openhands --user-id 1000"
          )
          const calls = yield* scripted.calls
          assert.isTrue(
            calls.every((c) => Option.isNone(c.endpoint.previewToken)),
            "a public sandbox sends no token"
          )
        })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(yield* memory.sandboxes, [], "deleted on close")
      const last = (yield* RecordedEvents.all).at(-1)!
      assert.isTrue(last._tag === "Closed" && last.action === "deleted")
    }).pipe(Effect.provide(harness({ config: { public: true, disableAutoStop: true, deleteOnClose: true } })))
  )

  it.effect("a 429 with Retry-After waits that long and tries once more", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      yield* memory.failNext(
        "create",
        new DaytonaApiError({
          reason: "RateLimited",
          operation: "DaytonaClient.create",
          detail: "Too Many Requests",
          status: 429,
          retryAfter: Duration.seconds(7)
        })
      )
      const exit = yield* clocked(Effect.scoped(Effect.zipRight(DaytonaRuntime.acquire(), Clock.currentTimeMillis)))
      assert.isTrue(Exit.isSuccess(exit))
      // 7 s Retry-After + 2 s create latency.
      assert.isAtLeast(Exit.isSuccess(exit) ? exit.value : 0, 9_000)
      assert.strictEqual((yield* memory.calls).filter((c) => c.method === "create").length, 2)
    }).pipe(Effect.provide(harness()))
  )

  it.effect("invalid options fail before anything is created", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      for (const options of [
        { sid: "" },
        { sid: "a b" },
        { workspacePath: "relative" },
        { sandboxPort: 0 },
        { vscodePort: 70_000 },
        { sandboxPort: 5000, vscodePort: 5000 },
        { envVars: { "BAD-NAME": "x" } },
        { plugins: ["ok", "not ok"] },
        { startCommand: "  " },
        { serverLauncher: "docker" as never },
        { gitUserName: "two\nlines" },
        { gitUserEmail: "" }
      ]) {
        const exit = yield* clockedScoped(DaytonaRuntime.acquire(options))
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(options))
        const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
        assert.strictEqual(error?._tag, "InvalidRuntimeOptions", JSON.stringify(options))
      }
      assert.deepStrictEqual(yield* memory.calls, [])
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a 401 from /alive surfaces at once (no 120 s wait) and the sandbox is cleaned up", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.setAliveDefault(new HttpStatusError({ url: "x", status: 401 }))
      const exit = yield* clocked(Effect.scoped(DaytonaRuntime.acquire()))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "ActionServerNotReady")
      assert.isBelow(yield* Clock.currentTimeMillis, 10_000)
      const [sandbox] = yield* memory.sandboxes
      assert.strictEqual(sandbox!.state, "stopped")
      const events = yield* RecordedEvents.all
      assert.isTrue(tags(events).includes("status:ERROR"))
      assert.strictEqual(events.at(-1)!._tag, "Closed")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("wait-alive gives up at 120 s with the server's last output in the error", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      const scripted = yield* ScriptedActionServerControl
      yield* scripted.setAliveDefault(new ConnectionRefused({ url: "x" }))
      yield* memory.setCommandOutput("booting\nTraceback (most recent call last):\nModuleNotFoundError: openhands\n")
      const exit = yield* clocked(Effect.scoped(DaytonaRuntime.acquire()).pipe(Effect.onExit(() => Effect.void)), {
        step: "1 second"
      })
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "ActionServerNotReady")
      if (error?._tag === "ActionServerNotReady") {
        assert.include(error.lastOutput, "ModuleNotFoundError: openhands")
        assert.include(error.message, "ModuleNotFoundError: openhands")
        assert.strictEqual(error.cause._tag, "ConnectionRefused")
      }
      const alive = (yield* scripted.calls).filter((c) => c.method === "alive").length
      assert.strictEqual(alive, 121, "one attempt a second for 120 s")
      const [sandbox] = yield* memory.sandboxes
      assert.strictEqual(sandbox!.state, "stopped")
    }).pipe(Effect.provide(harness()))
  )

  it.effect("a create that fails after allocating the sandbox still cleans it up", () =>
    Effect.gen(function* () {
      const memory = yield* DaytonaClientMemoryControl
      yield* memory.allocateThenFail(
        new DaytonaApiError({ reason: "Transient", operation: "DaytonaClient.create", detail: "boom", status: 500 })
      )
      const exit = yield* clocked(Effect.scoped(DaytonaRuntime.acquire()))
      assert.isTrue(Exit.isFailure(exit))
      const sandboxes = yield* memory.sandboxes
      assert.strictEqual(sandboxes.length, 1)
      assert.strictEqual(sandboxes[0]!.state, "stopped", "found by its acquire label and stopped")
    }).pipe(Effect.provide(harness()))
  )
})
