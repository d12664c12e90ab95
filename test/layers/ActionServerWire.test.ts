/**
 * The wire against OpenHands' own serialization: every action encodes to the body OpenHands' real
 * `event_to_dict` produced for it (fixtures made with the real code, see fixtures/README.md), and every
 * observation body the real server answered decodes, every field kept; unknown kinds are kept as they came.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as Wire from "../../src/layers/ActionServerWire.js"
import { fromObservation, inputAction, runAction } from "../../src/programs/Commands.js"
import { Action, type Observation } from "../../src/services/ActionServer.js"
import * as OpenHandsWire from "../../src/services/OpenHandsWire.js"

interface Fixture {
  readonly name: string
  readonly status?: number
  readonly body: Record<string, unknown>
}

const fixtures = (file: string): ReadonlyArray<Fixture> =>
  JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8")) as ReadonlyArray<Fixture>

const realBodies = new Map(fixtures("openhands-action-bodies.json").map((f) => [f.name, f.body]))
const realObservations = fixtures("openhands-observations.json")

/** The same actions as the fixtures, built with this library. */
const ours: ReadonlyArray<readonly [string, Action]> = [
  ["run: default", runAction("echo hi")],
  ["run: timeout 30", runAction("sleep 2; echo done", { timeout: "30 seconds" })],
  ["run: timeout 5, not blocking", runAction("make", { timeout: Duration.seconds(5), blocking: false })],
  ["run: read more output", inputAction("")],
  ["run: C-c", inputAction("C-c")],
  ["run: static, cwd, hidden, 1.5 s", runAction("ls", { cwd: "/tmp", hidden: true, timeout: "1500 millis" })],
  ["run: with a thought", Action.Run({ command: "ls", thought: "look around" })],
  ["run_ipython", Action.RunIPython({ code: "print(1)" })],
  ["read: default", Action.Read({ path: "notes/a.txt" })],
  ["read: lines 1..3", Action.Read({ path: "/w/a.txt", start: 1, end: 3 })],
  ["read: oh_aci view_range", Action.Read({ path: "/w/a.txt", implSource: "oh_aci", viewRange: [1, 2] })],
  ["write", Action.Write({ path: "notes/a.txt", content: "line 1\nline 2" })],
  ["edit: create", Action.Edit({ path: "/w/b.py", command: "create", fileText: "def f():\n    return 1\n" })],
  [
    "edit: str_replace",
    Action.Edit({ path: "/w/b.py", command: "str_replace", oldStr: "return 1", newStr: "return 2" })
  ],
  ["edit: insert", Action.Edit({ path: "/w/b.py", command: "insert", insertLine: 2, newStr: "# end" })],
  ["edit: undo_edit", Action.Edit({ path: "/w/b.py", command: "undo_edit" })],
  ["edit: view", Action.Edit({ path: "/w", command: "view" })],
  ["browse", Action.Browse({ url: "http://127.0.0.1:3000" })],
  ["browse_interactive", Action.BrowseInteractive({ browserActions: 'goto("http://127.0.0.1:3000")' })]
]

describe("the wire: actions", () => {
  it("covers every fixture", () => {
    assert.deepStrictEqual(ours.map(([name]) => name).sort(), [...realBodies.keys()].sort())
  })

  for (const [name, action] of ours) {
    it(`${name}: the body OpenHands' event_to_dict makes`, () => {
      // JSON both ways: OpenHands writes 120.0 where JavaScript writes 120, the same number.
      const body = JSON.parse(JSON.stringify(Wire.executeActionBody(action))) as unknown
      assert.deepStrictEqual(body, realBodies.get(name))
      assert.isTrue(Either.isRight(Schema.decodeUnknownEither(OpenHandsWire.ExecuteActionRequest)(body)))
    })
  }

  it("the hard timeout is the event's top-level timeout in seconds, never an argument", () => {
    const body = Wire.encodeAction(runAction("true", { timeout: "2500 millis" }))
    assert.strictEqual(body.timeout, 2.5)
    assert.notProperty(body.args, "timeout")
    // 0 would mean "no hard timeout" to the server.
    assert.isAbove(Wire.encodeAction(runAction("true", { timeout: 0 })).timeout, 0)
  })

  it("the request timeout is the action's plus 5 s; 120 s when it has none", () => {
    assert.strictEqual(Duration.toSeconds(Wire.timeoutOf(runAction("true"))), 120)
    assert.strictEqual(Duration.toSeconds(Wire.timeoutOf(Action.Read({ path: "/a", timeout: "3 seconds" }))), 3)
  })
})

describe("the wire: observations", () => {
  for (const fixture of realObservations) {
    it(`${fixture.name}: decodes with every field`, () => {
      const decoded = Wire.decodeObservation(fixture.body)
      assert.isTrue(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left : "")
      const observation = Either.getOrThrow(decoded)
      const body = fixture.body as { observation: string; content: string; extras: Record<string, unknown> }
      assert.strictEqual(observation.content, body.content)
      const extras = body.extras
      switch (observation._tag) {
        case "Run": {
          const metadata = extras.metadata as Record<string, unknown>
          assert.strictEqual(body.observation, "run")
          assert.strictEqual(observation.command, extras.command)
          assert.strictEqual(observation.hidden, extras.hidden)
          assert.deepStrictEqual(observation.metadata, {
            exitCode: metadata.exit_code,
            pid: metadata.pid,
            username: metadata.username,
            hostname: metadata.hostname,
            workingDir: metadata.working_dir,
            pyInterpreterPath: metadata.py_interpreter_path,
            prefix: metadata.prefix,
            suffix: metadata.suffix
          })
          assert.strictEqual(observation.exitCode, metadata.exit_code)
          break
        }
        case "Read":
          assert.deepStrictEqual([observation.path, observation.implSource], [extras.path, extras.impl_source])
          break
        case "Write":
          assert.strictEqual(observation.path, extras.path)
          break
        case "Edit":
          assert.deepStrictEqual(
            [
              observation.path,
              observation.prevExist,
              observation.oldContent,
              observation.newContent,
              observation.implSource,
              observation.diff
            ],
            [extras.path, extras.prev_exist, extras.old_content, extras.new_content, extras.impl_source, extras.diff]
          )
          break
        case "Error":
          assert.strictEqual(observation.errorId, extras.error_id)
          break
        default:
          assert.fail(`unexpected ${observation._tag} for ${body.observation}`)
      }
    })
  }

  it("every run fixture reads as the result the server meant", () => {
    const tags = new Map(
      realObservations.flatMap((fixture) => {
        const decoded = Either.getOrThrow(Wire.decodeObservation(fixture.body))
        return decoded._tag === "Run" ? [[fixture.name, fromObservation(decoded)._tag] as const] : []
      })
    )
    assert.deepStrictEqual(Object.fromEntries(tags), {
      "run: echo hi": "Completed",
      "run: cd /tmp && pwd": "Completed",
      "run: pwd (the folder persists)": "Completed",
      "run: a failing command (ls /nonexistent)": "Completed",
      "run: hard timeout (still running)": "StillRunning",
      "run: C-c after the hard timeout": "Completed",
      "run: blocking, completed": "Completed",
      "run: no new output for 10 s (still running)": "StillRunning",
      "run: an empty command collects the rest": "Completed",
      "run: empty command, nothing running": "NothingRunning",
      "run: C-c, nothing running": "NothingRunning",
      "run: past its hard timeout, output so far": "StillRunning",
      "run: not executed while the previous runs": "NotExecuted",
      "run: read on, still running": "StillRunning",
      "run: C-c of the running command": "Completed",
      "run: hidden": "Completed",
      "run: is_static in cwd": "Completed"
    })
  })

  it("a still-running result carries the output so far and the server's reason", () => {
    const fixture = realObservations.find((f) => f.name === "run: past its hard timeout, output so far")!
    const result = fromObservation(Either.getOrThrow(Wire.decodeObservation(fixture.body)) as RunObservation)
    assert.strictEqual(result._tag, "StillRunning")
    assert.strictEqual(result.output, "tick 1\ntick 2\ntick 3")
    assert.strictEqual(result.exitCode, -1)
    if (result._tag === "StillRunning") assert.match(result.reason, /^The command timed out after 2\.0 seconds\./)
  })

  it("an unknown kind is kept as it came; a body that is no observation is refused with the reason", () => {
    const body = { observation: "mcp", content: "tool said hi", extras: { name: "t", arguments: { a: 1 } } }
    const other = Either.getOrThrow(Wire.decodeObservation(body))
    assert.strictEqual(other._tag, "Other")
    if (other._tag === "Other") {
      assert.deepStrictEqual([other.observation, other.content, other.raw], ["mcp", "tool said hi", body])
    }
    const noContent = Either.getOrThrow(Wire.decodeObservation({ observation: "success" }))
    assert.deepStrictEqual(noContent._tag === "Other" && noContent.content, "")
    // A known kind without what it needs is kept as it came too (OpenHands' own client would raise).
    const partial = { observation: "run", content: "x", extras: { metadata: {} } }
    const kept = Either.getOrThrow(Wire.decodeObservation(partial))
    assert.deepStrictEqual(kept._tag === "Other" && [kept.observation, kept.content, kept.raw], ["run", "x", partial])
    const bad = Wire.decodeObservation({ observation: 5 })
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) assert.include(bad.left, "observation")
    assert.isTrue(Either.isLeft(Wire.decodeObservation("<html>")))
  })

  it("missing extras fields take OpenHands' defaults", () => {
    const run = Either.getOrThrow(Wire.decodeObservation({ observation: "run", content: "", extras: { command: "x" } }))
    assert.deepStrictEqual(run._tag === "Run" && [run.exitCode, run.hidden, run.metadata.suffix], [-1, false, ""])
    const edit = Either.getOrThrow(Wire.decodeObservation({ observation: "edit", content: "ok", extras: {} }))
    assert.deepStrictEqual(edit._tag === "Edit" && [edit.path, edit.implSource, edit.diff], [
      "",
      "llm_based_edit",
      null
    ])
  })

  it("browse keeps every field the server sent; download and run_ipython decode", () => {
    const extras = {
      url: "http://x",
      trigger_by_action: "browse",
      screenshot: "data:image/png;base64,AA",
      axtree_object: { a: 1 }
    }
    const browse = Either.getOrThrow(Wire.decodeObservation({ observation: "browse", content: "page", extras }))
    assert.deepStrictEqual(browse._tag === "Browse" && [browse.url, browse.error, browse.extras], [
      "http://x",
      false,
      extras
    ])
    const download = Either.getOrThrow(
      Wire.decodeObservation({ observation: "download", content: "saved", extras: { file_path: "/workspace/f.pdf" } })
    )
    assert.deepStrictEqual(download._tag === "Download" && download.filePath, "/workspace/f.pdf")
    const cell = Either.getOrThrow(
      Wire.decodeObservation({
        observation: "run_ipython",
        content: "1",
        extras: { code: "print(1)", image_urls: null }
      })
    )
    assert.deepStrictEqual(cell._tag === "RunIPython" && [cell.code, cell.imageUrls], ["print(1)", null])
  })

  it("the observation of a hidden run is hidden, as OpenHands' client marks it", () => {
    const fixture = realObservations.find((f) => f.name === "run: echo hi")!
    const observation = Either.getOrThrow(Wire.decodeObservation(fixture.body))
    const marked = Wire.markHidden(runAction("echo hi", { hidden: true }), observation)
    assert.isTrue(marked._tag === "Run" && marked.hidden)
    assert.isTrue(Wire.markHidden(runAction("echo hi"), observation) === observation)
  })
})

type RunObservation = Extract<Observation, { _tag: "Run" }>
