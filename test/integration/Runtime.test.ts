/**
 * The runtime end to end: the real SDK and the real HttpClient against the embedded emulator on
 * 127.0.0.1, in both preview modes, private and public.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as Logging from "../../src/layers/Logging.js"
import { SID_LABEL } from "../../src/services/DaytonaClient.js"
import { call, sdk, waitUntil } from "../emulator/support.js"

const stack = (options: Emulator.EmulatorOptions) =>
  DaytonaRuntime.layer.pipe(
    Layer.provideMerge(Emulator.layer({ actionServer: { bootDelay: "300 millis" }, ...options }))
  )

const statusOf = (url: string, headers: Record<string, string>) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(HttpClientRequest.get(url).pipe(HttpClientRequest.setHeaders(headers)))
  ).pipe(
    Effect.map((response) => response.status),
    Effect.scoped,
    Effect.provide(NodeHttpClient.layerUndici)
  )

describe("the runtime against the emulator", () => {
  for (const previewMode of ["proxy", "direct"] as const) {
    for (const isPublic of [false, true]) {
      it.live(`${previewMode} preview, ${isPublic ? "public" : "private"}: connect → run → vscodeUrl → close`, () =>
        Effect.gen(function* () {
          const control = yield* Emulator.EmulatorControl
          const result = yield* Effect.scoped(
            Effect.gen(function* () {
              // The vscode plugin, as OpenHands' runtime asks for it when not headless: without it there is no token.
              const runtime = yield* DaytonaRuntime.acquire({
                sid: `it-${previewMode}-${isPublic}`,
                plugins: ["vscode"]
              })
              assert.strictEqual(yield* runtime.status, "READY")
              const hi = yield* runtime.run("echo hi")
              const exit7 = yield* runtime.run("sh -c 'exit 7'")
              const url = yield* runtime.vscodeUrl
              const sandboxes = yield* control.sandboxes
              return { runtime, hi, exit7, url, sandboxes }
            })
          )
          assert.deepStrictEqual([result.hi._tag, result.hi.exitCode, result.hi.output], ["Completed", 0, "hi"])
          assert.strictEqual(result.exit7.exitCode, 7)
          const vscode = Redacted.value(Option.getOrThrow(result.url))
          assert.match(vscode, /\/\?tkn=[^&]+&folder=%2Fworkspace$/)
          assert.isTrue(vscode.startsWith("http://127.0.0.1:"))
          assert.strictEqual(result.sandboxes.length, 1)
          assert.strictEqual(result.sandboxes[0]!.public, isPublic)
          const after = yield* control.sandboxes
          assert.strictEqual(after[0]!.state, "stopped", "closed by the default policy")
          assert.strictEqual(yield* control.liveProcesses, 0, "no process left once stopped")
        }).pipe(Effect.provide(stack({ previewMode, public: isPublic })))
      )
    }
  }

  it.live("re-attach to a stopped sandbox restarts it and its server", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const first = yield* Effect.scoped(
        Effect.gen(function* () {
          const runtime = yield* DaytonaRuntime.acquire({ sid: "reattach", attachToExisting: true, onClose: "stop" })
          yield* runtime.run("echo work > notes.txt")
          return runtime.sandboxId
        })
      )
      assert.strictEqual((yield* control.sandboxes)[0]!.state, "stopped")
      const second = yield* Effect.scoped(
        Effect.gen(function* () {
          const runtime = yield* DaytonaRuntime.acquire({ sid: "reattach", attachToExisting: true })
          return { id: runtime.sandboxId, notes: yield* runtime.run("cat notes.txt") }
        })
      )
      assert.strictEqual(second.id, first, "the same sandbox, not a new one")
      assert.strictEqual(second.notes.output, "work", "the work survived the stop")
      const sandboxes = yield* control.sandboxes
      assert.strictEqual(sandboxes.length, 1)
      assert.strictEqual(sandboxes[0]!.state, "started", "attach keeps it running")
    }).pipe(Effect.provide(stack({})))
  )

  it.live(
    "the action server refuses a request without the session key (403); the proxy one without the preview token (307)",
    () =>
      Effect.gen(function* () {
        const statuses = yield* Effect.scoped(
          Effect.gen(function* () {
            const runtime = yield* DaytonaRuntime.acquire({ sid: "auth" })
            const control = yield* Emulator.EmulatorControl
            const [sandbox] = yield* control.sandboxes
            assert.strictEqual(sandbox!.public, false)
            // The preview token alone (no session key) → 403 from the server; nothing → 307 from the proxy, to
            // Daytona's login page.
            // (As in OpenHands, /alive itself needs no session key.)
            const guarded = `${runtime.actionServerUrl}/vscode/connection_token`
            const token = yield* Effect.promise(() =>
              fetch(`${control.apiUrl}/sandbox/${sandbox!.id}/ports/4444/preview-url`, {
                headers: { authorization: `Bearer ${Redacted.value(control.apiKey)}` }
              }).then((r) => r.json() as Promise<{ token: string }>)
            )
            return {
              noSessionKey: yield* statusOf(guarded, { "x-daytona-preview-token": token.token }),
              noPreviewToken: yield* statusOf(`${runtime.actionServerUrl}/alive`, {}),
              wrongSessionKey: yield* statusOf(guarded, {
                "x-daytona-preview-token": token.token,
                "x-session-api-key": "wrong"
              })
            }
          })
        )
        assert.deepStrictEqual(statuses, { noSessionKey: 403, noPreviewToken: 307, wrongSessionKey: 403 })
      }).pipe(Effect.provide(stack({ previewMode: "proxy" })))
  )

  it.live("two concurrent acquires of one SID create one sandbox", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const ids = yield* Effect.all(
        [1, 2].map(() =>
          Effect.scoped(
            Effect.map(DaytonaRuntime.acquire({ sid: "together", attachToExisting: true }), (r) => r.sandboxId)
          )
        ),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(ids[0], ids[1])
      const sandboxes = (yield* control.sandboxes).filter((s) => s.labels[SID_LABEL] === "together")
      assert.strictEqual(sandboxes.length, 1)
    }).pipe(Effect.provide(stack({})))
  )

  it.live("when the server does not come up, the error carries its last output", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.EmulatorControl
      const attempt = yield* Effect.fork(
        Effect.exit(
          Effect.scoped(
            DaytonaRuntime.acquire({ sid: "broken", startCommand: "echo 'ImportError: no module openhands' && exit 3" })
          )
        )
      )
      // Nothing listens, so /alive gets 502 and is retried; once the command has printed, a final 404 ends the wait.
      const daytona = yield* sdk(control)
      yield* waitUntil(
        call(async () => {
          const [sandbox] = await Effect.runPromise(control.sandboxes)
          const found = await daytona.get(sandbox!.id)
          const session = await found.process.getSession("action-execution-server")
          const logs = await found.process.getSessionCommandLogs("action-execution-server", session.commands![0]!.id)
          return logs.stdout ?? ""
        }).pipe(Effect.orElseSucceed(() => "")),
        (stdout) => stdout.includes("ImportError"),
        "30 seconds"
      )
      yield* control.inject("preview", Emulator.Fault.Status({ status: 404 }), 100)
      const exit = yield* Fiber.join(attempt)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "ActionServerNotReady")
      if (error?._tag === "ActionServerNotReady") assert.include(error.lastOutput, "ImportError: no module openhands")
      assert.strictEqual((yield* control.sandboxes)[0]!.state, "stopped")
    }).pipe(Effect.scoped, Effect.provide(stack({})))
  )
})

describe("secrets never reach a log line (integration)", () => {
  it.live("API key, preview token, session key and VSCode token stay out of every log line", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make((options) => {
          lines.push(Logger.logfmtLogger.log(options))
          lines.push(Logger.jsonLogger.log(options))
        })
      )
      const secrets = yield* Effect.scoped(
        Effect.gen(function* () {
          const runtime = yield* DaytonaRuntime.acquire({ sid: "canary", plugins: ["vscode"] })
          const url = yield* runtime.vscodeUrl
          yield* Effect.log("url", url, runtime)
          yield* runtime.run("echo hi")
          const control = yield* Emulator.EmulatorControl
          const [sandbox] = yield* control.sandboxes
          const preview = yield* Effect.promise(() =>
            fetch(`${control.apiUrl}/sandbox/${sandbox!.id}/ports/4444/preview-url`, {
              headers: { authorization: `Bearer ${Redacted.value(control.apiKey)}` }
            }).then((r) => r.json() as Promise<{ token: string }>)
          )
          const tkn = new URL(Redacted.value(Option.getOrThrow(url))).searchParams.get("tkn")!
          return [Redacted.value(control.apiKey), preview.token, "CANARY_VSCODE_TOKEN", tkn]
        })
      ).pipe(
        Effect.provide(
          Layer.merge(capture, Layer.succeed(Logging.LogSwitchesRef, { allEvents: true, debugRuntime: true }))
        ),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      assert.isAtLeast(lines.length, 10)
      for (const line of lines) for (const secret of secrets) assert.notInclude(line, secret)
    }).pipe(
      Effect.provide(
        stack({ apiKey: "emu_CANARY_API_KEY_0123456789abcdef", actionServer: { vscodeToken: "CANARY_VSCODE_TOKEN" } })
      )
    )
  )
})
