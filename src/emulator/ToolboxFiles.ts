/**
 * The daemon's file routes that need no transfer: list, info, create folder, delete, move, permissions, find in
 * files, search by name and replace in files. They run in the emulator's process on the sandbox folder, every path
 * resolved as the sandbox would resolve it (relative to the user's home, `..` stopping at the sandbox root, symbolic
 * links followed inside it), so nothing outside the sandbox folder is ever read or written.
 *
 * @since 0.2.0
 */
import { HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import type { Stats } from "node:fs"
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs"
import { readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as NodePath from "node:path"
import { HttpFailure } from "./Dto.js"
import { json } from "./Handler.js"
import { SANDBOX_UID } from "./Isolation.js"
import { fileInfo, globMatch } from "./ToolboxFileInfo.js"
import type { FileInfo } from "./ToolboxFileInfo.js"
import { daemonFailure, fsFailure, invalid } from "./ToolboxHttp.js"
import type { Target } from "./ToolboxHttp.js"

type Handler = (
  target: Target,
  query: URLSearchParams
) => Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure>

const attempt = <A>(f: () => A, onError: (error: unknown) => HttpFailure) =>
  Effect.try({ try: f, catch: (error) => (error instanceof HttpFailure ? error : onError(error)) })

/** The daemon answers some failures with 400 whatever their cause. */
const as400 = (failure: HttpFailure) => new HttpFailure({ status: 400, detail: failure.detail, code: "BAD_REQUEST" })

const required = (query: URLSearchParams, name: string, message = `${name} is required`) => {
  const value = query.get(name) ?? ""
  return value === "" ? Effect.fail(invalid(message)) : Effect.succeed(value)
}

/** Visits `root` and everything below it as Go's `filepath.Walk` does: lexical order, links not followed. */
const walk = (hostRoot: string, shownRoot: string, visit: (host: string, shown: string, stat: Stats) => void) => {
  const go = (host: string, shown: string) => {
    let stat: Stats
    try {
      stat = lstatSync(host)
    } catch {
      return
    }
    visit(host, shown, stat)
    if (!stat.isDirectory()) return
    let names: Array<string>
    try {
      names = readdirSync(host).sort()
    } catch {
      return
    }
    for (const name of names) go(NodePath.join(host, name), NodePath.posix.join(shown, name))
  }
  go(hostRoot, shownRoot)
}

/** `GET /files?path=&depth=`: the entries of a folder (and of its sub-folders, `depth` levels deep). */
export const listFiles: Handler = (target, query) =>
  Effect.gen(function* () {
    const path = query.get("path") || "."
    const depthText = query.get("depth")
    const depth = depthText === null || depthText === "" ? 1 : Number(depthText)
    if (!Number.isInteger(depth) || depth < 1) return yield* invalid("depth must be an integer >= 1")
    const entries: Array<FileInfo> = []
    const list = (shown: string, level: number, top: boolean): void => {
      let names: Array<string>
      try {
        names = readdirSync(target.resolve(shown)).sort()
      } catch (error) {
        if (top) throw fsFailure(error, "open", path)
        return
      }
      for (const name of names) {
        const child = NodePath.posix.join(shown, name)
        let info: FileInfo
        try {
          info = fileInfo(target.resolve(child), name, target.absolute(child))
        } catch {
          continue
        }
        entries.push(info)
        if (info.isDir && level < depth) list(child, level + 1, false)
      }
    }
    yield* attempt(
      () => list(path, 1, true),
      (error) => fsFailure(error, "open", path)
    )
    return json(entries)
  })

/** `GET /files/info?path=`. */
export const getFileInfo: Handler = (target, query) =>
  Effect.gen(function* () {
    const path = yield* required(query, "path")
    const info = yield* attempt(
      () => fileInfo(target.resolve(path), NodePath.posix.basename(target.absolute(path)) || "/"),
      (error) => fsFailure(error, "stat", path)
    )
    return json(info)
  })

const parseMode = (text: string) =>
  /^[0-7]+$/.test(text) && Number.parseInt(text, 8) <= 0xffffffff
    ? Effect.succeed(Number.parseInt(text, 8))
    : Effect.fail(invalid("invalid mode format"))

/** `POST /files/folder?path=&mode=` (parents created too; mode `0755` by default). */
export const createFolder: Handler = (target, query) =>
  Effect.gen(function* () {
    const path = yield* required(query, "path")
    const modeText = query.get("mode") ?? ""
    const mode = modeText === "" ? 0o755 : yield* parseMode(modeText)
    yield* attempt(
      () => mkdirSync(target.resolve(path), { recursive: true, mode: mode & 0o7777 }),
      (error) => as400(fsFailure(error, "mkdir", path))
    )
    return HttpServerResponse.empty({ status: 201 })
  })

/** `DELETE /files?path=&recursive=` (a folder only with `recursive=true`; a link is removed, not its target). */
export const deleteFile: Handler = (target, query) =>
  Effect.gen(function* () {
    const path = yield* required(query, "path")
    const recursive = query.get("recursive") === "true"
    const stat = yield* attempt(
      () => statSync(target.resolve(path)),
      (error) => fsFailure(error, "stat", path)
    )
    if (stat.isDirectory() && !recursive) return yield* invalid("cannot delete directory without recursive flag")
    yield* attempt(
      () => rmSync(target.resolveNoFollow(path), { recursive, force: false }),
      (error) => as400(fsFailure(error, "remove", path))
    )
    return HttpServerResponse.empty({ status: 204 })
  })

/** `POST /files/move?source=&destination=` (409 when the destination exists). */
export const moveFile: Handler = (target, query) =>
  Effect.gen(function* () {
    const source = query.get("source") ?? ""
    const destination = query.get("destination") ?? ""
    if (source === "" || destination === "") return yield* invalid("source and destination paths are required")
    const from = target.absolute(source)
    const to = target.absolute(destination)
    yield* attempt(
      () => statSync(target.resolve(from)),
      (error) => fsFailure(error, "stat", from)
    )
    const parent = NodePath.posix.dirname(to)
    yield* attempt(
      () => statSync(target.resolve(parent)),
      (error) => fsFailure(error, "stat", parent)
    )
    const exists = yield* Effect.sync(() => {
      try {
        statSync(target.resolve(to))
        return true
      } catch {
        return false
      }
    })
    if (exists) return yield* daemonFailure(409, "CONFLICT", "destination already exists")
    yield* attempt(
      () => renameSync(target.resolveNoFollow(from), target.resolveNoFollow(to)),
      (error) => invalid(`failed to move file: rename ${from} ${to}: ${String((error as Error).message)}`)
    )
    return HttpServerResponse.empty({ status: 200 })
  })

/** A user or group of the sandbox by name or number: the sandbox user, root, or anyone in its `/etc/passwd`. */
const lookupId = (target: Target, name: string, kind: "user" | "group"): number | undefined => {
  if (/^-?\d+$/.test(name)) return Number(name)
  if (name === target.sandbox.user || name === NodePath.posix.basename(target.home)) return SANDBOX_UID
  try {
    const file = readFileSync(kind === "user" ? "/etc/passwd" : "/etc/group", "utf8")
    const line = file.split("\n").find((entry) => entry.split(":")[0] === name)
    return line === undefined ? undefined : Number(line.split(":")[2])
  } catch {
    return undefined
  }
}

/** `POST /files/permissions?path=&mode=&owner=&group=`. The sandbox user may only give files to itself. */
export const setFilePermissions: Handler = (target, query) =>
  Effect.gen(function* () {
    const path = yield* required(query, "path")
    const full = target.absolute(path)
    const host = target.resolve(path)
    yield* attempt(
      () => statSync(host),
      (error) => fsFailure(error, "stat", full)
    )
    const modeText = query.get("mode") ?? ""
    if (modeText !== "") {
      const mode = yield* parseMode(modeText)
      yield* attempt(
        () => chmodSync(host, mode & 0o777),
        (error) => invalid(`failed to change mode: chmod ${full}: ${String((error as Error).message)}`)
      )
    }
    const owner = query.get("owner") ?? ""
    const group = query.get("group") ?? ""
    if (owner !== "" || group !== "") {
      const uid = owner === "" ? -1 : lookupId(target, owner, "user")
      if (uid === undefined) return yield* invalid("user not found")
      const gid = group === "" ? -1 : lookupId(target, group, "group")
      if (gid === undefined) return yield* invalid("group not found")
      if ((uid !== -1 && uid !== SANDBOX_UID) || (gid !== -1 && gid !== SANDBOX_UID)) {
        return yield* invalid(`failed to change ownership: chown ${full}: operation not permitted`)
      }
    }
    return HttpServerResponse.empty({ status: 200 })
  })

const MAX_LINE = 64 * 1024

/** The first 512 bytes of a regular file hold no NUL byte (the daemon skips other files). */
const looksLikeText = (host: string): boolean => {
  let fd: number | undefined
  try {
    fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW)
    const head = Buffer.alloc(512)
    const read = readSync(fd, head, 0, 512, 0)
    return read > 0 && !head.subarray(0, read).includes(0)
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** `GET /files/find?path=&pattern=`: lines containing `pattern` in the text files below `path`. */
export const findInFiles: Handler = (target, query) =>
  Effect.gen(function* () {
    const path = query.get("path") ?? ""
    const pattern = query.get("pattern") ?? ""
    if (path === "" || pattern === "") return yield* invalid("path and pattern are required")
    const matches: Array<{ file: string; line: number; content: string }> = []
    walk(target.resolveNoFollow(path), path, (host, shown, stat) => {
      if (!stat.isFile() || !looksLikeText(host)) return
      let content: string
      try {
        content = readFileSync(host, "utf8")
      } catch {
        return
      }
      const lines = content.split("\n")
      if (lines[lines.length - 1] === "") lines.pop()
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!.replace(/\r$/, "")
        if (Buffer.byteLength(line) > MAX_LINE) break
        if (line.includes(pattern)) matches.push({ file: shown, line: i + 1, content: line })
      }
    })
    return json(matches)
  })

/** `GET /files/search?path=&pattern=`: the paths below `path` (itself included) whose name matches the glob. */
export const searchFiles: Handler = (target, query) =>
  Effect.gen(function* () {
    const path = query.get("path") ?? ""
    const pattern = query.get("pattern") ?? ""
    if (path === "" || pattern === "") return yield* invalid("path and pattern are required")
    const files: Array<string> = []
    walk(target.resolveNoFollow(path), path, (host, shown) => {
      if (globMatch(pattern, NodePath.basename(host))) files.push(shown)
    })
    return json({ files })
  })

const ReplaceRequest = Schema.Struct({
  files: Schema.Array(Schema.String),
  pattern: Schema.String,
  newValue: Schema.optional(Schema.NullOr(Schema.String))
})

/** `POST /files/replace` `{files, pattern, newValue}`: every occurrence replaced, one result per file. */
export const replaceInFiles = (target: Target, body: unknown) =>
  Effect.gen(function* () {
    const request = yield* Schema.decodeUnknown(ReplaceRequest)(body).pipe(
      Effect.mapError((error) => invalid(`invalid request body: ${error.message}`))
    )
    const results = request.files.map((file) => {
      try {
        const host = target.resolve(file)
        const content = readFileSync(host, "utf8")
        writeFileSync(host, content.split(request.pattern).join(request.newValue ?? ""), { mode: 0o644 })
        return { file, success: true }
      } catch (error) {
        const message = fsFailure(error, "open", file).message
        return { file, success: false, error: message }
      }
    })
    return json(results)
  })
