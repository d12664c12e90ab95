/**
 * openhands-aci's editor texts and limits (`openhands_aci/editor/{config,prompts,exceptions,results}.py`), for
 * {@link ActionEditor}.
 *
 * @since 0.2.0
 */
import * as NodePath from "node:path"
import { PyFloat, str } from "./PyWire.js"

/** Lines shown around an edit (`SNIPPET_CONTEXT_WINDOW`). */
export const SNIPPET_CONTEXT_WINDOW = 4
const MAX_RESPONSE_LEN_CHAR = 16_000
/** Files over 10 MB are refused (`MAX_FILE_SIZE_MB`). */
export const MAX_FILE_SIZE = 10 * 1024 * 1024
/** The notice after a file cut to 16 000 characters. */
export const TEXT_FILE_CONTENT_TRUNCATED_NOTICE =
  "<response clipped><NOTE>Due to the max output limit, only part of this file has been shown to you. You should " +
  "retry this tool after you have searched inside the file with `grep -n` in order to find the line numbers of what " +
  "you are looking for.</NOTE>"
/** The notice after a folder listing cut to 16 000 characters. */
export const DIRECTORY_CONTENT_TRUNCATED_NOTICE =
  "<response clipped><NOTE>Due to the max output limit, only part of this directory has been shown to you. You " +
  "should use `ls -la` instead to view large directories incrementally.</NOTE>"
/** Files the editor converts to Markdown (only `view` applies to them). */
export const SUPPORTED_BINARY_EXTENSIONS = [".docx", ".xlsx", ".pptx", ".pdf", ".mp3", ".wav", ".m4a", ".flac"]
/** The editor's commands. */
export const COMMANDS = ["view", "create", "str_replace", "insert", "undo_edit"]

/** What the editor refuses: its message is the observation's text. */
export class ToolError extends Error {}

/** `EditorToolParameterInvalidError`. */
export const invalid = (parameter: string, value: unknown, hint: string) =>
  new ToolError(`Invalid \`${parameter}\` parameter: ${str(value)}. ${hint}`)
/** `EditorToolParameterMissingError`. */
export const missing = (command: string, parameter: string) =>
  new ToolError(`Parameter \`${parameter}\` is required for command: ${command}.`)

/** Python's `len()` of a string (code points). */
const pyLength = (text: string) => {
  let n = 0
  for (const _ of text) n++
  return n
}

/** `maybe_truncate`: over 16 000 characters, cut and noticed. */
export const maybeTruncate = (content: string, notice: string) =>
  pyLength(content) <= MAX_RESPONSE_LEN_CHAR
    ? content
    : Array.from(content).slice(0, MAX_RESPONSE_LEN_CHAR).join("") + notice

/** `Path.suffix`, lower-cased. */
export const suffixOf = (path: string) => {
  const name = NodePath.posix.basename(path)
  const dot = name.lastIndexOf(".")
  return dot <= 0 ? "" : name.slice(dot).toLowerCase()
}

/** Python's `str.strip()`. */
export const pyStrip = (text: string) => text.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/gu, "")

/**
 * `_execute_file_editor`'s reading of `insert_line`: a number, a string Python's `int()` takes, or the error text.
 *
 * @since 0.2.0
 */
export const parseInsertLine = (raw: unknown): number | undefined | { readonly error: string } => {
  if (typeof raw === "string") {
    const trimmed = raw.trim().replace(/(?<=\d)_(?=\d)/g, "")
    if (!/^[+-]?\d+$/.test(trimmed))
      return { error: `ERROR:\nInvalid insert_line value: '${raw}'. Expected an integer.` }
    return Number(trimmed)
  }
  if (typeof raw === "number") return raw
  if (raw instanceof PyFloat) return Math.trunc(raw.value)
  if (typeof raw === "boolean") return Number(raw)
  return undefined
}
