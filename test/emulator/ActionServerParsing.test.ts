/**
 * The built-in server's Python-side pieces against answers computed with OpenHands' own dependencies
 * (`reference/openhands-python.json`: bashlex 0.18 through the real `split_bash_commands` and
 * `escape_bash_special_chars`, Python 3.11's `json`, `difflib` and `repr`), and the terminal screen.
 */
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { clearToPrompt, feed, makeScreen, paneContent } from "../../src/emulator/ActionScreen.js"
import { NO_COMMAND_ERROR, escapeBashSpecialChars, splitBashCommands, tmuxKeys } from "../../src/emulator/BashSplit.js"
import { getDiff } from "../../src/emulator/Difflib.js"
import { PyDict, PyFloat, PyJsonError, loadsJson, repr } from "../../src/emulator/PyWire.js"

interface Reference {
  readonly split: ReadonlyArray<readonly [string, ReadonlyArray<string>]>
  readonly escape: ReadonlyArray<readonly [string, string]>
  readonly diff: ReadonlyArray<readonly [string, string, string]>
  readonly json_errors: ReadonlyArray<readonly [string, string | null, number | null]>
  readonly repr: ReadonlyArray<readonly [string | { readonly float: number }, string]>
}

const reference: Reference = JSON.parse(
  fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "reference/openhands-python.json"), "utf8")
)

describe("split_bash_commands and escape_bash_special_chars, as with bashlex", () => {
  it.each(reference.split)("split %j", (command, expected) => {
    expect(splitBashCommands(command)).toEqual(expected)
  })

  it.each(reference.escape)("escape %j", (command, expected) => {
    expect(escapeBashSpecialChars(command)).toEqual(expected === "ATTRIBUTE_ERROR" ? undefined : expected)
  })

  it("a command with only a comment is bashlex's AttributeError", () => {
    expect(NO_COMMAND_ERROR).toBe("'str' object has no attribute 'kind'")
  })

  it("tmux send-keys: a final ; is tmux's separator, \\; becomes ;, key names are keys", () => {
    expect(tmuxKeys("echo hi;")).toBe("echo hi")
    expect(tmuxKeys("find . -exec echo {} \\\\;")).toBe("find . -exec echo {} \\;")
    expect(tmuxKeys("C-c")).toBe("\x03")
    expect(tmuxKeys("C-d")).toBe("\x04")
    expect(tmuxKeys("Enter")).toBe("\r")
    expect(tmuxKeys("echo C-c")).toBe("echo C-c")
  })
})

describe("Python's json.loads, repr and difflib", () => {
  it.each(reference.json_errors)("json.loads(%j)", (text, msg, pos) => {
    const parsed = loadsJson(text)
    if (msg === null) expect(parsed).not.toBeInstanceOf(PyJsonError)
    else expect(parsed).toEqual(new PyJsonError(msg, pos!))
  })

  it("keeps a dict's key order, floats apart from ints, and reads NaN", () => {
    const parsed = loadsJson('{"2": 1, "1": 1.0, "n": NaN, "big": 12345678901234567890}')
    expect(parsed).not.toBeInstanceOf(PyJsonError)
    const dict = (parsed as { value: PyDict }).value
    expect([...dict.map.keys()]).toEqual(["2", "1", "n", "big"])
    expect(repr(dict)).toBe("{'2': 1, '1': 1.0, 'n': nan, 'big': 12345678901234567890}")
  })

  it.each(reference.repr)("repr(%j)", (value, expected) => {
    expect(repr(typeof value === "string" ? value : new PyFloat(value.float))).toBe(expected)
  })

  it.each(reference.diff)("get_diff(%j, %j)", (a, b, expected) => {
    expect(getDiff(a, b, "f")).toBe(expected)
  })

  it("get_diff with difflib's autojunk (popular lines of a 200+ line file are junk)", () => {
    const a = Array.from({ length: 300 }, (_, i) => String(i % 7))
    const b = Array.from({ length: 300 }, (_, i) => String((i + 1) % 7))
    const expected = ["--- f", "+++ f", "@@ -1,300 +1,300 @@", ...a.map((l) => `-${l}`), ...b.map((l) => `+${l}`)]
    expect(getDiff(a.join("\n"), b.join("\n"), "f")).toBe(expected.join("\n"))
  })
})

describe("the screen, as tmux's capture-pane -J shows it", () => {
  it("carriage returns, backspaces, tabs, colours, erase to end of line; trailing blanks trimmed", () => {
    const screen = makeScreen()
    feed(screen, "abc\rX\r\n")
    feed(screen, "a\tb  \r\n")
    feed(screen, "\x1b[31mred\x1b[0m\x1b[?2004h\r\n")
    feed(screen, "12345\b\b\x1b[K\r\n")
    feed(screen, "\x1b]0;title\x07after\r\n\r\n\r\n")
    expect(paneContent(screen)).toBe("Xbc\na       b\nred\n123\nafter")
  })

  it("an escape sequence split across two chunks is still understood", () => {
    const screen = makeScreen()
    feed(screen, "ab\x1b[")
    feed(screen, "2Dz\r\n")
    expect(paneContent(screen)).toBe("zb")
  })

  it("a line over 1000 columns wraps and is joined back", () => {
    const screen = makeScreen()
    feed(screen, `${"x".repeat(1500)}\r\nnext\r\n`)
    expect(paneContent(screen)).toBe(`${"x".repeat(1500)}\nnext`)
    expect(screen.rows.length).toBe(4)
  })

  it("history: 1000 rows on screen plus 10 000, a tenth dropped at once when full", () => {
    const screen = makeScreen()
    for (let i = 1; i <= 11_001; i++) feed(screen, `${i}\r\n`)
    const lines = paneContent(screen).split("\n")
    expect(lines.length).toBe(10_001)
    expect(lines[0]).toBe("1001")
  })

  it("clearing leaves the prompt at the top", () => {
    const screen = makeScreen()
    feed(screen, "old output\r\n")
    clearToPrompt(screen, "\n###PS1JSON###\n{}\n###PS1END###\n")
    expect(paneContent(screen)).toBe("\n###PS1JSON###\n{}\n###PS1END###")
  })
})
