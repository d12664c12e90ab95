/**
 * The secret canary. Canary secrets — the API key, the preview tokens, the session keys, the VSCode token
 * (and the signed preview URL holding it) — and every debug switch on (LOG_LEVEL=all, DEBUG, DEBUG_RUNTIME,
 * LOG_ALL_EVENTS, each LOG_FORMAT). No log line, error (message, cause, JSON document, `--verbose` output),
 * RuntimeEvent (serialized every way) or CLI output holds one; the one exception is the VSCode URL that
 * `connect` prints on purpose, which is asserted to be there, in connect's stdout and nowhere else.
 */
import { sessionKeyOf } from "../support/sessionKey.js"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll } from "vitest"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as Logging from "../../src/layers/Logging.js"
import { Action } from "../../src/services/ActionServer.js"
import { describeEvent, type RuntimeEvent, RuntimeEvents } from "../../src/services/RuntimeEvents.js"
import { cleanEnv, type Spawned, spawnCli } from "../cli/support.js"
import {
  CanaryChecks,
  capturingConsole,
  debugEnv,
  debugProvider,
  renderings,
  startHarvester
} from "./support-canary.js"
import { assertExit, type BoundedRun, exitWithin, runBounded } from "./support-cli.js"
import { emulatorStack } from "./support-runtime.js"
import { startRewritingProxy } from "./support-stubs.js"

const hex = () => randomBytes(12).toString("hex")
const FORMATS = ["pretty", "json", "logfmt"] as const
type Format = (typeof FORMATS)[number]

/** The secrets of one emulator's sandboxes, read through its API. */
const sandboxSecrets = (apiUrl: string, apiKey: string, ids: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const headers = { authorization: `Bearer ${apiKey}` }
    const found: Array<string> = []
    for (const id of ids) {
      const sandbox = (await (await fetch(`${apiUrl}/sandbox/${id}`, { headers })).json()) as {
        env?: Record<string, string>
      }
      const preview = (await (await fetch(`${apiUrl}/sandbox/${id}/ports/4444/preview-url`, { headers })).json()) as {
        token?: string
      }
      found.push(sandbox.env?.SESSION_API_KEY ?? sessionKeyOf(apiKey, id))
      if (preview.token !== undefined) found.push(preview.token)
    }
    return found
  })

describe.concurrent("the lifecycle in process, every debug switch on", () => {
  for (const format of FORMATS) {
    it.live(`LOG_FORMAT=${format}: no log line, error or event holds a secret`, () => {
      const apiKey = `emu_CANARY_API_KEY_${hex()}`
      const vscodeToken = `CANARY_VSCODE_TOKEN_${hex()}`
      const lines: Array<string> = []
      const checks = new CanaryChecks()
      const program = Effect.gen(function* () {
        const control = yield* Emulator.EmulatorControl
        const events: Array<RuntimeEvent> = []
        const shown: Array<string> = []
        const perSandbox: Array<string> = []
        yield* Effect.scoped(
          Effect.gen(function* () {
            const stream = yield* (yield* RuntimeEvents).subscribe
            yield* Effect.forkScoped(Stream.runForEach(stream, (event) => Effect.sync(() => events.push(event))))

            // acquire → run → vscodeUrl → listFiles → a failing action → close
            const signed = yield* Effect.scoped(
              Effect.gen(function* () {
                const runtime = yield* DaytonaRuntime.acquire({ sid: `canary-${format}`, plugins: ["vscode"] })
                const ran = yield* runtime.run("echo hello")
                const url = yield* runtime.vscodeUrl
                const files = yield* runtime.listFiles()
                const read = yield* runtime.execute(Action.Read({ path: "/no/such/file" }))
                yield* control.inject("action.execute", Emulator.Fault.Status({ status: 500, message: "boom" }))
                const failed = yield* Effect.flip(runtime.run("echo never"))
                shown.push(...[runtime, ran, url, files, read, failed].flatMap(renderings))
                yield* Effect.logError("the action failed", failed)
                perSandbox.push(...(yield* sandboxSecrets(control.apiUrl, apiKey, [runtime.sandboxId])))
                const vscode = new URL(Redacted.value(Option.getOrThrow(url)))
                assert.strictEqual(vscode.searchParams.get("tkn"), vscodeToken, "the URL holds the VSCode token")
                return vscode.pathname.split("/").filter((part) => part.length >= 16)
              })
            )

            // a failing connect: the server never answers /alive
            yield* control.inject("preview", Emulator.Fault.Status({ status: 404 }))
            const notReady = yield* Effect.flip(Effect.scoped(DaytonaRuntime.acquire({ sid: `canary-${format}-down` })))
            assert.strictEqual(notReady._tag, "ActionServerNotReady")
            // a failing connect: the key is revoked
            yield* control.setApiKey(`emu_ROTATED_${hex()}`)
            const revoked = yield* Effect.flip(Effect.scoped(DaytonaRuntime.acquire({ sid: `canary-${format}-key` })))
            assert.strictEqual(revoked._tag, "DaytonaApiError")
            yield* control.setApiKey(apiKey)
            shown.push(...[notReady, revoked].flatMap(renderings))
            yield* Effect.logError("connect failed", notReady, revoked)
            perSandbox.push(...signed)
            yield* Effect.sleep("100 millis")
          })
        )
        const ids = (yield* control.sandboxes).map((sandbox) => sandbox.id)
        perSandbox.push(...(yield* sandboxSecrets(control.apiUrl, apiKey, ids)))
        return { events, shown, perSandbox }
      })

      return program.pipe(
        Effect.provide(emulatorStack({ apiKey, actionServer: { vscodeToken } })),
        Effect.provide(Layer.provide(Logging.layer, Layer.setConfigProvider(debugProvider(format)))),
        (effect) => capturingConsole(effect, lines),
        Effect.map(({ events, perSandbox, shown }) => {
          const secrets = [apiKey, vscodeToken, ...perSandbox]
          assert.isAtLeast(perSandbox.length, 5, "session keys, preview tokens and the signed URL token")
          // The switches are on: debug lines of the action-server traffic and one line per event.
          assert.isAtLeast(lines.length, 30)
          assert.isTrue(
            lines.some((line) => /ok in \d+ ms/.test(line)),
            "DEBUG_RUNTIME lines"
          )
          assert.isTrue(
            lines.some((line) => line.includes("status READY")),
            "LOG_ALL_EVENTS lines"
          )
          assert.isTrue(
            events.some((event) => event._tag === "Ready"),
            "events were recorded"
          )
          lines.forEach((line, i) => checks.none(`log line ${i}`, line, secrets))
          events.forEach((event, i) => {
            for (const text of [...renderings(event), describeEvent(event)]) checks.none(`event ${i}`, text, secrets)
          })
          shown.forEach((text, i) => checks.none(`error or value ${i}`, text, secrets))
          assert.isAtLeast(checks.count, 1_000)
        })
      )
    })
  }
})

/** A standalone emulator started with a canary API key. */
interface CanaryEmulator {
  readonly apiUrl: string
  readonly process: Spawned
}

const KEY = `emu_CANARY_CLI_KEY_${hex()}`
const WRONG_KEY = `dtn_CANARY_WRONG_KEY_${hex()}`

describe("the CLI, every debug switch on", () => {
  let emulator: CanaryEmulator
  beforeAll(async () => {
    const spawned = spawnCli(
      ["emulator", "--port", "0", "--json", "--api-key", KEY],
      cleanEnv({ EFFECT_DAYTONA_EMULATOR_BOOT_DELAY_MS: "0" })
    )
    const [line] = await spawned.waitFor("stdout", /^\{.*\}\n/m, 30_000)
    emulator = { apiUrl: (JSON.parse(line) as { apiUrl: string }).apiUrl, process: spawned }
  })
  afterAll(async () => {
    emulator?.process.child.kill("SIGTERM")
    await emulator?.process.exited
  })

  it("no output holds a secret; the VSCode URL is in connect's stdout only", async () => {
    const harvester = startHarvester(emulator.apiUrl, KEY)
    const env = (format: Format, extra: Record<string, string> = {}) =>
      cleanEnv({ DAYTONA_API_URL: emulator.apiUrl, DAYTONA_API_KEY: KEY, ...debugEnv(format), ...extra })
    const runs: Array<{ readonly label: string; readonly run: BoundedRun; readonly connect: boolean }> = []
    const record = (label: string, run: BoundedRun, connect = false) => runs.push({ label, run, connect })

    // connect (JSON and human, every format): held while list, reap and doctor run beside it.
    const held = (["json", "pretty", "logfmt"] as const).map((format, i) => {
      const args = ["connect", "--sid", `canary-connect-${i}`, ...(i === 0 ? ["--json"] : [])]
      return { label: `connect ${args.slice(3).join(" ")} (${format})`, cli: spawnCli(args, env(format)) }
    })
    await Promise.all(held.map(({ cli }) => cli.waitFor("stdout", /VSCode|vscodeUrl/, 45_000)))
    const beside = await Promise.all([
      runBounded(["list"], env("pretty")),
      runBounded(["list", "--json"], env("json")),
      runBounded(["reap", "--older-than", "0s"], env("logfmt")),
      runBounded(["reap", "--older-than", "0s", "--json"], env("pretty")),
      runBounded(["doctor"], env("json"))
    ])
    ;["list", "list --json", "reap", "reap --json", "doctor"].forEach((label, i) => {
      assertExit(beside[i]!, 0, label)
      record(label, beside[i]!)
    })
    assert.match(beside[2]!.stdout, /canary-connect-0 +started/, "reap saw the held sandboxes")
    for (const { cli, label } of held) {
      cli.child.kill("SIGINT")
      const run = await exitWithin(cli, 30_000)
      assertExit(run, 130, label)
      record(label, run, true)
    }

    // exec, doctor --connect, and error paths with --verbose (a rejected key; a broken action server).
    const target = new URL(emulator.apiUrl).origin
    const proxy = await startRewritingProxy(target, (request) =>
      request.method === "POST" && request.path.endsWith("/execute_action")
        ? { contentType: "text/html", body: "<html>broken</html>" }
        : undefined
    )
    try {
      const more = await Promise.all([
        runBounded(["exec", "--sid", "canary-exec", "--", "echo", "hi"], env("logfmt"), 45_000),
        runBounded(["exec", "--json", "--sid", "canary-exec-json", "--", "ls"], env("json"), 45_000),
        runBounded(["doctor", "--connect", "--json"], env("pretty"), 60_000),
        runBounded(["list", "--verbose"], env("json", { DAYTONA_API_KEY: WRONG_KEY })),
        runBounded(["exec", "--verbose", "--json", "--", "true"], env("logfmt", { DAYTONA_API_KEY: WRONG_KEY })),
        runBounded(
          ["exec", "--verbose", "--sid", "canary-broken", "--", "echo", "hi"],
          env("pretty", { DAYTONA_API_URL: `${proxy.origin}/api` }),
          45_000
        )
      ])
      const expected = [0, 0, 0, 1, 1, 1]
      ;[
        "exec",
        "exec --json",
        "doctor --connect --json",
        "list --verbose (rejected key)",
        "exec --verbose --json (rejected key)",
        "exec --verbose (broken action server)"
      ].forEach((label, i) => {
        assertExit(more[i]!, expected[i]!, label)
        record(label, more[i]!)
      })
      assert.match(more[5]!.stderr, /^cause: /m, "--verbose printed the cause")
      assert.match(more[5]!.stderr, /the body is not JSON/, "the broken answer came through the proxy's preview origin")
      assert.match(more[4]!.stdout, /"ok":false/, "a JSON error document")
    } finally {
      await proxy.close()
      await harvester.stop()
    }

    // The VSCode token, learnt from what connect printed on purpose.
    const [first] = runs.filter((r) => r.connect)
    const doc = JSON.parse(first!.run.stdout.trim().split("\n")[0]!) as { vscodeUrl: string }
    const vscodeUrl = new URL(doc.vscodeUrl)
    const vscodeToken = vscodeUrl.searchParams.get("tkn")!
    const signedToken = vscodeUrl.pathname.split("/").find((part) => part.length >= 16)
    const perSandbox = [...harvester.secrets.sessionKeys, ...harvester.secrets.previewTokens]
    assert.isAtLeast(harvester.secrets.sessionKeys.size, 6, "the session keys of the sandboxes made")
    assert.isAtLeast(harvester.secrets.previewTokens.size, 6, "their preview tokens")
    const secrets = [KEY, WRONG_KEY, vscodeToken, ...(signedToken === undefined ? [] : [signedToken]), ...perSandbox]
    assert.isTrue(
      runs.some(({ run }) => /ok in \d+ ms/.test(run.stderr)),
      "the debug switches were on (action-server traffic logged)"
    )

    // With every switch on, logs stay on stderr: a --json run prints exactly one JSON document on stdout.
    for (const { label, run } of runs.filter((r) => r.label.includes("--json"))) {
      const lines = run.stdout.trim().split("\n")
      assert.strictEqual(lines.length, 1, `${label}: one line on stdout, got:\n${run.stdout.slice(0, 500)}`)
      JSON.parse(lines[0]!)
    }

    const checks = new CanaryChecks()
    const vscodeUrlPattern = /https?:\/\/\S*?[?&]tkn=[^\s"&]+(&folder=[^\s"]*)?/g
    for (const { connect, label, run } of runs) {
      let stdout = run.stdout
      if (connect) {
        assert.include(stdout, vscodeToken, `${label} prints the VSCode URL with its token`)
        stdout = stdout.replace(vscodeUrlPattern, "<the VSCode URL>")
      }
      checks.none(`${label} stdout`, stdout, secrets)
      checks.none(`${label} stderr`, run.stderr, secrets)
    }
    assert.strictEqual(runs.length, 14)
    assert.isAtLeast(checks.count, 14 * 2 * 16)
  }, 150_000)
})
