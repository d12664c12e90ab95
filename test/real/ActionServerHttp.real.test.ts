/**
 * The ActionServer client (undici) against the REAL OpenHands action execution server, started once for this
 * file with the runtime's default launch arguments: every request kind, the shell's persistence, a command past
 * its timeout (still running, read on, not executed, interrupted), edit and undo, read ranges, upload and
 * download, and the 403 without the session key.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Option, Redacted } from "effect"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as ActionServerHttp from "../../src/layers/ActionServerHttp.js"
import { fromObservation, inputAction, runAction, type RunResult } from "../../src/programs/Commands.js"
import { Action, ActionServer, type Endpoint, type Observation } from "../../src/services/ActionServer.js"
import {
  available,
  type RealServer,
  realTest,
  drain,
  skipReason,
  startRealServer,
  steady,
  zipNames,
  zipOf
} from "./support.js"

if (!available) console.log(skipReason)

const client = ActionServerHttp.layer.pipe(Layer.provide(NodeHttpClient.layerUndici))

let server: RealServer
let endpoint: Endpoint

beforeAll(async () => {
  if (!available) return
  server = await startRealServer()
  endpoint = { url: server.url, sessionApiKey: Redacted.make(server.sessionKey), previewToken: Option.none() }
}, 90_000)

afterAll(async () => {
  await server?.stop()
})

const execute = (action: Action) => Effect.flatMap(ActionServer, (api) => api.execute(endpoint, action))

const asRun = (observation: Observation): RunResult => {
  if (observation._tag !== "Run") throw new Error(`expected a run observation, got ${JSON.stringify(observation)}`)
  return fromObservation(observation)
}
const rawRun = (command: string, options?: Parameters<typeof runAction>[1]) =>
  Effect.map(execute(runAction(command, options)), asRun)
const input = (text: string, options?: Parameters<typeof inputAction>[1]) =>
  Effect.map(execute(inputAction(text, options)), asRun)
const run = steady(rawRun, input("C-c"))
/** The shell idle in the working folder (a retried test may find it otherwise). */
const ready = Effect.suspend(() => Effect.zipRight(drain(rawRun, input("C-c")), run(`cd ${server.workingDir}`)))

describe.skipIf(!available)("the real action execution server through ActionServerHttp", () => {
  it.live(
    "alive, then a 403 without (or with a wrong) session key; /alive needs none",
    () =>
      Effect.gen(function* () {
        const api = yield* ActionServer
        yield* api.alive(endpoint)
        const wrong = { ...endpoint, sessionApiKey: Redacted.make("wrong") }
        yield* api.alive(wrong)
        const refused = yield* Effect.either(api.listFiles(wrong))
        assert.isTrue(Either.isLeft(refused) && refused.left._tag === "HttpStatusError" && refused.left.status === 403)
        if (Either.isLeft(refused)) assert.include(refused.left.message, "Invalid API Key")
        const noKey = yield* Effect.promise(() => fetch(`${server.url}/list_files`, { method: "POST", body: "{}" }))
        assert.strictEqual(noKey.status, 403)
      }).pipe(Effect.provide(client)),
    realTest
  )

  it.live(
    "run: exit codes, multi-line output, cd and export persist; two commands in one are refused",
    () =>
      Effect.gen(function* () {
        yield* ready
        const ok = yield* run("printf 'one\\ntwo\\n'; echo three")
        assert.deepStrictEqual(
          [ok._tag, ok.exitCode, ok.output],
          ["Completed", 0, "one\ntwo\nthree"],
          JSON.stringify(ok)
        )
        assert.strictEqual(ok.metadata.username, "openhands")
        const failed = yield* run("ls /nonexistent")
        assert.deepStrictEqual([failed._tag, failed.exitCode], ["Completed", 2])
        assert.include(failed.output, "No such file or directory")
        const seven = yield* run("(exit 7)")
        assert.strictEqual(seven.exitCode, 7)
        yield* run(`mkdir -p ${server.workingDir}/sub && cd ${server.workingDir}/sub && export GREETING=hello`)
        const after = yield* run('pwd; echo "$GREETING"')
        assert.deepStrictEqual(after.output.split("\n"), [Path.join(server.workingDir, "sub"), "hello"])
        assert.strictEqual(after.metadata.workingDir, Path.join(server.workingDir, "sub"))
        const observation = yield* execute(runAction("echo one\necho two"))
        assert.strictEqual(observation._tag, "Error")
        assert.include(observation.content, "Cannot execute multiple commands at once")
      }).pipe(Effect.provide(client)),
    realTest
  )

  it.live(
    "a command past its timeout is still running with its output; the next is not executed; read on; C-c",
    () =>
      Effect.gen(function* () {
        yield* ready
        const first = yield* run("for i in 1 2 3; do echo tick $i; sleep 0.5; done; sleep 60", {
          timeout: "3 seconds"
        })
        assert.strictEqual(first._tag, "StillRunning", JSON.stringify(first))
        assert.strictEqual(first.exitCode, -1)
        assert.strictEqual(first.output, "tick 1\ntick 2\ntick 3")
        if (first._tag === "StillRunning") assert.match(first.reason, /^The command timed out after 3\.0 seconds/)
        const next = yield* run("echo next")
        assert.strictEqual(next._tag, "NotExecuted", JSON.stringify(next))
        if (next._tag === "NotExecuted") assert.include(next.reason, 'Your command "echo next" is NOT executed')
        const more = yield* input("", { timeout: "1 second" })
        assert.strictEqual(more._tag, "StillRunning", JSON.stringify(more))
        const stopped = yield* input("C-c")
        assert.deepStrictEqual([stopped._tag, stopped.exitCode], ["Completed", 130])
        const nothing = yield* input("C-c")
        assert.strictEqual(nothing._tag, "NothingRunning")
        const again = yield* run("echo again")
        assert.deepStrictEqual([again._tag, again.output], ["Completed", "again"])
      }).pipe(Effect.provide(client)),
    realTest
  )

  it.live(
    "input reaches a command waiting for it",
    () =>
      Effect.gen(function* () {
        yield* ready
        const asked = yield* run('read -p "name? " name; echo "hello $name"', { timeout: "2 seconds" })
        assert.strictEqual(asked._tag, "StillRunning", JSON.stringify(asked))
        assert.include(asked.output, "name?")
        const answered = yield* input("Ada")
        assert.strictEqual(answered._tag, "Completed")
        assert.include(answered.output, "hello Ada")
      }).pipe(Effect.provide(client)),
    realTest
  )

  it.live(
    "write, read with line ranges and through the editor's view",
    () =>
      Effect.gen(function* () {
        const file = Path.join(server.workingDir, "notes", "a.txt")
        const written = yield* execute(Action.Write({ path: file, content: "line 0\nline 1\nline 2\nline 3" }))
        assert.deepStrictEqual(written._tag === "Write" && written.path, file)
        // OpenHands writes the content as lines: the file ends with a newline.
        assert.strictEqual(readFileSync(file, "utf8"), "line 0\nline 1\nline 2\nline 3\n")
        const whole = yield* execute(Action.Read({ path: file }))
        assert.deepStrictEqual(whole._tag === "Read" && whole.content, "line 0\nline 1\nline 2\nline 3\n")
        const middle = yield* execute(Action.Read({ path: file, start: 1, end: 3 }))
        assert.deepStrictEqual(middle._tag === "Read" && middle.content, "line 1\nline 2\n")
        const viewed = yield* execute(Action.Read({ path: file, implSource: "oh_aci", viewRange: [2, 3] }))
        assert.strictEqual(viewed._tag, "Read")
        if (viewed._tag === "Read") {
          assert.strictEqual(viewed.implSource, "oh_aci")
          assert.include(viewed.content, "     2\tline 1\n     3\tline 2")
          assert.notInclude(viewed.content, "line 0")
        }
        const missing = yield* execute(Action.Read({ path: "nope.txt" }))
        assert.deepStrictEqual(missing._tag === "Error" && missing.content.startsWith("File not found"), true)
      }).pipe(Effect.provide(client)),
    realTest
  )

  it.live(
    "edit: create, str_replace, insert, undo_edit, view; a failed replace is an ERROR text",
    () =>
      Effect.gen(function* () {
        // The editor does not create folders.
        const file = Path.join(server.workingDir, "b.py")
        const edit = (fields: Omit<Extract<Action, { _tag: "Edit" }>, "_tag" | "path">) =>
          execute(Action.Edit({ path: file, ...fields }))
        const created = yield* edit({ command: "create", fileText: "def f():\n    return 1\n" })
        assert.deepStrictEqual(created._tag === "Edit" && created.content, `File created successfully at: ${file}`)
        const replaced = yield* edit({ command: "str_replace", oldStr: "return 1", newStr: "return 2" })
        assert.isTrue(replaced._tag === "Edit" && replaced.diff !== null && replaced.diff.includes("+    return 2"))
        assert.deepStrictEqual(
          replaced._tag === "Edit" && [replaced.oldContent, replaced.newContent, replaced.implSource],
          ["return 1", "return 2", "oh_aci"]
        )
        yield* edit({ command: "insert", insertLine: 2, newStr: "# end" })
        assert.strictEqual(readFileSync(file, "utf8"), "def f():\n    return 2\n# end\n")
        const undone = yield* edit({ command: "undo_edit" })
        assert.isTrue(undone._tag === "Edit" && undone.content.startsWith(`Last edit to ${file} undone successfully`))
        assert.strictEqual(readFileSync(file, "utf8"), "def f():\n    return 2\n")
        const view = yield* execute(Action.Edit({ path: Path.dirname(file), command: "view" }))
        assert.isTrue(view._tag === "Edit" && view.content.includes(file))
        const nothing = yield* edit({ command: "str_replace", oldStr: "nope", newStr: "x" })
        assert.isTrue(nothing._tag === "Edit" && nothing.content.startsWith("ERROR:\nNo replacement was performed"))
      }).pipe(Effect.provide(client)),
    realTest
  )

  it.live(
    "upload a file and a zip (recursive), list them, download the folder as a zip",
    () =>
      Effect.gen(function* () {
        const api = yield* ActionServer
        const destination = Path.join(server.workingDir, "up")
        yield* api.uploadFile(endpoint, { destination, name: "u.txt", content: new TextEncoder().encode("uploaded") })
        yield* api.uploadFile(endpoint, {
          destination,
          name: "bundle.zip",
          content: zipOf({ "z/one.txt": "1", "z/two.txt": "2" }),
          recursive: true
        })
        assert.deepStrictEqual(yield* api.listFiles(endpoint, "up"), ["z/", "u.txt"])
        assert.deepStrictEqual(yield* api.listFiles(endpoint, `${destination}/z`), ["one.txt", "two.txt"])
        assert.deepStrictEqual(yield* api.listFiles(endpoint, "/nonexistent"), [])
        assert.strictEqual(readFileSync(Path.join(destination, "u.txt"), "utf8"), "uploaded")
        const zip = yield* api.downloadFiles(endpoint, destination)
        assert.deepStrictEqual(zipNames(zip), ["u.txt", "z/one.txt", "z/two.txt"])
        const relative = yield* Effect.either(
          api.uploadFile(endpoint, { destination: "up", name: "x.txt", content: new Uint8Array([1]) })
        )
        assert.isTrue(Either.isLeft(relative) && relative.left._tag === "HttpStatusError")
        if (Either.isLeft(relative)) assert.include(relative.left.message, "Destination must be an absolute path")
      }).pipe(Effect.provide(client)),
    realTest
  )

  it.live(
    "no VSCode plugin: no token; no browser: browse is an error observation",
    () =>
      Effect.gen(function* () {
        const api = yield* ActionServer
        assert.isTrue(Option.isNone(yield* api.vscodeToken(endpoint)))
        const browsed = yield* execute(Action.Browse({ url: "http://127.0.0.1:1" }))
        assert.deepStrictEqual(
          browsed._tag === "Error" && browsed.content,
          "Browser functionality is not supported or disabled."
        )
        const ipython = yield* Effect.either(execute(Action.RunIPython({ code: "print(1)" })))
        assert.isTrue(Either.isLeft(ipython) && ipython.left._tag === "HttpStatusError" && ipython.left.status === 500)
        if (Either.isLeft(ipython)) assert.include(ipython.left.message, "JupyterRequirement not found")
      }).pipe(Effect.provide(client)),
    realTest
  )
})
