/**
 * The wire against OpenHands' own code at test time: every action this library encodes goes through the real
 * `action_from_dict` (what the server does with the body) and back through the real `event_to_dict` (what
 * OpenHands' client would have sent): the two must be the same JSON. And every observation the real
 * `event_to_dict` makes for OpenHands' observation classes decodes here with its fields.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as Wire from "../../src/layers/ActionServerWire.js"
import { inputAction, runAction } from "../../src/programs/Commands.js"
import { Action } from "../../src/services/ActionServer.js"
import { available, realPython, skipReason } from "./support.js"

if (!available) console.log(skipReason)

const actions: ReadonlyArray<Action> = [
  runAction("echo hi"),
  runAction("make -j4", { timeout: "45 seconds" }),
  runAction("make", { timeout: "5 seconds", blocking: false }),
  runAction("ls", { cwd: "/tmp", hidden: true, timeout: "1500 millis" }),
  inputAction(""),
  inputAction("C-c"),
  inputAction("yes", { timeout: "2 seconds" }),
  Action.Run({ command: "echo 'quotes' \"and\" $VARS\nnewline", thought: "why" }),
  Action.RunIPython({ code: "import os\nprint(os.getcwd())", includeExtra: false, kernelInitCode: "x = 1" }),
  Action.Read({ path: "a.txt" }),
  Action.Read({ path: "/w/a.txt", start: 3, end: 9, timeout: "10 seconds" }),
  Action.Read({ path: "/w/a.txt", implSource: "oh_aci", viewRange: [2, -1] }),
  Action.Write({ path: "/w/é.txt", content: "ünïcode\n\ttab", start: 2, end: 4 }),
  Action.Edit({ path: "/w/b.py", command: "create", fileText: "x = 1\n" }),
  Action.Edit({ path: "/w/b.py", command: "str_replace", oldStr: "x = 1", newStr: "x = 2" }),
  Action.Edit({ path: "/w/b.py", command: "insert", insertLine: 0, newStr: "# top" }),
  Action.Edit({ path: "/w/b.py", command: "undo_edit" }),
  Action.Edit({ path: "/w", command: "view" }),
  Action.Browse({ url: "http://127.0.0.1:3000/", returnAxtree: true }),
  Action.BrowseInteractive({ browserActions: "click('12')", browsergymSendMsgToUser: "done" })
]

const ROUND_TRIP = `
import json, logging, sys
logging.disable(logging.CRITICAL)
from openhands.events.serialization import event_to_dict
from openhands.events.serialization.action import action_from_dict
print(json.dumps([event_to_dict(action_from_dict(body['action'])) for body in json.load(sys.stdin)]))
`

const OBSERVATIONS = `
import json, logging, sys
logging.disable(logging.CRITICAL)
from openhands.events.observation import (CmdOutputObservation, CmdOutputMetadata, ErrorObservation,
    FileEditObservation, FileReadObservation, FileWriteObservation, IPythonRunCellObservation,
    BrowserOutputObservation, FileDownloadObservation, AgentThinkObservation)
from openhands.events.event import FileEditSource, FileReadSource
from openhands.events.serialization import event_to_dict
obs = [
  CmdOutputObservation(content='out', command='c', metadata=CmdOutputMetadata(exit_code=3, pid=7, username='u',
      hostname='h', working_dir='/w', py_interpreter_path='/p', prefix='pre', suffix='suf'), hidden=True),
  ErrorObservation(content='bad', error_id='E1'),
  FileReadObservation(content='text', path='/a', impl_source=FileReadSource.OH_ACI),
  FileWriteObservation(content='', path='/b'),
  FileEditObservation(content='edited', path='/c', prev_exist=True, old_content='o', new_content='n',
      impl_source=FileEditSource.OH_ACI, diff='d'),
  IPythonRunCellObservation(content='1', code='print(1)', image_urls=['data:image/png;base64,AA']),
  BrowserOutputObservation(content='page', url='http://x', trigger_by_action='browse', error=True,
      open_pages_urls=['http://x'], active_page_index=0, last_browser_action='goto'),
  FileDownloadObservation(content='saved', file_path='/w/f.pdf'),
  AgentThinkObservation(content='thinking'),
]
print(json.dumps([event_to_dict(o) for o in obs]))
`

describe.skipIf(!available)("the wire against OpenHands' own serialization", () => {
  it("every action survives the real action_from_dict → event_to_dict unchanged", () => {
    const ours = actions.map(Wire.executeActionBody)
    const theirs = JSON.parse(realPython(ROUND_TRIP, JSON.stringify(ours))) as ReadonlyArray<unknown>
    assert.strictEqual(theirs.length, ours.length)
    ours.forEach((body, i) => assert.deepStrictEqual(theirs[i], JSON.parse(JSON.stringify(body.action)), `#${i}`))
  })

  it("every observation class's event_to_dict decodes, its fields kept; an unknown kind is kept raw", () => {
    const bodies = JSON.parse(realPython(OBSERVATIONS, "")) as ReadonlyArray<Record<string, unknown>>
    const decoded = bodies.map((body) => Either.getOrThrow(Wire.decodeObservation(body)))
    assert.deepStrictEqual(
      decoded.map((o) => o._tag),
      ["Run", "Error", "Read", "Write", "Edit", "RunIPython", "Browse", "Download", "Other"]
    )
    const [run, error, read, , edit, cell, browse, download, think] = decoded
    assert.deepStrictEqual(run, {
      _tag: "Run",
      command: "c",
      content: "out",
      exitCode: 3,
      hidden: true,
      metadata: {
        exitCode: 3,
        pid: 7,
        username: "u",
        hostname: "h",
        workingDir: "/w",
        pyInterpreterPath: "/p",
        prefix: "pre",
        suffix: "suf"
      }
    } as never)
    assert.deepStrictEqual(error!._tag === "Error" && error!.errorId, "E1")
    assert.deepStrictEqual(read!._tag === "Read" && read!.implSource, "oh_aci")
    assert.deepStrictEqual(edit!._tag === "Edit" && [edit!.prevExist, edit!.oldContent, edit!.newContent, edit!.diff], [
      true,
      "o",
      "n",
      "d"
    ])
    assert.deepStrictEqual(cell!._tag === "RunIPython" && cell!.imageUrls, ["data:image/png;base64,AA"])
    assert.deepStrictEqual(
      browse!._tag === "Browse" && [browse!.error, browse!.extras.open_pages_urls, browse!.extras.last_browser_action],
      [true, ["http://x"], "goto"]
    )
    assert.deepStrictEqual(download!._tag === "Download" && download!.filePath, "/w/f.pdf")
    assert.deepStrictEqual(think!._tag === "Other" && [think!.observation, think!.raw], ["think", bodies[8]])
  })
})
