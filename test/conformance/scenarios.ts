/**
 * The conformance scenarios: ONE list, run against the built-in server and against the real OpenHands server, each
 * answer compared with what the real server answered when the list was recorded (`expected.json`). Scenarios of a
 * group share one server, in this order.
 */
import { strToU8, zipSync } from "fflate"
import * as fs from "node:fs"
import * as path from "node:path"
import type { GroupConfig } from "./servers.js"
import type { Request, Scenario, Step } from "./driver.js"
import { put } from "./driver.js"
import { type RunOptions, runBody } from "../emulator/ActionServerTestkit.js"

export const GROUPS: Record<string, GroupConfig> = {
  shell: {},
  timeouts: {},
  files: {},
  http: {},
  vscode: { plugins: ["vscode"] }
}

/** A run as the real client sends it (`event_to_dict` of a `CmdRunAction`). */
const run = (command: unknown, options: RunOptions = {}): Request => ({
  method: "POST",
  path: "/execute_action",
  json: { action: runBody(command, options) }
})
const action = (type: string, args: Record<string, unknown>): Request => ({
  method: "POST",
  path: "/execute_action",
  json: { action: { action: type, args } }
})
const post = (p: string, json: unknown): Request => ({ method: "POST", path: p, json })
const get = (p: string): Request => ({ method: "GET", path: p })
const step = (request: Request, more: Partial<Step> = {}): Step => ({ request, ...more })
const quiet = (request: Request): Step => ({ request, check: false })
const scenario = (group: string, name: string, ...steps: ReadonlyArray<Step>): Scenario => ({ name, group, steps })

/** A 1×1 PNG. */
const PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0)
)
const BUNDLE = zipSync({
  "z/one.txt": strToU8("one\n"),
  "z/two.txt": strToU8("two\n"),
  "z/": new Uint8Array(0),
  "../escape.txt": strToU8("no\n")
})
const jobs = (text: string) => text.replace(/\[(\d+)\][ +-]* \d+/g, "[$1] <pid>")

export const SCENARIOS: ReadonlyArray<Scenario> = [
  // ---- one persistent shell
  scenario("shell", "run: echo, with the real client's body", step(run("echo hi"))),
  scenario("shell", "run: minimal args, no timeout", step(action("run", { command: "echo minimal" }))),
  scenario("shell", "run: cd persists", step(run("cd /tmp && pwd")), step(run("pwd")), quiet(run("cd $WS"))),
  scenario("shell", "run: export persists", quiet(run("export CONF_X=42")), step(run("echo $CONF_X"))),
  scenario("shell", "run: a function persists", quiet(run("conf_f() { echo fn-$1; }")), step(run("conf_f ok"))),
  scenario("shell", "run: a failing command", step(run("ls /nonexistent"))),
  scenario("shell", "run: two commands in one are refused", step(run("echo one\necho two"))),
  scenario("shell", "run: a leading comment counts as a command", step(run("# note\necho a"))),
  scenario("shell", "run: one compound command over lines", step(run("if true; then\necho yes\nfi"))),
  scenario("shell", "run: a here-document", step(run("cat <<EOF\nline1\nEOF"))),
  // Whether tmux's separate Enter reaches bash while it is still busy with the first line (and the terminal echoes
  // it: one more empty line) is timing, on the real server too: runs of empty lines are compared as one.
  scenario(
    "shell",
    "run: what bashlex cannot parse runs line by line",
    step(run("echo $((1+2))\necho x"), { content: (text) => text.replace(/\n{3,}/g, "\n\n") })
  ),
  scenario("shell", "run: tabs, trailing spaces", step(run('printf "a\\tb  \\n  lead\\n"'))),
  scenario("shell", "run: leading blanks of the output are dropped", step(run('printf "  x\\n"'))),
  scenario("shell", "run: carriage returns and colours", step(run('printf "x\\ry\\n\\033[31mred\\033[0m\\n"'))),
  scenario("shell", "run: a final ; is tmux's", step(run("echo hi;"))),
  scenario("shell", "run: find -exec \\; as tmux types it", step(run("find $WS -maxdepth 0 -exec echo {} \\;"))),
  scenario("shell", "run: only a comment", step(run("# nothing to do"))),
  scenario("shell", "run: empty command with nothing running", step(run(""))),
  scenario("shell", "run: input with nothing running", step(run("x", { isInput: true }))),
  scenario("shell", "run: output over 30 000 characters is cut", step(run("seq 1 7000"))),
  scenario("shell", "run: output beyond the pane's history", step(run("seq 1 12000"))),
  scenario(
    "shell",
    "run: a terminal (ls in columns, tty)",
    step(
      run("mkdir -p $WS/cols && touch $WS/cols/a $WS/cols/b $WS/cols/c && ls $WS/cols && tty >/dev/null && echo tty")
    )
  ),
  scenario(
    "shell",
    "run: a background job",
    step(run("sleep 0.1 &"), { content: jobs }),
    step(run("true"), { delayMs: 300, content: jobs })
  ),
  scenario("shell", "run: is_static in a folder", step(action("run", { command: "pwd", is_static: true, cwd: "$WS" }))),
  scenario("shell", "run: a command that is not a string", step(action("run", { command: 5 }))),
  scenario(
    "shell",
    "run: blocking, no timeout, completes",
    step(run("sleep 0.3; echo done", { blocking: true, timeout: null }))
  ),

  // ---- timeouts, input, interrupt (NO_CHANGE_TIMEOUT_SECONDS=1)
  scenario(
    "timeouts",
    "timeout: hard timeout, then not executed, then C-c",
    step(run("sleep 3; echo slept", { timeout: 1, blocking: true })),
    step(run("echo other")),
    step(run("echo one\necho two")),
    step(run("C-c", { isInput: true }))
  ),
  scenario(
    "timeouts",
    "timeout: no new output, then the rest collected",
    step(run("echo start; sleep 2.5; echo late")),
    step(run("", { blocking: true, timeout: 5 }))
  ),
  scenario(
    "timeouts",
    "timeout: input to a running command",
    step(run("read x; echo got $x", { timeout: 0.5, blocking: true })),
    step(run("hello", { isInput: true, blocking: true, timeout: 5 }))
  ),
  // Last of its group. The real server looks at its pane once right after typing: whether bash has echoed
  // `echo next` by then is timing, so only what the answer starts with (the leftover) is compared.
  scenario(
    "timeouts",
    "timeout: leftovers start the next output",
    step(run("echo a; sleep 0.8; echo b", { timeout: 0.4, blocking: true })),
    step(run("echo next"), { delayMs: 1500, content: (text) => text.split("\n")[0]! })
  ),

  // ---- files
  scenario(
    "files",
    "write then read",
    step(action("write", { path: "$WS/notes/a.txt", content: "line 1\nline 2" })),
    step(action("read", { path: "$WS/notes/a.txt" })),
    step(action("read", { path: "$WS/notes/a.txt", start: 1, end: 2 }))
  ),
  scenario(
    "files",
    "write: lines each end with a newline",
    quiet(action("write", { path: "$WS/w/empty.txt", content: "" })),
    step(action("read", { path: "$WS/w/empty.txt" })),
    quiet(action("write", { path: "$WS/w/nl.txt", content: "x\n" })),
    step(action("read", { path: "$WS/w/nl.txt" })),
    quiet(action("write", { path: "$WS/w/nl.txt", content: "r1\nr2\nr3" })),
    step(action("write", { path: "$WS/w/nl.txt", content: "mid", start: 1, end: 2 })),
    step(action("read", { path: "$WS/w/nl.txt" }))
  ),
  scenario(
    "files",
    "read and write: relative to the shell's folder",
    quiet(run("mkdir -p $WS/notes && cd $WS/notes")),
    step(action("write", { path: "rel.txt", content: "relative" })),
    step(action("read", { path: "rel.txt" })),
    quiet(run("cd $WS"))
  ),
  scenario("files", "read: a missing file", step(action("read", { path: "$WS/nope.txt" }))),
  scenario("files", "read: a folder", step(action("read", { path: "$WS" }))),
  scenario(
    "files",
    "read: not UTF-8, binary, CRLF",
    { setup: (ws) => put(ws, "enc/latin1.txt", Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a])) },
    { setup: (ws) => put(ws, "enc/bin.dat", Uint8Array.from([0x61, 0, 0x62, 0, 0x63, 0xff])) },
    { setup: (ws) => put(ws, "enc/crlf.txt", "a\r\nb\rc\n") },
    step(action("read", { path: "$WS/enc/latin1.txt" })),
    step(action("read", { path: "$WS/enc/bin.dat" })),
    step(action("read", { path: "$WS/enc/crlf.txt" }))
  ),
  scenario(
    "files",
    "read: images and PDFs as data URLs",
    { setup: (ws) => put(ws, "media/x.gif", "GIF89a") },
    { setup: (ws) => put(ws, "media/pixel.png", PNG) },
    { setup: (ws) => put(ws, "media/doc.pdf", "%PDF-1.4\n%%EOF\n") },
    step(action("read", { path: "$WS/media/x.gif" })),
    step(action("read", { path: "$WS/media/pixel.png" })),
    step(action("read", { path: "$WS/media/doc.pdf" }))
  ),
  scenario(
    "files",
    "read: oh_aci, with view_range",
    { setup: (ws) => put(ws, "aci/a.txt", "l1\nl2\nl3\n") },
    step(action("read", { path: "$WS/aci/a.txt", impl_source: "oh_aci" })),
    step(action("read", { path: "$WS/aci/a.txt", impl_source: "oh_aci", view_range: [2, 9] })),
    step(action("read", { path: "$WS/aci/a.txt", impl_source: "oh_aci", view_range: [0, 2] })),
    step(action("read", { path: "$WS/aci/a.txt", impl_source: "oh_aci", view_range: [3, 2] }))
  ),
  scenario(
    "files",
    "edit: create, str_replace, insert, undo",
    { setup: (ws) => fs.mkdirSync(path.join(ws, "ed"), { recursive: true }) },
    step(action("edit", { path: "$WS/ed/b.py", command: "create", file_text: "def f():\n    return 1\n" })),
    step(action("edit", { path: "$WS/ed/b.py", command: "str_replace", old_str: "return 1", new_str: "return 2" })),
    step(action("edit", { path: "$WS/ed/b.py", command: "insert", insert_line: 2, new_str: "# end" })),
    step(action("edit", { path: "$WS/ed/b.py", command: "undo_edit" })),
    step(action("read", { path: "$WS/ed/b.py" }))
  ),
  scenario(
    "files",
    "edit: str_replace that matches nothing, or several times",
    { setup: (ws) => put(ws, "ed2/c.txt", "x = 1\ny = 1\n") },
    step(action("edit", { path: "$WS/ed2/c.txt", command: "str_replace", old_str: "nope", new_str: "z" })),
    step(action("edit", { path: "$WS/ed2/c.txt", command: "str_replace", old_str: "= 1", new_str: "= 2" })),
    step(action("edit", { path: "$WS/ed2/c.txt", command: "str_replace", old_str: "  y = 1  ", new_str: " y = 3 " })),
    step(action("edit", { path: "$WS/ed2/c.txt", command: "str_replace", old_str: "x", new_str: "x" }))
  ),
  scenario(
    "files",
    "edit: view a folder and a file",
    { setup: (ws) => put(ws, "tree/sub/deep/f.txt", "f\n") },
    { setup: (ws) => put(ws, "tree/.hidden", "h\n") },
    { setup: (ws) => put(ws, "tree/b.txt", "b\n") },
    step(action("edit", { path: "$WS/tree", command: "view" })),
    step(action("edit", { path: "$WS/tree/b.txt", command: "view" }))
  ),
  scenario(
    "files",
    "edit: refusals",
    { setup: (ws) => put(ws, "ed3/d.txt", "one\ntwo") },
    step(action("edit", { path: "ed3/d.txt", command: "view" })),
    step(action("edit", { path: "$WS/ed3/d.txt", command: "create", file_text: "again" })),
    step(action("edit", { path: "$WS/ed3/missing/e.txt", command: "create", file_text: "x" })),
    step(action("edit", { path: "$WS/ed3/d.txt", command: "undo_edit" })),
    step(action("edit", { path: "$WS/ed3/d.txt", command: "insert", insert_line: 9, new_str: "x" })),
    step(action("edit", { path: "$WS/ed3/d.txt", command: "insert", insert_line: "2x", new_str: "x" })),
    step(action("edit", { path: "$WS/ed3/d.txt", command: "fly" })),
    step(action("edit", { path: "$WS/ed3/d.txt", command: "insert", insert_line: 2, new_str: "three" })),
    step(action("edit", { path: "$WS/ed3/d.txt", impl_source: "llm_based_edit" }))
  ),
  scenario(
    "files",
    "list_files: order, kinds, missing",
    {
      setup: (ws) => {
        for (const dir of ["b", "A", "_u"]) fs.mkdirSync(path.join(ws, "lst", dir), { recursive: true })
        for (const file of ["z.txt", "a.txt", "B.txt", "_x", "~t", "é.txt"]) put(ws, `lst/${file}`, "")
        fs.symlinkSync("nowhere", path.join(ws, "lst", "broken"))
      }
    },
    step(post("/list_files", { path: "lst" })),
    step(post("/list_files", { path: "$WS/lst/b" })),
    step(post("/list_files", { path: "$WS/nowhere" })),
    step(post("/list_files", { path: "$WS/lst/a.txt" })),
    step({ method: "POST", path: "/list_files" }),
    step(post("/list_files", { path: 5 }))
  ),
  scenario(
    "files",
    "upload_file: a file, a zip, refusals; download_files",
    step({
      method: "POST",
      path: "/upload_file?destination=$WS/up",
      multipart: { field: "file", filename: "u.txt", data: "uploaded\n" }
    }),
    step({
      method: "POST",
      path: "/upload_file?destination=$WS/up&recursive=true",
      multipart: { field: "file", filename: "bundle.zip", data: BUNDLE }
    }),
    step(post("/list_files", { path: "$WS/up" })),
    step({
      method: "POST",
      path: "/upload_file?destination=up",
      multipart: { field: "file", filename: "u.txt", data: "x" }
    }),
    step({
      method: "POST",
      path: "/upload_file?destination=$WS/up&recursive=true",
      multipart: { field: "file", filename: "u.txt", data: "x" }
    }),
    step({
      method: "POST",
      path: "/upload_file?destination=$WS/up&recursive=maybe",
      multipart: { field: "file", filename: "u.txt", data: "x" }
    }),
    step({
      method: "POST",
      path: "/upload_file?destination=$WS/up",
      multipart: { field: "other", filename: "u.txt", data: "x" }
    }),
    step({
      method: "POST",
      path: "/upload_file?destination=$WS/up",
      raw: { body: "file=plain", contentType: "application/x-www-form-urlencoded" }
    }),
    step({
      method: "POST",
      path: "/upload_file?destination=$WS/up",
      raw: { body: "garbage", contentType: "multipart/form-data; boundary=xx" }
    }),
    step(get("/download_files?path=$WS/up")),
    step(get("/download_files?path=up")),
    step(get("/download_files?path=$WS/none")),
    step(get("/download_files"))
  ),

  // ---- the HTTP surface
  scenario(
    "http",
    "auth: the session key on every route but /alive and /server_info",
    step({ method: "POST", path: "/execute_action", key: false, json: {} }),
    step({ method: "POST", path: "/list_files", key: "wrong", json: {} }),
    step({ method: "GET", path: "/alive", key: false }),
    step({ method: "GET", path: "/server_info", key: false }),
    step({ method: "GET", path: "/alive/", key: false }),
    step({ method: "GET", path: "/nowhere", key: false }),
    step({ method: "GET", path: "/vscode/connection_token", key: false })
  ),
  scenario(
    "http",
    "routes: 404, 405, trailing slash",
    step(get("/nowhere")),
    step(get("/execute_action")),
    step(post("/alive", {})),
    step({ method: "HEAD", path: "/alive" }),
    step(get("/alive/")),
    step(post("/list_files/", {}))
  ),
  scenario(
    "http",
    "bad bodies: 422 as FastAPI answers",
    step({ method: "POST", path: "/execute_action" }),
    step({ method: "POST", path: "/execute_action", raw: { body: "{bad", contentType: "application/json" } }),
    step(post("/execute_action", {})),
    step(post("/execute_action", { action: 5 })),
    step(post("/execute_action", { action: [] })),
    step(post("/execute_action", [])),
    step({ method: "POST", path: "/execute_action", raw: { body: '{"action":{}}', contentType: "text/plain" } }),
    step(post("/execute_action", { observation: "run", content: "x" }))
  ),
  scenario(
    "http",
    "bad actions: 500 with the real detail",
    step(post("/execute_action", { action: {} })),
    step(action("fly", {})),
    step(post("/execute_action", { action: { action: 5 } })),
    step(action("run", {})),
    step(action("write", {})),
    step(
      post("/execute_action", {
        action: { action: "run", args: { command: "x", timeout: 5, security_risk: -1 }, timeout: 120.0 }
      })
    ),
    step(post("/execute_action", { action: { action: "run", args: [1] } })),
    step(post("/execute_action", { action: { observation: "run", content: "x", extras: { command: "x" } } })),
    step(post("/execute_action", { action: { observation: "error", content: "x" } })),
    step(post("/execute_action", { action: { action: "run", args: { command: "true" }, source: "bogus" } }))
  ),
  scenario(
    "http",
    "other actions: jupyter, browser, agent actions",
    step(action("run_ipython", { code: "1" })),
    step(action("browse", { url: "http://127.0.0.1:9" })),
    step(action("browse_interactive", { browser_actions: "noop()" })),
    step(action("message", { content: "hi" }))
  ),
  scenario(
    "http",
    "vscode token, MCP update, server info",
    step(get("/vscode/connection_token")),
    step(post("/update_mcp_server", [])),
    step(post("/update_mcp_server", {})),
    step(post("/update_mcp_server", [{ name: "a", command: "b" }])),
    step(get("/server_info"))
  ),
  // Last of its group (the only run in it): the command runs, but the answer is an error and the screen is not
  // cleared, so what follows would see its output.
  scenario("http", "run: a timeout that is not a number", step(run("sleep 0.3; echo t", { timeout: "abc" }))),
  scenario(
    "vscode",
    "vscode plugin without VSCODE_PORT: settings written, no token",
    step(get("/vscode/connection_token")),
    step(post("/list_files", {}))
  )
]
