/**
 * The built-in action server's file work, done in the server's own process as the real server does it in its own:
 * `read`, `write`, `list_files`, `upload_file` and `download_files` (`runtime/action_execution_server.py`,
 * `runtime/utils/files.py`), with binaryornot's test for binary files. Every path is a path as the sandbox sees it,
 * resolved with {@link SandboxPaths.resolveInside} under the sandbox's root, so neither an absolute path nor a
 * symbolic link reaches a host file outside it; observations show the sandbox's paths.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as NodePath from "node:path"
import { resolveInside } from "./SandboxPaths.js"
import type { Observation } from "./ActionObservations.js"
import { errorObservation, readObservation, writeObservation } from "./ActionObservations.js"
import { reprStr } from "./PyWire.js"

/**
 * Where the server's paths live: `root` is the host folder that is `/` for them (`/` itself when the server runs
 * inside the sandbox).
 *
 * @since 0.2.0
 */
export interface FileRoot {
  readonly root: string
}

/**
 * The host path of a sandbox path (absolute, or relative to `cwd`).
 *
 * @since 0.2.0
 */
export const hostPath = (view: FileRoot, path: string, cwd = "/"): string => resolveInside(view.root, path, cwd)

/**
 * `str(pathlib.PurePosixPath(path))`: repeated slashes and `.` parts dropped, no trailing slash (`..` is kept).
 *
 * @since 0.2.0
 */
export const purePath = (path: string): string => {
  if (path === "") return "."
  const lead = path.startsWith("//") && !path.startsWith("///") ? "//" : path.startsWith("/") ? "/" : ""
  const parts = path.split("/").filter((part) => part !== "" && part !== ".")
  const joined = lead + parts.join("/")
  return joined === "" ? "." : joined
}

/**
 * `_resolve_path`: a relative path under the working folder, as pathlib joins it.
 *
 * @since 0.2.0
 */
export const joinPath = (cwd: string, path: string): string => purePath(path.startsWith("/") ? path : `${cwd}/${path}`)

const PRINTABLE_ASCII = new Set([0x0a, 0x0d, 0x09, 0x0c, 0x08, ...Array.from({ length: 95 }, (_, i) => i + 32)])

/** chardet's verdict, roughly: UTF-8 with enough multi-byte characters is detected with confidence > 0.9. */
const detectedAsUtf8 = (bytes: Uint8Array): boolean => {
  let multi = 0
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!
    const size = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0
    if (size === 0) return false
    for (let k = 1; k < size; k++)
      if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i + k >= bytes.length && i > 0 && multi >= 4
    if (size > 1) multi++
    i += size
  }
  return multi >= 4
}

/**
 * binaryornot's `is_binary` on a host file: `.pyc`, or a first KiB that looks binary (control characters, NUL or
 * 0xFF bytes) and is not text chardet recognises. A file that cannot be opened is not binary.
 *
 * @since 0.2.0
 */
export const isBinary = (file: string): boolean => {
  if (file.endsWith(".pyc")) return true
  let chunk: Uint8Array
  try {
    const fd = fs.openSync(file, "r")
    try {
      const buffer = Buffer.alloc(1024)
      chunk = buffer.subarray(0, fs.readSync(fd, buffer, 0, 1024, 0))
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return false
  }
  if (chunk.length === 0) return false
  let low = 0
  let high = 0
  for (const b of chunk) {
    if (!PRINTABLE_ASCII.has(b)) low++
    if (b < 127) high++
  }
  const ratio1 = low / chunk.length
  const ratio2 = high / chunk.length
  const likely = (ratio1 > 0.3 && ratio2 < 0.05) || (ratio1 > 0.8 && ratio2 > 0.8)
  const decodable = detectedAsUtf8(chunk)
  if (likely) return !decodable
  if (decodable) return false
  return chunk.includes(0x00) || chunk.includes(0xff)
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * A file's text as Python reads it in text mode: strict UTF-8, universal newlines (`\r\n` and `\r` become `\n`).
 * Throws a TypeError for bytes that are not UTF-8.
 *
 * @since 0.2.0
 */
export const readText = (file: string): string => utf8.decode(fs.readFileSync(file)).replace(/\r\n?/g, "\n")

/** Python's `readlines()` of a text: the lines with their `\n`. */
export const lines = (text: string): Array<string> => text.split(/(?<=\n)/).filter((line) => line !== "")

const pySlice = (list: ReadonlyArray<string>, start?: number, end?: number) => list.slice(start, end)

/** `read_lines` (`runtime/utils/files.py`). */
const readLines = (all: ReadonlyArray<string>, start: number, end: number): ReadonlyArray<string> => {
  let s = Math.min(Math.max(start, 0), all.length)
  let e = end === -1 ? -1 : Math.max(end, 0)
  e = Math.min(e, all.length)
  if (e === -1) return s === 0 ? all : pySlice(all, s)
  const n = all.length
  const begin = Math.max(0, Math.min(s, n - 2))
  e = e > n ? -1 : Math.max(begin + 1, e)
  s = begin
  return pySlice(all, s, e)
}

/** `insert_lines`. */
const insertLines = (insert: ReadonlyArray<string>, original: ReadonlyArray<string>, start: number, end: number) => [
  ...(start === 0 ? [""] : pySlice(original, 0, start)),
  ...insert.map((line) => `${line}\n`),
  ...(end === -1 ? [""] : pySlice(original, end))
]

const errno = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

const asInt = (value: unknown, fallback: number) =>
  typeof value === "number" && Number.isInteger(value) ? value : fallback

const MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  bmp: "image/bmp",
  gif: "image/gif",
  mp4: "video/mp4",
  webm: "video/webm",
  ogg: "audio/ogg"
}

const extension = (path: string) => NodePath.posix.extname(path).slice(1).toLowerCase()

/**
 * `read` (the default implementation): a file's text, line range `start`/`end`, relative paths from the shell's
 * current folder; images, PDFs and videos as `data:` URLs. The binary check comes first.
 *
 * @since 0.2.0
 */
export const readFile = (view: FileRoot, path: string, cwd: string, start: unknown, end: unknown): Observation => {
  const filepath = joinPath(cwd, path)
  const host = hostPath(view, filepath)
  const lower = filepath.toLowerCase()
  try {
    const media = /\.(png|jpg|jpeg|bmp|gif)$/.test(lower)
      ? (MIME[extension(filepath)] ?? "image/png")
      : lower.endsWith(".pdf")
        ? "application/pdf"
        : /\.(mp4|webm|ogg)$/.test(lower)
          ? (MIME[extension(filepath)] ?? "video/mp4")
          : undefined
    if (media !== undefined) {
      const data = fs.readFileSync(host)
      return readObservation(filepath, `data:${media};base64,${data.toString("base64")}`, "default")
    }
    const text = readText(host)
    return readObservation(filepath, readLines(lines(text), asInt(start, 0), asInt(end, -1)).join(""), "default")
  } catch (error) {
    if (error instanceof TypeError) return errorObservation(`File could not be decoded as utf-8: ${filepath}.`)
    if (errno(error) === "EISDIR") return errorObservation(`Path is a directory: ${filepath}. You can only read files`)
    return errorObservation(`File not found: ${filepath}. Your current working directory is ${cwd}.`)
  }
}

/**
 * `write`: `content` stored as lines, each ending in `\n` (over lines `start`…`end` of an existing file, the whole
 * file by default); missing folders created; a new file gets mode 664.
 *
 * @since 0.2.0
 */
export const writeFile = (view: FileRoot, path: string, content: string, cwd: string, start: unknown, end: unknown) => {
  const filepath = joinPath(cwd, path)
  const host = hostPath(view, filepath)
  const insert = content.split("\n")
  const dir = NodePath.dirname(host)
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true })
  const exists = fs.existsSync(host)
  try {
    if (exists && fs.statSync(host).isDirectory()) {
      return errorObservation(`Path is a directory: ${filepath}. You can only write to files`)
    }
    const text = exists
      ? insertLines(insert, lines(readText(host)), asInt(start, 0), asInt(end, -1)).join("")
      : insert.map((line) => `${line}\n`).join("")
    fs.writeFileSync(host, text)
    if (!exists) fs.chmodSync(host, 0o664)
  } catch (error) {
    if (error instanceof TypeError) return errorObservation(`File could not be decoded as utf-8: ${filepath}`)
    if (errno(error) === "ENOENT") return errorObservation(`File not found: ${filepath}`)
    throw error
  }
  return writeObservation(filepath)
}

const codePointCompare = (a: string, b: string) => {
  const x = Array.from(a)
  const y = Array.from(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

/**
 * `list_files`: the entries of a folder (absolute, or relative to the working folder), folders first with a
 * trailing `/`, each group sorted by Python's `str.lower()`; broken links dropped; [] for a missing path or a file.
 *
 * @since 0.2.0
 */
export const listFiles = (view: FileRoot, path: string | null, workDir: string): Array<string> => {
  const full = path === null ? workDir : path.startsWith("/") ? path : NodePath.posix.join(workDir, path)
  const host = hostPath(view, full)
  let names: Array<string>
  try {
    if (!fs.statSync(host).isDirectory()) return []
    names = fs.readdirSync(host)
  } catch {
    return []
  }
  const directories: Array<string> = []
  const files: Array<string> = []
  for (const name of names) {
    let stat: fs.Stats
    try {
      stat = fs.statSync(hostPath(view, NodePath.posix.join(full, name)))
    } catch {
      continue
    }
    if (stat.isDirectory()) directories.push(`${name}/`)
    else files.push(name)
  }
  const byLower = (a: string, b: string) => codePointCompare(a.toLowerCase(), b.toLowerCase())
  return [...directories.sort(byLower), ...files.sort(byLower)]
}

/**
 * Python's text of an `OSError` for a path: `[Errno 2] No such file or directory: '/x'`.
 *
 * @since 0.2.0
 */
export const osErrorText = (error: unknown, path: string): string => {
  const e = error as NodeJS.ErrnoException
  const messages: Record<string, readonly [number, string]> = {
    ENOENT: [2, "No such file or directory"],
    EACCES: [13, "Permission denied"],
    EEXIST: [17, "File exists"],
    ENOTDIR: [20, "Not a directory"],
    EISDIR: [21, "Is a directory"],
    ELOOP: [40, "Too many levels of symbolic links"]
  }
  const known = e?.code === undefined ? undefined : messages[e.code]
  return known === undefined ? String(e?.message ?? e) : `[Errno ${known[0]}] ${known[1]}: ${reprStr(path)}`
}
