/**
 * openhands-aci's `str_replace_editor` (`OHEditor`, `openhands_aci/editor/editor.py`) as the real action server
 * runs it (`_execute_file_editor`, linting off): `view` of a file or a folder, `create`, `str_replace`, `insert` and
 * `undo_edit`, with the real texts, line numbering, snippets, truncation and per-file history (10 entries).
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as NodePath from "node:path"
import type { FileRoot } from "./ActionFiles.js"
import { hostPath, isBinary, lines, osErrorText, purePath } from "./ActionFiles.js"
import {
  COMMANDS,
  DIRECTORY_CONTENT_TRUNCATED_NOTICE,
  MAX_FILE_SIZE,
  SNIPPET_CONTEXT_WINDOW,
  SUPPORTED_BINARY_EXTENSIONS,
  TEXT_FILE_CONTENT_TRUNCATED_NOTICE,
  ToolError,
  invalid,
  maybeTruncate,
  missing,
  parseInsertLine,
  pyStrip,
  suffixOf
} from "./ActionEditorParts.js"
import { str } from "./PyWire.js"

/**
 * The result of one editor call, as `_execute_file_editor` returns it: the text for the observation, and the old
 * and new file contents its diff is computed from.
 *
 * @since 0.2.0
 */
export interface EditorResult {
  readonly text: string
  readonly oldContent: string | null
  readonly newContent: string | null
}

/**
 * The editor's arguments (raw JSON values).
 *
 * @since 0.2.0
 */
export interface EditorCall {
  readonly command: unknown
  readonly path: string
  readonly fileText?: unknown
  readonly viewRange?: unknown
  readonly oldStr?: unknown
  readonly newStr?: unknown
  readonly insertLine?: unknown
}

/**
 * One server's editor: its file history lives as long as the server.
 *
 * @since 0.2.0
 */
export class Editor {
  private readonly history = new Map<string, Array<string>>()
  /** Files read as Latin-1 (not UTF-8) are written back as Latin-1, as the real editor keeps a file's encoding. */
  private readonly latin1 = new Set<string>()

  constructor(
    private readonly view: FileRoot,
    private readonly workspaceRoot: string
  ) {}

  private host(path: string) {
    return hostPath(this.view, path)
  }

  private stat(path: string) {
    try {
      return fs.statSync(this.host(path))
    } catch {
      return undefined
    }
  }

  private validateFile(path: string) {
    const stat = this.stat(path)
    if (stat === undefined || !stat.isFile()) return
    if (stat.size > MAX_FILE_SIZE) {
      const mb = (stat.size / 1024 / 1024).toFixed(1)
      throw new ToolError(
        `File validation failed for ${path}: File is too large (${mb}MB). Maximum allowed size is 10MB.`
      )
    }
    if (SUPPORTED_BINARY_EXTENSIONS.includes(suffixOf(path))) return
    if (isBinary(this.host(path))) {
      throw new ToolError(
        `File validation failed for ${path}: File appears to be binary and this file type cannot be read or edited by this tool.`
      )
    }
  }

  private readFile(path: string, start?: number, end?: number): string {
    this.validateFile(path)
    let text: string
    try {
      const bytes = fs.readFileSync(this.host(path))
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
      } catch {
        text = bytes.toString("latin1")
        this.latin1.add(path)
      }
    } catch (error) {
      throw new ToolError(`Ran into ${osErrorText(error, path)} while trying to read ${path}`)
    }
    text = text.replace(/\r\n?/g, "\n")
    if (start === undefined || end === undefined) return text
    return lines(text)
      .filter((_, i) => i + 1 >= start && i + 1 <= end)
      .join("")
  }

  private writeFile(path: string, text: string) {
    this.validateFile(path)
    try {
      fs.writeFileSync(this.host(path), text, this.latin1.has(path) ? "latin1" : "utf8")
    } catch (error) {
      throw new ToolError(`Ran into ${osErrorText(error, path)} while trying to write to ${path}`)
    }
  }

  private addHistory(path: string, content: string) {
    const entries = this.history.get(path) ?? []
    entries.push(content)
    while (entries.length > 10) entries.shift()
    this.history.set(path, entries)
  }

  private makeOutput(snippet: string, description: string, startLine = 1) {
    const numbered = maybeTruncate(snippet, TEXT_FILE_CONTENT_TRUNCATED_NOTICE)
      .split("\n")
      .map((line, i) => `${String(i + startLine).padStart(6)}\t${line}`)
      .join("\n")
    return `Here's the result of running \`cat -n\` on ${description}:\n${numbered}\n`
  }

  private validatePath(command: unknown, path: string) {
    if (!path.startsWith("/")) {
      let hint = "The path should be an absolute path, starting with `/`."
      const suggested = purePath(`${this.workspaceRoot}/${path}`)
      if (this.stat(suggested) !== undefined) hint += ` Maybe you meant ${suggested}?`
      throw invalid("path", path, hint)
    }
    const stat = this.stat(path)
    if (command === "create" && stat !== undefined) {
      throw invalid("path", path, `File already exists at: ${path}. Cannot overwrite files using command \`create\`.`)
    }
    if (command !== "create" && stat === undefined) {
      throw invalid("path", path, `The path ${path} does not exist. Please provide a valid path.`)
    }
    if (command !== "view") {
      if (stat?.isDirectory() === true) {
        throw invalid(
          "path",
          path,
          `The path ${path} is a directory and only the \`view\` command can be used on directories.`
        )
      }
      if (SUPPORTED_BINARY_EXTENSIONS.includes(suffixOf(path))) {
        throw invalid(
          "path",
          path,
          `The path ${path} points to a binary file (${NodePath.posix.extname(path)}) and only the \`view\` command can be used on supported binary files.`
        )
      }
    }
  }

  /** `find -L DIR -maxdepth 2`, hidden entries left out, sorted as `sort` does in C.UTF-8. */
  private listDirectory(path: string): { readonly listing: Array<string>; readonly hidden: number } {
    const found: Array<string> = [path]
    let hidden = 0
    const walk = (dir: string, depth: number) => {
      let names: Array<string>
      try {
        names = fs.readdirSync(this.host(dir))
      } catch {
        return
      }
      for (const name of names) {
        const child = `${dir}/${name}`
        if (depth === 1 && name.startsWith(".")) hidden++
        if (!name.startsWith(".")) found.push(child)
        if (depth < 2 && !name.startsWith(".") && this.stat(child)?.isDirectory() === true) walk(child, depth + 1)
      }
    }
    walk(path, 1)
    found.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    return { listing: found, hidden }
  }

  private viewPath(path: string, viewRange: unknown): EditorResult {
    if (this.stat(path)?.isDirectory() === true) {
      if (Array.isArray(viewRange) && viewRange.length > 0) {
        throw invalid(
          "view_range",
          viewRange,
          "The `view_range` parameter is not allowed when `path` points to a directory."
        )
      }
      const { hidden, listing } = this.listDirectory(path)
      const stdout = maybeTruncate(`${listing.join("\n")}\n`, DIRECTORY_CONTENT_TRUNCATED_NOTICE).trim()
      const formatted = (stdout === "" ? [] : stdout.split("\n")).map((p) =>
        this.stat(p)?.isDirectory() === true ? `${p}/` : p
      )
      let text = `Here's the files and directories up to 2 levels deep in ${path}, excluding hidden items:\n${formatted.join("\n")}`
      if (hidden > 0) {
        text += `\n\n${hidden} hidden files/directories in this directory are excluded. You can use 'ls -la ${path}' to see them.`
      }
      return { text, oldContent: null, newContent: null }
    }
    this.validateFile(path)
    if (SUPPORTED_BINARY_EXTENSIONS.includes(suffixOf(path))) {
      throw new ToolError(
        `Error in converting file to Markdown: the built-in server does not convert ${suffixOf(path)} files. Please use Python code to read ${path}`
      )
    }
    const numLines = lines(this.readFile(path)).length
    if (viewRange === null || viewRange === undefined || (Array.isArray(viewRange) && viewRange.length === 0)) {
      return { text: this.makeOutput(this.readFile(path), path), oldContent: null, newContent: null }
    }
    const isInt = (v: unknown) => (typeof v === "number" && Number.isInteger(v)) || typeof v === "boolean"
    if (!Array.isArray(viewRange) || viewRange.length !== 2 || !viewRange.every(isInt)) {
      throw invalid("view_range", viewRange, "It should be a list of two integers.")
    }
    const start = Number(viewRange[0])
    let end = Number(viewRange[1])
    if (start < 1 || start > numLines) {
      throw invalid(
        "view_range",
        viewRange,
        `Its first element \`${start}\` should be within the range of lines of the file: [1, ${numLines}].`
      )
    }
    let warning: string | undefined
    if (end === -1) end = numLines
    else if (end > numLines) {
      warning = `We only show up to ${numLines} since there're only ${numLines} lines in this file.`
      end = numLines
    }
    if (end < start) {
      throw invalid(
        "view_range",
        viewRange,
        `Its second element \`${end}\` should be greater than or equal to the first element \`${start}\`.`
      )
    }
    const content = this.readFile(path, start, end).split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/)
    if (content[content.length - 1] === "") content.pop()
    const output = this.makeOutput(content.join("\n"), path, start)
    return { text: warning === undefined ? output : `NOTE: ${warning}\n${output}`, oldContent: null, newContent: null }
  }

  private strReplace(path: string, oldGiven: string, newGiven: unknown): EditorResult {
    this.validateFile(path)
    let oldStr = oldGiven
    let newStr = typeof newGiven === "string" ? newGiven : ""
    const content = this.readFile(path)
    const find = (needle: string) => {
      const found: Array<number> = []
      if (needle === "") {
        for (let i = 0; i <= content.length; i++) found.push(i)
        return found
      }
      for (let i = content.indexOf(needle); i !== -1; i = content.indexOf(needle, i + needle.length)) found.push(i)
      return found
    }
    let occurrences = find(oldStr)
    if (occurrences.length === 0) {
      oldStr = pyStrip(oldStr)
      newStr = pyStrip(newStr)
      occurrences = find(oldStr)
      if (occurrences.length === 0) {
        throw new ToolError(`No replacement was performed, old_str \`${oldStr}\` did not appear verbatim in ${path}.`)
      }
    }
    const lineOf = (index: number) => content.slice(0, index).split("\n").length
    if (occurrences.length > 1) {
      const numbers = [...new Set(occurrences.map(lineOf))].sort((a, b) => a - b)
      throw new ToolError(
        `No replacement was performed. Multiple occurrences of old_str \`${oldStr}\` in lines [${numbers.join(", ")}]. Please ensure it is unique.`
      )
    }
    const index = occurrences[0]!
    const replacementLine = lineOf(index)
    const updated = content.slice(0, index) + newStr + content.slice(index + oldStr.length)
    this.writeFile(path, updated)
    this.addHistory(path, content)
    const startLine = Math.max(0, replacementLine - SNIPPET_CONTEXT_WINDOW)
    const endLine = replacementLine + SNIPPET_CONTEXT_WINDOW + newStr.split("\n").length - 1
    const snippet = this.readFile(path, startLine + 1, endLine)
    const text =
      `The file ${path} has been edited. ` +
      this.makeOutput(snippet, `a snippet of ${path}`, startLine + 1) +
      "Review the changes and make sure they are as expected. Edit the file again if necessary."
    return { text, oldContent: content, newContent: updated }
  }

  private insert(path: string, insertLine: number, newStr: string): EditorResult {
    this.validateFile(path)
    const original = lines(this.readFile(path))
    const numLines = original.length
    if (insertLine < 0 || insertLine > numLines) {
      throw invalid("insert_line", insertLine, `It should be within the range of allowed values: [0, ${numLines}]`)
    }
    const newLines = newStr.split("\n")
    const updated = [
      ...original.slice(0, insertLine),
      ...newLines.map((line) => `${line}\n`),
      ...original.slice(insertLine)
    ].join("")
    this.writeFile(path, updated)
    // The real editor writes a temporary file and moves it over the original: the file ends up with mode 600.
    fs.chmodSync(this.host(path), 0o600)
    const startLine = Math.max(0, insertLine - SNIPPET_CONTEXT_WINDOW)
    const endLine = Math.min(numLines + newLines.length, insertLine + SNIPPET_CONTEXT_WINDOW + newLines.length)
    const snippet = this.readFile(path, startLine + 1, endLine)
    const before = original.join("")
    this.addHistory(path, before)
    const after = this.readFile(path)
    const text =
      `The file ${path} has been edited. ` +
      this.makeOutput(snippet, "a snippet of the edited file", Math.max(1, insertLine - SNIPPET_CONTEXT_WINDOW + 1)) +
      "Review the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the file again if necessary."
    return { text, oldContent: before, newContent: after }
  }

  private undo(path: string): EditorResult {
    const current = this.readFile(path)
    const previous = this.history.get(path)?.pop()
    if (previous === undefined) throw new ToolError(`No edit history found for ${path}.`)
    this.writeFile(path, previous)
    return {
      text: `Last edit to ${path} undone successfully. ${this.makeOutput(previous, path)}`,
      oldContent: current,
      newContent: previous
    }
  }

  private call(input: EditorCall, insertLine: number | undefined): EditorResult {
    const path = purePath(input.path)
    const command = input.command
    this.validatePath(command, path)
    if (command === "view") return this.viewPath(path, input.viewRange)
    if (command === "create") {
      if (typeof input.fileText !== "string") throw missing("create", "file_text")
      this.writeFile(path, input.fileText)
      this.addHistory(path, input.fileText)
      return { text: `File created successfully at: ${path}`, oldContent: null, newContent: input.fileText }
    }
    if (command === "str_replace") {
      if (typeof input.oldStr !== "string") throw missing("str_replace", "old_str")
      if (input.newStr === input.oldStr) {
        throw invalid(
          "new_str",
          input.newStr,
          "No replacement was performed. `new_str` and `old_str` must be different."
        )
      }
      return this.strReplace(path, input.oldStr, input.newStr)
    }
    if (command === "insert") {
      if (insertLine === undefined) throw missing("insert", "insert_line")
      if (typeof input.newStr !== "string") throw missing("insert", "new_str")
      return this.insert(path, insertLine, input.newStr)
    }
    if (command === "undo_edit") return this.undo(path)
    throw new ToolError(
      `Unrecognized command ${str(command)}. The allowed commands for the oh_editor tool are: ${COMMANDS.join(", ")}`
    )
  }

  /**
   * `_execute_file_editor`: the editor's output, or `ERROR:\n<message>` for what it refuses.
   *
   * @since 0.2.0
   */
  execute(input: EditorCall): EditorResult {
    const insertLine = parseInsertLine(input.insertLine)
    if (typeof insertLine === "object") return { text: insertLine.error, oldContent: null, newContent: null }
    try {
      const result = this.call(input, insertLine)
      return result.text === "" ? { text: "", oldContent: null, newContent: null } : result
    } catch (error) {
      if (error instanceof ToolError) return { text: `ERROR:\n${error.message}`, oldContent: null, newContent: null }
      throw error
    }
  }
}
