/**
 * The daemon's file transfers, streamed both ways so a large file is never held in memory: uploads
 * (`/files/upload`, `/files/upload-v2`, multipart `/files/bulk-upload` with `files[i].path` / `files[i].file`
 * parts) are written to disk as they arrive; downloads (`/files/download`, and `/files/bulk-download`'s multipart
 * answer with boundary `DAYTONA-FILE-BOUNDARY`, a `file` part per file and a JSON `error` part per failure) are read
 * from disk as they are sent. Every path is resolved inside the sandbox folder.
 *
 * @since 0.2.0
 */
import { HttpIncomingMessage, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Multipart } from "@effect/platform"
import { NodeHttpServerRequest, NodeMultipart, NodeStream } from "@effect/platform-node"
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import { closeSync, constants, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync } from "node:fs"
import type { WriteStream } from "node:fs"
import type { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as NodePath from "node:path"
import { HttpFailure } from "./Dto.js"
import { json, readBody } from "./Handler.js"
import { daemonFailure, fsFailure, invalid } from "./ToolboxHttp.js"
import type { Target } from "./ToolboxHttp.js"

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW

/** Streams `source` into the sandbox file at `path` (parent folders created); the number of bytes written. */
const saveTo = (target: Target, path: string, source: Readable): Promise<number> => {
  const host = target.resolve(path)
  mkdirSync(NodePath.dirname(host), { recursive: true, mode: 0o755 })
  const sink: WriteStream = createWriteStream("", { fd: openSync(host, WRITE_FLAGS, 0o666) })
  return pipeline(source, sink).then(() => sink.bytesWritten)
}

/** The parts of the request's multipart body, without the server's 10 MB body limit. */
const parts = (
  request: HttpServerRequest.HttpServerRequest,
  each: (part: Multipart.Part) => Effect.Effect<void>
): Effect.Effect<boolean> =>
  Stream.runForEach(request.multipartStream, each).pipe(
    Effect.as(true),
    Effect.catchAll(() => Effect.succeed(false)),
    Effect.provideService(HttpIncomingMessage.MaxBodySize, Option.none()),
    // Every part with a file name is a file, whatever its type (by default JSON parts are read as fields).
    Effect.provideService(Multipart.FieldMimeTypes, Chunk.empty())
  )

const drain = (part: Multipart.Part) =>
  part._tag === "File" ? Stream.runDrain(part.content).pipe(Effect.ignore) : Effect.void

const indexOf = (key: string) => key.replace(/^files\[/, "").replace(/\]\.(path|file)$/, "")

/** `POST /files/bulk-upload`: `{files: [{path, bytes}]}`, or 400 `{errors, files}` when any part failed. */
export const uploadFiles = (target: Target) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!(request.headers["content-type"] ?? "").startsWith("multipart/")) {
      return json({ errors: ["invalid multipart form"] }, 400)
    }
    const destinations = new Map<string, string>()
    const errors: Array<string> = []
    const files: Array<{ path: string; bytes: number }> = []
    const complete = yield* parts(request, (part) => {
      const index = indexOf(part.key)
      if (part._tag === "Field" && part.key.endsWith(".path")) {
        const destination = part.value.trim()
        if (destination === "") errors.push(`path[${index}]: empty path`)
        else destinations.set(index, destination)
        return Effect.void
      }
      if (part._tag !== "File" || !part.key.endsWith(".file")) return drain(part)
      const destination = destinations.get(index)
      if (destination === undefined) {
        errors.push(`file[${index}]: missing .path metadata`)
        return drain(part)
      }
      return Effect.tryPromise(() => saveTo(target, destination, NodeMultipart.fileToReadable(part))).pipe(
        Effect.match({
          onFailure: (error) => errors.push(`${destination}: write: ${String(error.error)}`),
          onSuccess: (bytes) => files.push({ path: destination, bytes })
        }),
        Effect.zipRight(drain(part))
      )
    })
    if (!complete) errors.push("reading part: multipart: NextPart: unexpected EOF")
    const filesOut = files.length === 0 ? null : files
    return errors.length > 0 ? json({ errors, files: filesOut }, 400) : json({ files: filesOut })
  })

/** `POST /files/upload?path=` (multipart field `file`): 200 with an empty body. */
export const uploadFile = (target: Target, query: URLSearchParams) =>
  Effect.gen(function* () {
    const path = query.get("path") ?? ""
    if (path === "") return yield* invalid("path is required")
    const request = yield* HttpServerRequest.HttpServerRequest
    let saved: Option.Option<unknown> = Option.none()
    yield* parts(request, (part) =>
      part._tag === "File" && part.key === "file" && Option.isNone(saved)
        ? Effect.tryPromise(() => saveTo(target, path, NodeMultipart.fileToReadable(part))).pipe(
            Effect.match({
              onFailure: (error) => {
                saved = Option.some(error.error)
              },
              onSuccess: () => {
                saved = Option.some(true)
              }
            }),
            Effect.zipRight(drain(part))
          )
        : drain(part)
    )
    if (Option.isNone(saved)) return yield* invalid("http: no such file")
    if (saved.value !== true) return yield* fsFailure(saved.value, "open", path)
    return HttpServerResponse.empty({ status: 200 })
  }).pipe(Effect.mapError((failure) => new HttpFailure({ status: 400, detail: failure.detail, code: failure.code })))

/** `POST /files/upload-v2?path=` (multipart field `file`, or the raw body): `{name, path, type}`. */
export const uploadFileV2 = (target: Target, query: URLSearchParams) =>
  Effect.gen(function* () {
    const path = query.get("path") ?? ""
    if (path === "") return yield* invalid("path is required")
    const request = yield* HttpServerRequest.HttpServerRequest
    const contentType = request.headers["content-type"] ?? "application/octet-stream"
    if (contentType.startsWith("multipart/")) {
      const result = yield* uploadFile(target, query)
      return result.status === 200 ? answer(target, path, "application/octet-stream") : result
    }
    const source = NodeHttpServerRequest.toIncomingMessage(request)
    yield* Effect.tryPromise({
      try: () => saveTo(target, path, source),
      catch: (error) => fsFailure(error, "open", path)
    })
    return answer(target, path, contentType)
  })

const answer = (target: Target, path: string, type: string) =>
  json({ name: NodePath.posix.basename(target.absolute(path)), path: target.absolute(path), type })

const latin1 = (text: string) =>
  [
    ...text
      .replace(/\\/g, "\\\\")
      .replace(/"/g, '\\"')
      .replace(/[\r\n\0]/g, "")
  ]
    .map((char) => (char.codePointAt(0)! > 0xff || char.codePointAt(0)! < 0x20 || char === "\x7f" ? "_" : char))
    .join("")

const rfc5987 = (text: string) =>
  [...Buffer.from(text, "utf8")]
    .map((byte) => {
      const char = String.fromCharCode(byte)
      return /[A-Za-z0-9!#$&+\-.^_`|~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
    })
    .join("")

const disposition = (type: string, name: string, path: string) =>
  `${type}; ${name === "" ? "" : `name="${name}"; `}filename="${latin1(path)}"; filename*=utf-8''${rfc5987(path)}`

const MIME: Record<string, string> = {
  ".avif": "image/avif",
  ".css": "text/css; charset=utf-8",
  ".gif": "image/gif",
  ".htm": "text/html; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".jpeg": "image/jpeg",
  ".jpg": "image/jpeg",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".mjs": "text/javascript; charset=utf-8",
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
  ".webp": "image/webp",
  ".xml": "text/xml; charset=utf-8"
}

/** An open sandbox file, or the daemon's classified failure. */
const openFile = (target: Target, path: string) => {
  if (path === "") return daemonFailure(400, "INVALID_FILE_PATH", "invalid file path: path is empty")
  let fd: number | undefined
  try {
    fd = openSync(target.resolve(path), constants.O_RDONLY | constants.O_NOFOLLOW)
    const stat = fstatSync(fd)
    if (stat.isDirectory()) {
      closeSync(fd)
      return daemonFailure(400, "INVALID_FILE_PATH", `invalid file path: path points to a directory: ${path}`)
    }
    return { fd, size: stat.size }
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    const code = (error as { readonly code?: string }).code
    if (code === "ENOENT") return daemonFailure(404, "FILE_NOT_FOUND", `file not found: ${path}`)
    if (code === "EACCES" || code === "EPERM") {
      return daemonFailure(403, "FILE_ACCESS_DENIED", `permission denied: ${path}`)
    }
    return daemonFailure(500, "FILE_READ_FAILED", `failed to open file: ${String(error)}`)
  }
}

const contentOf = (fd: number) =>
  NodeStream.fromReadable<Error>(
    () => createReadStream("", { fd, autoClose: true }),
    (error) => (error instanceof Error ? error : new Error(String(error)))
  )

/** `GET /files/download?path=`: the file as an attachment. */
export const downloadFile = (target: Target, query: URLSearchParams) =>
  Effect.gen(function* () {
    const path = query.get("path") ?? ""
    if (path === "") return yield* invalid("path is required")
    const opened = openFile(target, path)
    if (opened instanceof HttpFailure) {
      return yield* opened.code === "INVALID_FILE_PATH" ? invalid("path must be a file") : opened
    }
    const name = NodePath.posix.basename(target.absolute(path))
    return HttpServerResponse.stream(contentOf(opened.fd), {
      status: 200,
      contentType: "application/octet-stream",
      contentLength: opened.size,
      headers: {
        "content-description": "File Transfer",
        "content-disposition": disposition("attachment", "", name),
        "content-transfer-encoding": "binary",
        expires: "0",
        "cache-control": "must-revalidate",
        pragma: "public"
      }
    })
  })

const BOUNDARY = "DAYTONA-FILE-BOUNDARY"
const DownloadRequest = Schema.Struct({ paths: Schema.NonEmptyArray(Schema.String) })

/** `POST /files/bulk-download` `{paths}`: one multipart answer, streamed. */
export const downloadFiles = (target: Target) =>
  Effect.gen(function* () {
    const body = yield* Effect.either(readBody)
    const request = body._tag === "Right" ? Schema.decodeUnknownOption(DownloadRequest)(body.right) : Option.none()
    if (Option.isNone(request)) {
      return json({ error: 'request body must be {"paths": [ ... ]} and non-empty' }, 400)
    }
    const encoder = new TextEncoder()
    let first = true
    const head = (headers: Record<string, string>) => {
      const lines = Object.keys(headers)
        .sort()
        .map((key) => `${key}: ${headers[key]}\r\n`)
        .join("")
      const text = `${first ? "" : "\r\n"}--${BOUNDARY}\r\n${lines}\r\n`
      first = false
      return encoder.encode(text)
    }
    const part = (path: string): Stream.Stream<Uint8Array, Error> =>
      Stream.suspend(() => {
        const opened = openFile(target, path)
        if (opened instanceof HttpFailure) {
          const payload = JSON.stringify({
            statusCode: opened.status,
            message: opened.message,
            code: opened.code,
            source: "DAYTONA_DAEMON",
            timestamp: new Date().toISOString(),
            path,
            method: "POST"
          })
          const headers = {
            "Content-Disposition": disposition("form-data", "error", path),
            "Content-Type": "application/json; charset=utf-8"
          }
          return Stream.make(head(headers), encoder.encode(payload))
        }
        const headers = {
          "Content-Disposition": disposition("form-data", "file", path),
          "Content-Length": String(opened.size),
          "Content-Type": MIME[NodePath.extname(path).toLowerCase()] ?? "application/octet-stream"
        }
        return Stream.concat(Stream.succeed(head(headers)), contentOf(opened.fd))
      })
    const body$ = Stream.concat(
      Stream.flatMap(Stream.fromIterable(request.value.paths), part, { concurrency: 1 }),
      Stream.sync(() => encoder.encode(`\r\n--${BOUNDARY}--\r\n`))
    )
    return HttpServerResponse.stream(body$, { status: 200, contentType: `multipart/form-data; boundary=${BOUNDARY}` })
  })
