/**
 * `DaytonaRuntime.acquire`'s handle against the emulator running the REAL OpenHands action execution server
 * (`actionServerCommand: ../shared/openhands-server/serve`) with the launch arguments the runtime sends
 * (`--username openhands --user-id 1000 --no-enable-browser`): one runtime for the file, held across the tests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Option, Redacted, Scope, Stream } from "effect"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll } from "vitest"
import * as SessionKey from "../../src/programs/SessionKey.js"
import * as DaytonaRuntime from "../../src/DaytonaRuntime.js"
import * as Emulator from "../../src/emulator/Emulator.js"
import { Action } from "../../src/services/ActionServer.js"
import { available, drain, racedAhead, realTest, SERVE, skipReason, steady, zipOf } from "./support.js"

if (!available) console.log(skipReason)

interface Held {
  readonly runtime: DaytonaRuntime.DaytonaRuntimeHandle
  readonly control: Emulator.EmulatorControlService
  /** The sandbox's session key, as the emulator stored it. */
  readonly sessionKey: string
  /** The workspace's folder on the host (the real server runs on the host). */
  readonly workspace: string
  readonly close: () => Promise<void>
}

let held: Held

beforeAll(async () => {
  if (!available) return
  const scope = Effect.runSync(Scope.make())
  const stack = DaytonaRuntime.layer.pipe(
    Layer.provideMerge(Emulator.layer({ actionServerCommand: SERVE, previewMode: "proxy" }))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(stack, scope))
  const [runtime, control] = await Effect.runPromise(
    Effect.all([
      DaytonaRuntime.acquire({ sid: "real-runtime", envVars: { project_name: 'it\'s "real" $HOME' } }),
      Emulator.EmulatorControl
    ]).pipe(Effect.provide(context), Scope.extend(scope))
  )
  // The sandbox carries no env: its session key is derived from the API key and its id.
  const sessionKey = Redacted.value(await Effect.runPromise(SessionKey.derive(control.apiKey, runtime.sandboxId)))
  let workspace = ""
  for (let attempt = 0; attempt < 5 && !workspace.startsWith("/"); attempt++) {
    const pwd = await Effect.runPromise(runtime.run("pwd"))
    if (!racedAhead(pwd)) workspace = pwd.output
  }
  held = {
    runtime,
    control,
    sessionKey,
    workspace,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}, 120_000)

afterAll(async () => {
  await held?.close()
})

const run = (command: string, options?: DaytonaRuntime.RunOptions) =>
  steady(held.runtime.run, held.runtime.interrupt())(command, options)
/** The shell idle in the workspace (a retried test may find it otherwise). */
const ready = Effect.suspend(() =>
  Effect.zipRight(drain(held.runtime.run, held.runtime.interrupt()), run(`cd ${held.workspace}`))
)

describe.skipIf(!available)("the runtime handle against the real server in the emulator", () => {
  it.live(
    "the shell's setup: no session key anywhere in it, the variables exported, git configured",
    () =>
      Effect.gen(function* () {
        yield* ready
        assert.isAbove(held.sessionKey.length, 16)
        const shell = yield* run('echo "[$SESSION_API_KEY]"; env | grep -c SESSION_API_KEY; whoami')
        assert.deepStrictEqual(shell.output.split("\n"), ["[]", "0", "openhands"])
        const environ = yield* run("tr '\\0' '\\n' < /proc/$$/environ | grep -c SESSION_API_KEY")
        assert.strictEqual(environ.output, "0", "not even in the shell process's initial environment")
        const child = yield* run("sh -c 'echo [$SESSION_API_KEY]'")
        assert.strictEqual(child.output, "[]")
        const fresh = yield* run('echo "[$SESSION_API_KEY]"', { cwd: "/tmp" })
        assert.strictEqual(fresh.output, "[]", "a fresh shell (is_static) reads ~/.bashrc")
        const everything = yield* run(`grep -rl ${held.sessionKey} ~ 2>/dev/null | wc -l`)
        assert.strictEqual(everything.output, "0")
        const exported = yield* run('echo "$PROJECT_NAME"; grep -c "^export PROJECT_NAME=" ~/.bashrc')
        assert.deepStrictEqual(exported.output.split("\n"), [`it's "real" $HOME`, "1"])
        const git = yield* run("git config --global user.name; git config --global user.email")
        assert.deepStrictEqual(git.output.split("\n"), ["openhands", "openhands@all-hands.dev"])
        assert.strictEqual((yield* run("alias git")).output, "alias git='git --no-pager'")
      }),
    realTest
  )

  it.live(
    "run: exit codes, multi-line output, cd and export persist",
    () =>
      Effect.gen(function* () {
        yield* ready
        const lines = yield* run("printf 'a\\nb\\n'; echo c")
        assert.deepStrictEqual([lines._tag, lines.exitCode, lines.output], ["Completed", 0, "a\nb\nc"])
        const failed = yield* run("ls /nonexistent")
        assert.deepStrictEqual([failed._tag, failed.exitCode], ["Completed", 2])
        yield* run(`mkdir -p ${held.workspace}/deep/er && cd ${held.workspace}/deep/er && export COLOR=green`)
        const after = yield* run('pwd; echo "$COLOR"')
        assert.deepStrictEqual(after.output.split("\n"), [`${held.workspace}/deep/er`, "green"])
        assert.match(held.workspace, /\/workspace$/)
        assert.strictEqual(after.metadata.workingDir, `${held.workspace}/deep/er`)
      }),
    realTest
  )

  it.live(
    "a command past its timeout: StillRunning with its output, then read on, then interrupted",
    () =>
      Effect.gen(function* () {
        yield* ready
        const started = yield* run("for i in 1 2; do echo step $i; sleep 0.5; done; sleep 60", { timeout: "3 seconds" })
        assert.strictEqual(started._tag, "StillRunning", JSON.stringify(started))
        assert.strictEqual(started.output, "step 1\nstep 2")
        const blocked = yield* run("echo blocked")
        assert.strictEqual(blocked._tag, "NotExecuted", JSON.stringify(blocked))
        const more = yield* held.runtime.readOutput({ timeout: "1 second" })
        assert.strictEqual(more._tag, "StillRunning", JSON.stringify(more))
        const stopped = yield* held.runtime.interrupt()
        assert.deepStrictEqual([stopped._tag, stopped.exitCode], ["Completed", 130])
        const free = yield* run("echo free")
        assert.deepStrictEqual([free._tag, free.output], ["Completed", "free"])
      }),
    realTest
  )

  it.live(
    "edit and undo, read ranges, upload then list, download",
    () =>
      Effect.gen(function* () {
        yield* ready
        const { runtime } = held
        const pwd = held.workspace
        const file = `${pwd}/app.py`
        yield* runtime.execute(Action.Edit({ path: file, command: "create", fileText: "x = 1\ny = 2\nz = 3\n" }))
        const replaced = yield* runtime.execute(
          Action.Edit({ path: file, command: "str_replace", oldStr: "y = 2", newStr: "y = 20" })
        )
        assert.isTrue(replaced._tag === "Edit" && replaced.diff!.includes("+y = 20"))
        const read = yield* runtime.execute(Action.Read({ path: "app.py", start: 1, end: 2 }))
        assert.deepStrictEqual(read._tag === "Read" && read.content, "y = 20\n")
        yield* runtime.execute(Action.Edit({ path: file, command: "undo_edit" }))
        const undone = yield* runtime.execute(Action.Read({ path: file }))
        assert.deepStrictEqual(undone._tag === "Read" && undone.content, "x = 1\ny = 2\nz = 3\n")

        yield* runtime.upload({ destination: `${pwd}/in`, name: "data.txt", content: new TextEncoder().encode("42") })
        yield* runtime.upload({
          destination: `${pwd}/in`,
          name: "tree.zip",
          content: zipOf({ "t/a": "A" }),
          recursive: true
        })
        const listed = yield* runtime.listFiles("in")
        assert.deepStrictEqual(listed, ["t/", "data.txt"])
        assert.strictEqual((yield* run(`cat ${pwd}/in/data.txt ${pwd}/in/t/a`)).output, "42A")
        const zip = yield* runtime.download(`${pwd}/in`)
        assert.strictEqual(String.fromCharCode(zip[0]!, zip[1]!), "PK")
        const onHost = yield* held.control.sandboxes
        assert.strictEqual(onHost.length, 1)
      }),
    realTest
  )

  it.live(
    "the bridge: observations in order, each naming its action",
    () =>
      Effect.gen(function* () {
        yield* ready
        const out = yield* held.runtime
          .bridge(
            Stream.make(
              { id: 101, action: Action.Run({ command: "echo one" }) },
              { id: 102, action: Action.Read({ path: "/no/such/file" }) },
              { id: 103, action: Action.Run({ command: "echo three" }) }
            )
          )
          .pipe(Stream.runCollect)
        const events = Chunk.toReadonlyArray(out)
        assert.deepStrictEqual(
          events.map((e) => [e.cause, e.observation._tag]),
          [
            [101, "Run"],
            [102, "Error"],
            [103, "Run"]
          ]
        )
        assert.deepStrictEqual([events[0]!.observation.content, events[2]!.observation.content], ["one", "three"])
        assert.match(Chunk.toReadonlyArray(out)[1]!.observation.content, /^File not found: \/no\/such\/file\./)
      }),
    realTest
  )

  it.live(
    "through the preview proxy the real server refuses a request without the session key (403)",
    () =>
      Effect.gen(function* () {
        const { control, runtime } = held
        const preview = yield* Effect.promise(() =>
          fetch(`${control.apiUrl}/sandbox/${runtime.sandboxId}/ports/4444/preview-url`, {
            headers: { authorization: `Bearer ${Redacted.value(control.apiKey)}` }
          }).then((r) => r.json() as Promise<{ token: string }>)
        )
        const status = (headers: Record<string, string>) =>
          Effect.promise(() =>
            fetch(`${runtime.actionServerUrl}/list_files`, { method: "POST", body: "{}", headers }).then(
              (r) => r.status
            )
          )
        assert.strictEqual(yield* status({ "x-daytona-preview-token": preview.token }), 403)
        assert.strictEqual(
          yield* status({ "x-daytona-preview-token": preview.token, "x-session-api-key": held.sessionKey }),
          200
        )
        assert.isTrue(Option.isNone(yield* runtime.vscodeUrl), "no vscode plugin: no token, as the real server says")
      }),
    realTest
  )

  it.live(
    "the workspace is the sandbox's folder on the host",
    () =>
      Effect.gen(function* () {
        yield* ready
        yield* run("echo on-host > marker.txt")
        assert.strictEqual(readFileSync(`${held.workspace}/marker.txt`, "utf8"), "on-host\n")
      }),
    realTest
  )
})
