/**
 * Malformed responses: from the Daytona API (the emulator's `Malformed` fault on every lifecycle route, and
 * bodies a stub serves to the real SDK) and from the action execution server (the emulator's fault, and
 * bodies a stub serves to the HTTP client). Each ends in a typed error or a well-defined value — never a
 * defect, never a hang (every run is bounded, and reaching the bound fails the test) — and a runtime that
 * meets one leaves nothing started. The built CLI reports one of each in two lines and exits 1.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as ActionServerHttp from "../../src/layers/ActionServerHttp.js"
import { Action, ActionServer, type ActionServerService, type Endpoint } from "../../src/services/ActionServer.js"
import { DaytonaClient, type DaytonaApiError, SID_LABEL } from "../../src/services/DaytonaClient.js"
import { DaytonaConfig } from "../../src/services/DaytonaConfig.js"
import { cleanEnv, startEmulator, type StandaloneEmulator } from "../cli/support.js"
import { assertExit, assertReported, runBounded, sidStates } from "./support-cli.js"
import { assertNothingStarted, bounded, emulatorStack, successOf, typedError } from "./support-runtime.js"
import {
  daytonaApi,
  htmlPage,
  json,
  sandboxDto,
  startRewritingProxy,
  startStub,
  type StubAnswer,
  type StubHandler
} from "./support-stubs.js"

const LIMIT = Duration.seconds(30)

/** Every malformed response tried, counted by the tests that try one. */
const tried = new Set<string>()

const acquireOnce = (options: DaytonaRuntime.RuntimeOptions) => Effect.scoped(DaytonaRuntime.acquire(options))

/** The states of a SID's sandboxes now. */
const statesNow = (sid: string) =>
  Effect.gen(function* () {
    const control = yield* Emulator.EmulatorControl
    return (yield* control.sandboxes).filter((s) => s.labels[SID_LABEL] === sid).map((s) => s.state)
  })

/** The live client against a stub serving `handler`, for the duration of the scope. */
const stubClient = (handler: StubHandler) =>
  Effect.gen(function* () {
    const stub = yield* Effect.acquireRelease(
      Effect.promise(() => startStub(handler)),
      (s) => Effect.promise(() => s.close())
    )
    const config = DaytonaConfig.layerFrom({ apiKey: "stub-key", apiUrl: `${stub.origin}/api` })
    const context = yield* Layer.build(DaytonaRuntime.layer.pipe(Layer.provideMerge(Layer.orDie(config))))
    return { stub, context, client: Effect.provide(DaytonaClient, context) }
  })

const createParams = { labels: { [SID_LABEL]: "stub" }, envVars: {}, public: false, autoStopInterval: 0 }

/** Answers POSTs with `answer`, leaves the rest to the next handler. */
const postAnswers =
  (answer: StubAnswer): StubHandler =>
  (request) =>
    request.method === "POST" ? answer : undefined

const actionServer = Layer.provide(ActionServerHttp.layer, NodeHttpClient.layerUndici)

describe.concurrent("malformed responses", () => {
  describe.concurrent("the Daytona API answers garbage (emulator Malformed fault): the runtime", () => {
    it.live("create: a typed error, nothing created", () =>
      Effect.gen(function* () {
        tried.add("api:create")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("sandbox.create", Emulator.Fault.Malformed())
        const error = typedError(yield* bounded(acquireOnce({ sid: "m-create" }), LIMIT))
        assert.strictEqual(error._tag, "DaytonaApiError")
        if (error._tag === "DaytonaApiError") {
          assert.strictEqual(error.reason, "Unknown")
          assert.match(error.message, /answer could not be read/)
        }
        yield* assertNothingStarted("m-create", [])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("get (the state poll after create): a typed error, the half-made sandbox is stopped", () =>
      Effect.gen(function* () {
        tried.add("api:get")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("sandbox.get", Emulator.Fault.Malformed())
        const error = typedError(yield* bounded(acquireOnce({ sid: "m-get" }), LIMIT))
        assert.strictEqual(error._tag, "DaytonaApiError")
        yield* assertNothingStarted("m-get", ["stopped"])
        // A start slower than Daytona's wait: the create answers `creating` and the SDK polls.
      }).pipe(Effect.provide(emulatorStack({ latencies: { create: "300 millis" }, startWait: 0 })))
    )

    it.live("list (the SID lookup of attach): a typed error, nothing created", () =>
      Effect.gen(function* () {
        tried.add("api:list")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("sandbox.list", Emulator.Fault.Malformed())
        const error = typedError(yield* bounded(acquireOnce({ sid: "m-list", attachToExisting: true }), LIMIT))
        assert.strictEqual(error._tag, "DaytonaApiError")
        yield* assertNothingStarted("m-list", [])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("start (attach to a stopped sandbox): a typed error; the close still deletes it", () =>
      Effect.gen(function* () {
        tried.add("api:start")
        const control = yield* Emulator.EmulatorControl
        yield* acquireOnce({ sid: "m-start" })
        assert.deepStrictEqual(yield* statesNow("m-start"), ["stopped"])
        yield* control.inject("sandbox.start", Emulator.Fault.Malformed())
        const exit = yield* bounded(acquireOnce({ sid: "m-start", attachToExisting: true, onClose: "delete" }), LIMIT)
        assert.strictEqual(typedError(exit)._tag, "DaytonaApiError")
        // The garbage must not poison what the client remembers of the sandbox: the delete goes through.
        yield* assertNothingStarted("m-start", [])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("preview-url: a typed error, the sandbox is stopped", () =>
      Effect.gen(function* () {
        tried.add("api:preview-url")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("sandbox.previewUrl", Emulator.Fault.Malformed())
        const error = typedError(yield* bounded(acquireOnce({ sid: "m-preview" }), LIMIT))
        assert.strictEqual(error._tag, "DaytonaApiError")
        yield* assertNothingStarted("m-preview", ["stopped"])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("signed-preview-url: vscodeUrl fails typed, the runtime goes on, then closes", () =>
      Effect.gen(function* () {
        tried.add("api:signed-preview-url")
        const control = yield* Emulator.EmulatorControl
        const result = yield* Effect.scoped(
          Effect.gen(function* () {
            const runtime = yield* DaytonaRuntime.acquire({ sid: "m-signed", plugins: ["vscode"] })
            yield* control.inject("sandbox.signedPreviewUrl", Emulator.Fault.Malformed())
            const vscode = yield* bounded(runtime.vscodeUrl, LIMIT)
            return { vscode, after: yield* runtime.run("echo still-here") }
          })
        )
        assert.strictEqual(typedError(result.vscode)._tag, "DaytonaApiError")
        assert.deepStrictEqual(
          [result.after._tag, result.after.exitCode, result.after.output],
          ["Completed", 0, "still-here"]
        )
        yield* assertNothingStarted("m-signed", ["stopped"])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("toolbox exec (starting the server): a typed error at once, not a 120 s wait; stopped", () =>
      Effect.gen(function* () {
        tried.add("api:toolbox-exec")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("toolbox.exec", Emulator.Fault.Malformed())
        const error = typedError(yield* bounded(acquireOnce({ sid: "m-exec" }), LIMIT))
        assert.strictEqual(error._tag, "DaytonaApiError")
        yield* assertNothingStarted("m-exec", ["stopped"])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("toolbox logs (the server's output when it does not come up): empty output, a typed error", () =>
      Effect.gen(function* () {
        tried.add("api:toolbox-logs")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("preview", Emulator.Fault.Status({ status: 404 }))
        yield* control.inject("toolbox.logs", Emulator.Fault.Malformed())
        const error = typedError(yield* bounded(acquireOnce({ sid: "m-logs" }), LIMIT))
        assert.strictEqual(error._tag, "ActionServerNotReady")
        if (error._tag === "ActionServerNotReady") assert.strictEqual(error.lastOutput, "")
        yield* assertNothingStarted("m-logs", ["stopped"])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("toolbox session create: a typed error, stopped", () =>
      Effect.gen(function* () {
        tried.add("api:toolbox-session")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("toolbox.createSession", Emulator.Fault.Malformed())
        const exit = yield* bounded(acquireOnce({ sid: "m-session" }), LIMIT)
        assert.strictEqual(typedError(exit)._tag, "DaytonaApiError")
        yield* assertNothingStarted("m-session", ["stopped"])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("last-activity (keep-alive): logged, never fatal", () =>
      Effect.gen(function* () {
        tried.add("api:last-activity")
        const control = yield* Emulator.EmulatorControl
        yield* control.inject("sandbox.lastActivity", Emulator.Fault.Malformed(), 5)
        const exit = yield* bounded(
          Effect.scoped(
            Effect.gen(function* () {
              const runtime = yield* DaytonaRuntime.acquire({ sid: "m-activity", keepAliveInterval: "1 second" })
              yield* Effect.sleep("1500 millis")
              return yield* runtime.run("echo alive")
            })
          ),
          LIMIT
        )
        const ran = successOf(exit)
        assert.deepStrictEqual([ran._tag, ran.exitCode, ran.output], ["Completed", 0, "alive"])
        assert.isTrue(
          (yield* control.requests).some((r) => r.route === "sandbox.lastActivity"),
          "a refresh was made"
        )
        yield* assertNothingStarted("m-activity", ["stopped"])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live("delete (the close of a delete policy): retried, the sandbox is deleted", () =>
      Effect.gen(function* () {
        tried.add("api:delete")
        const control = yield* Emulator.EmulatorControl
        const exit = yield* bounded(
          Effect.scoped(
            Effect.gen(function* () {
              const runtime = yield* DaytonaRuntime.acquire({ sid: "m-delete", onClose: "delete" })
              yield* control.inject("sandbox.delete", Emulator.Fault.Malformed())
              return runtime.sandboxId
            })
          ),
          LIMIT
        )
        successOf(exit)
        yield* assertNothingStarted("m-delete", [])
      }).pipe(Effect.provide(emulatorStack()))
    )

    it.live(
      "stop (the close): the SDK waits for a stop that never happened, times out typed; the retry stops it",
      () =>
        Effect.gen(function* () {
          tried.add("api:stop")
          const control = yield* Emulator.EmulatorControl
          const exit = yield* bounded(
            Effect.scoped(
              Effect.gen(function* () {
                yield* DaytonaRuntime.acquire({ sid: "m-stop" })
                yield* control.inject("sandbox.stop", Emulator.Fault.Malformed())
              })
            ),
            Duration.seconds(100)
          )
          successOf(exit)
          yield* assertNothingStarted("m-stop", ["stopped"])
        }).pipe(Effect.provide(emulatorStack())),
      120_000
    )
  })

  describe.concurrent("the action server answers garbage (emulator faults): typed, the runtime goes on", () => {
    for (const [route, name] of [
      ["action.execute", "execute"],
      ["action.listFiles", "list_files"],
      ["action.vscodeToken", "vscode token"]
    ] as const) {
      it.live(`${name}: a non-JSON 200 is a DecodeError`, () =>
        Effect.gen(function* () {
          tried.add(`action:emulator-${name}`)
          const control = yield* Emulator.EmulatorControl
          const sid = `a-${route.replace(/\W/g, "-")}`
          const result = yield* Effect.scoped(
            Effect.gen(function* () {
              const runtime = yield* DaytonaRuntime.acquire({ sid })
              yield* control.inject(route, Emulator.Fault.Malformed())
              const call: Effect.Effect<unknown, { readonly _tag: string }> =
                route === "action.execute"
                  ? runtime.run("echo x")
                  : route === "action.listFiles"
                    ? runtime.listFiles()
                    : runtime.vscodeUrl
              return { first: yield* bounded(call, LIMIT), after: yield* runtime.run("echo fine") }
            })
          )
          assert.strictEqual(typedError(result.first)._tag, "DecodeError")
          assert.strictEqual(result.after.output, "fine")
          yield* assertNothingStarted(sid, ["stopped"])
        }).pipe(Effect.provide(emulatorStack()))
      )
    }
  })

  describe.concurrent("the Daytona API answers garbage (a stub, the real SDK)", () => {
    const cases: ReadonlyArray<{
      readonly name: string
      readonly handler: StubHandler
      readonly call: "create" | "list" | "get"
      /** A typed error with this reason (and status), or the state kept in the record. */
      readonly expect: { readonly reason: string; readonly status?: number } | { readonly state: string }
    }> = [
      {
        name: "{} for create",
        handler: daytonaApi(sandboxDto(), postAnswers(json({}))),
        call: "create",
        expect: { reason: "Unknown" }
      },
      {
        name: "a list without items",
        handler: () => json({ nextCursor: null }),
        call: "list",
        expect: { reason: "Unknown" }
      },
      {
        name: "a sandbox whose state is a number",
        handler: daytonaApi(sandboxDto({ state: 42 })),
        call: "get",
        expect: { state: "42" }
      },
      {
        name: "an unknown state string",
        handler: daytonaApi(sandboxDto({ state: "hibernating" })),
        call: "get",
        expect: { state: "hibernating" }
      },
      { name: "null", handler: () => ({ body: "null" }), call: "get", expect: { reason: "Unknown" } },
      {
        name: "an HTML 500 page",
        handler: () => htmlPage(500, "Internal Server Error"),
        call: "get",
        expect: { reason: "Transient", status: 500 }
      },
      {
        name: "an HTML 502 page",
        handler: () => htmlPage(502, "Bad Gateway"),
        call: "list",
        expect: { reason: "Transient", status: 502 }
      },
      { name: "an empty 200 body", handler: () => ({ body: "" }), call: "get", expect: { reason: "Unknown" } },
      {
        name: "a huge non-JSON body (16 MB)",
        handler: () => ({ body: "x".repeat(16 * 1024 * 1024) }),
        call: "get",
        expect: { reason: "Unknown" }
      },
      {
        name: "a truncated body",
        handler: () => ({ body: JSON.stringify(sandboxDto()), truncateAt: 40 }),
        call: "get",
        expect: { reason: "Unknown" }
      },
      {
        name: "HTML with status 200 for create",
        handler: () => ({ contentType: "text/html", body: "<html>maintenance</html>" }),
        call: "create",
        expect: { reason: "Unknown" }
      }
    ]

    for (const { call, expect, handler, name } of cases) {
      it.scopedLive(`${call}: ${name}`, () =>
        Effect.gen(function* () {
          tried.add(`stub:${name}`)
          const { client } = yield* stubClient(handler)
          const run: Effect.Effect<unknown, DaytonaApiError> =
            call === "create"
              ? Effect.flatMap(client, (c) => c.create(createParams))
              : call === "list"
                ? Effect.flatMap(client, (c) => c.list({}))
                : Effect.flatMap(client, (c) => c.get("sbx-stub-1"))
          const exit = yield* bounded(run, LIMIT)
          if ("state" in expect) {
            const record = successOf(exit, name) as { readonly state: unknown }
            assert.strictEqual(record.state, expect.state, "the state, kept as a string")
            return
          }
          const error = typedError(exit, name)
          assert.strictEqual(error._tag, "DaytonaApiError")
          assert.strictEqual(error.reason, expect.reason, error.message)
          if (expect.status !== undefined) assert.strictEqual(error.status, expect.status)
          assert.isBelow(error.message.length, 1_000, "a bounded message, whatever the body")
        })
      )
    }

    for (const state of ["hibernating", 42] as const) {
      it.scopedLive(
        `attach to a sandbox in state ${JSON.stringify(state)}: SandboxUnusable naming it, nothing touched`,
        () =>
          Effect.gen(function* () {
            tried.add(`stub:attach-${state}`)
            const { context, stub } = yield* stubClient(
              daytonaApi(sandboxDto({ state, labels: { [SID_LABEL]: "odd" } }))
            )
            const exit = yield* bounded(
              Effect.scoped(DaytonaRuntime.acquire({ sid: "odd", attachToExisting: true })).pipe(
                Effect.provide(context)
              ),
              LIMIT
            )
            const error = typedError(exit)
            assert.strictEqual(error._tag, "SandboxUnusable")
            if (error._tag === "SandboxUnusable") assert.strictEqual(error.state, String(state))
            assert.deepStrictEqual(
              stub.requests.filter((r) => !r.startsWith("GET")),
              [],
              "no create, start, stop or delete"
            )
          })
      )
    }
  })

  describe.concurrent("the action server answers garbage (a stub, the HTTP client)", () => {
    const run = Action.Run({ command: "echo hi" })
    const cases: ReadonlyArray<{
      readonly name: string
      readonly answer: StubAnswer
      readonly call: (server: ActionServerService, endpoint: Endpoint) => Effect.Effect<unknown, unknown>
      readonly tag: string
    }> = [
      {
        name: "execute: non-JSON 200",
        answer: { contentType: "text/html", body: "<html>oops" },
        call: (s, e) => s.execute(e, run),
        tag: "DecodeError"
      },
      {
        name: "execute: JSON of the wrong shape",
        answer: json({ observation: 5 }),
        call: (s, e) => s.execute(e, run),
        tag: "DecodeError"
      },
      {
        name: "list_files: non-JSON 200",
        answer: { body: "not json" },
        call: (s, e) => s.listFiles(e),
        tag: "DecodeError"
      },
      {
        name: "list_files: an object, not a list",
        answer: json({ files: [] }),
        call: (s, e) => s.listFiles(e),
        tag: "DecodeError"
      },
      {
        name: "list_files: numbers, not names",
        answer: json([1, 2]),
        call: (s, e) => s.listFiles(e),
        tag: "DecodeError"
      },
      {
        name: "vscode token: non-JSON 200",
        answer: { body: "<html>" },
        call: (s, e) => s.vscodeToken(e),
        tag: "DecodeError"
      },
      {
        name: "vscode token: a number",
        answer: json({ token: 42 }),
        call: (s, e) => s.vscodeToken(e),
        tag: "DecodeError"
      },
      {
        name: "an HTML 502 page",
        answer: htmlPage(502, "Bad Gateway"),
        call: (s, e) => s.execute(e, run),
        tag: "HttpStatusError"
      },
      {
        name: "a truncated body",
        answer: { body: JSON.stringify({ observation: "run", content: "x".repeat(200) }), truncateAt: 30 },
        call: (s, e) => s.execute(e, run),
        tag: "DecodeError"
      },
      {
        name: "a 200 with an empty body (execute)",
        answer: { body: "" },
        call: (s, e) => s.execute(e, run),
        tag: "DecodeError"
      },
      {
        name: "a 200 with an empty body (vscode token)",
        answer: { body: "" },
        call: (s, e) => s.vscodeToken(e),
        tag: "DecodeError"
      }
    ]

    for (const { answer, call, name, tag } of cases) {
      it.scopedLive(name, () =>
        Effect.gen(function* () {
          tried.add(`action:${name}`)
          const stub = yield* Effect.acquireRelease(
            Effect.promise(() => startStub(() => answer)),
            (s) => Effect.promise(() => s.close())
          )
          const endpoint: Endpoint = {
            url: stub.origin,
            sessionApiKey: Redacted.make("session"),
            previewToken: Option.none()
          }
          const server = Context.get(yield* Layer.build(actionServer), ActionServer)
          const error = typedError(yield* bounded(call(server, endpoint), LIMIT), name) as {
            _tag: string
            message: string
          }
          assert.strictEqual(error._tag, tag, error.message)
          if (tag === "HttpStatusError") assert.include(error.message, "HTTP 502")
        })
      )
    }

    it.scopedLive("a run observation without its extras is a well-defined Other observation", () =>
      Effect.gen(function* () {
        tried.add("action:run without extras")
        const stub = yield* Effect.acquireRelease(
          Effect.promise(() => startStub(() => json({ observation: "run", content: "partial" }))),
          (s) => Effect.promise(() => s.close())
        )
        const server = Context.get(yield* Layer.build(actionServer), ActionServer)
        const endpoint: Endpoint = { url: stub.origin, sessionApiKey: Redacted.make("s"), previewToken: Option.none() }
        const observation = successOf(yield* bounded(server.execute(endpoint, run), LIMIT))
        assert.strictEqual(observation._tag, "Other")
      })
    )
  })

  describe.concurrent("the CLI meets garbage: exit 1, two lines, no stack trace", () => {
    let emulator: StandaloneEmulator
    beforeAll(async () => {
      emulator = await startEmulator({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" })
    })
    afterAll(async () => {
      await emulator?.stop()
    })

    it("list, when Daytona answers an HTML page with 200", async () => {
      tried.add("cli:api html 200")
      const stub = await startStub(() => ({ contentType: "text/html", body: "<html><body>Maintenance</body></html>" }))
      try {
        const run = await runBounded(
          ["list"],
          cleanEnv({ DAYTONA_API_URL: `${stub.origin}/api`, DAYTONA_API_KEY: "k" })
        )
        assertExit(run, 1, "list")
        assertReported(run, "list", { twoLines: true })
        assert.match(run.stderr, /^error: DaytonaClient\.list failed: Daytona's answer could not be read/m)
        assert.strictEqual(run.stdout, "")
      } finally {
        await stub.close()
      }
    })

    it("list shows a sandbox whose state is a number or unknown, as it came", async () => {
      tried.add("cli:odd states")
      const stub = await startStub(() =>
        json({
          items: [
            sandboxDto({ id: "sbx-a", state: 42, labels: { [SID_LABEL]: "a" } }),
            sandboxDto({ id: "sbx-b", state: "hibernating", labels: { [SID_LABEL]: "b" } })
          ],
          nextCursor: null
        })
      )
      try {
        const env = cleanEnv({ DAYTONA_API_URL: `${stub.origin}/api`, DAYTONA_API_KEY: "k" })
        const human = await runBounded(["list"], env)
        assertExit(human, 0, "list")
        assert.match(human.stdout, /sbx-a +a +42 /)
        assert.match(human.stdout, /sbx-b +b +hibernating /)
        const doc = await runBounded(["list", "--json"], env)
        assertExit(doc, 0, "list --json")
        const states = (JSON.parse(doc.stdout) as { sandboxes: Array<{ state: unknown }> }).sandboxes.map(
          (s) => s.state
        )
        assert.deepStrictEqual(states, ["42", "hibernating"])
      } finally {
        await stub.close()
      }
    })

    it("exec, when the action server answers non-JSON: exit 1, and the sandbox is stopped", async () => {
      tried.add("cli:action non-JSON")
      const target = new URL(emulator.apiUrl).origin
      const proxy = await startRewritingProxy(target, (request) =>
        request.method === "POST" && request.path.endsWith("/execute_action")
          ? { contentType: "text/html", body: "<html><body>Oops</body></html>" }
          : undefined
      )
      try {
        const run = await runBounded(
          ["exec", "--sid", "cli-garbage", "--", "echo", "hi"],
          emulator.env({ DAYTONA_API_URL: `${proxy.origin}/api` })
        )
        assertExit(run, 1, "exec")
        assert.match(
          run.stderr,
          /^error: The action execution server failed: .*could not be read: the body is not JSON/m
        )
        assertReported(run, "exec")
        const reported = run.stderr.split("\n").filter((line) => /^(error|\s+fix):/.test(line))
        assert.strictEqual(reported.length, 2, run.stderr)
        assert.match(run.stderr, /closed sandbox \S+: stopped/)
        assert.deepStrictEqual(await sidStates(emulator, "cli-garbage"), ["stopped"])
        // The API and the sandbox's preview origin, both behind the proxy (the broken answer came through it).
        assert.isAtLeast(proxy.origins().length, 2, JSON.stringify(proxy.origins()))
      } finally {
        await proxy.close()
      }
    })
  })
})

describe("the count", () => {
  it("at least 20 malformed responses were tried", () => {
    // Runs last (this file's describes run in order); the concurrent ones above have all finished.
    assert.isAtLeast(tried.size, 20, [...tried].join(", "))
  })
})
