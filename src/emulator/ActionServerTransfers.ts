/**
 * The built-in action execution server's routes besides `execute_action` and `list_files`: `POST /upload_file`,
 * `GET /download_files`, `GET /server_info` and `POST /update_mcp_server`, answering as the real ones.
 *
 * @since 0.2.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import { unzipSync, zipSync } from "fflate"
import * as fs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { hostPath } from "./ActionFiles.js"
import type { ServerContext } from "./ActionServerHandlers.js"
import { GENERIC_500, contentType, detail, internalText, json, requestJson } from "./ActionServerHandlers.js"
import { PyDict, PyRaw, parseBool, unprocessable, validationError } from "./PyWire.js"

const queryOf = (request: HttpServerRequest.HttpServerRequest) => new URL(request.url, "http://localhost").searchParams
const last = (params: URLSearchParams, name: string) => {
  const all = params.getAll(name)
  return all.length === 0 ? undefined : all[all.length - 1]
}

const expectedUpload = (value: string) =>
  validationError(
    "value_error",
    ["body", "file"],
    "Value error, Expected UploadFile, received: <class 'str'>",
    value,
    new PyDict([["error", new PyRaw(`ValueError("Expected UploadFile, received: <class 'str'>")`)]])
  )

/**
 * `POST /upload_file?destination=D&recursive=R` with a multipart `file`: stored in D (absolute, created if missing);
 * a `.zip` is unpacked there (entries with `..` or an absolute name skipped).
 *
 * @since 0.1.0
 */
export const uploadFile = (context: ServerContext) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = queryOf(request)
    const destination = last(query, "destination") ?? "/"
    const recursiveText = last(query, "recursive")
    const recursive = recursiveText === undefined ? false : parseBool(recursiveText)
    const errors = []
    if (recursive === undefined) {
      const msg = "Input should be a valid boolean, unable to interpret input"
      errors.push(validationError("bool_parsing", ["query", "recursive"], msg, recursiveText))
    }
    const type = contentType(request.headers["content-type"])
    let file: { readonly name: string; readonly path: string } | undefined
    if (type?.main === "multipart" && type.sub === "form-data") {
      const form = yield* Effect.either(request.multipart)
      if (form._tag === "Left") return detail(400, "There was an error parsing the body")
      const part = form.right["file"]
      const values = part === undefined ? [] : typeof part === "string" ? [part] : part
      const chosen = values[values.length - 1]
      if (typeof chosen === "string") errors.push(expectedUpload(chosen))
      else if (chosen === undefined) errors.push(validationError("missing", ["body", "file"], "Field required", null))
      else file = chosen
    } else {
      const fields =
        type?.main === "application" && type.sub === "x-www-form-urlencoded"
          ? new URLSearchParams(
              new TextDecoder().decode(yield* Effect.orElseSucceed(request.arrayBuffer, () => new ArrayBuffer(0)))
            )
          : new URLSearchParams()
      const value = last(fields, "file")
      errors.push(
        value === undefined
          ? validationError("missing", ["body", "file"], "Field required", null)
          : expectedUpload(value)
      )
    }
    if (errors.length > 0 || file === undefined) return json(unprocessable(errors), 422)
    if (!destination.startsWith("/")) return detail(500, "400: Destination must be an absolute path")
    const target = hostPath(context.view, destination)
    try {
      fs.mkdirSync(target, { recursive: true })
      if (recursive === true || file.name.endsWith(".zip")) {
        if (!file.name.endsWith(".zip")) return detail(500, "400: Recursive uploads must be zip files")
        const zipPath = NodePath.posix.join(destination, file.name)
        let entries: Record<string, Uint8Array>
        try {
          entries = unzipSync(fs.readFileSync(file.path))
        } catch {
          return detail(500, `${zipPath} is not a zip file`)
        }
        for (const [name, data] of Object.entries(entries)) {
          if (name.startsWith("/") || name.includes("..")) continue
          const entry = hostPath(context.view, NodePath.posix.join(destination, ...name.split("/")))
          fs.mkdirSync(name.endsWith("/") ? entry : NodePath.dirname(entry), { recursive: true })
          if (!name.endsWith("/")) fs.writeFileSync(entry, data)
        }
      } else {
        fs.copyFileSync(file.path, hostPath(context.view, NodePath.posix.join(destination, file.name)))
      }
    } catch (error) {
      return detail(500, internalText(context, error))
    }
    return json({ filename: file.name, destination, recursive: recursive === true })
  }).pipe(Effect.scoped)

/**
 * `GET /download_files?path=ABS`: the folder's files zipped (stored, paths relative to it).
 *
 * @since 0.2.0
 */
export const downloadFiles = (context: ServerContext) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = last(queryOf(request), "path")
    if (path === undefined) {
      return json(unprocessable([validationError("missing", ["query", "path"], "Field required", null)]), 422)
    }
    if (!path.startsWith("/")) return detail(500, "400: Path must be an absolute path")
    const root = hostPath(context.view, path)
    if (!fs.existsSync(root)) return detail(500, "404: File not found")
    const entries: Record<string, readonly [Uint8Array, { readonly level: 0 }]> = {}
    const walk = (dir: string, relative: string) => {
      let items: Array<fs.Dirent>
      try {
        items = fs.readdirSync(dir, { withFileTypes: true })
      } catch {
        return
      }
      for (const item of items) {
        const full = NodePath.join(dir, item.name)
        const name = relative === "" ? item.name : `${relative}/${item.name}`
        const sandboxPath = NodePath.posix.join(path, name)
        const isDir =
          item.isDirectory() ||
          (item.isSymbolicLink() &&
            fs.statSync(hostPath(context.view, sandboxPath), { throwIfNoEntry: false })?.isDirectory() === true)
        if (isDir) {
          if (item.isDirectory()) walk(full, name)
        } else entries[name] = [fs.readFileSync(hostPath(context.view, sandboxPath)), { level: 0 }]
      }
    }
    try {
      walk(root, "")
    } catch (error) {
      return detail(500, internalText(context, error))
    }
    const zipped = zipSync(entries as unknown as Parameters<typeof zipSync>[0])
    return HttpServerResponse.uint8Array(zipped, {
      status: 200,
      contentType: "application/zip",
      headers: { "content-disposition": `attachment; filename="${NodePath.posix.basename(path)}.zip"` }
    })
  })

/**
 * `GET /server_info`: uptime, idle time and the resources of the process that runs the server.
 *
 * @since 0.2.0
 */
export const serverInfo = (context: ServerContext) =>
  Effect.sync(() => {
    const now = Date.now()
    const memory = process.memoryUsage()
    let disk = { total: 0, used: 0, free: 0, percent: 0 }
    try {
      const stats = fs.statfsSync(context.view.root)
      const total = stats.blocks * stats.bsize
      const free = stats.bavail * stats.bsize
      const used = (stats.blocks - stats.bfree) * stats.bsize
      disk = { total, used, free, percent: Math.round((used / Math.max(1, used + free)) * 1000) / 10 }
    } catch {
      // keep zeros
    }
    return json({
      uptime: (now - context.startTime) / 1000,
      idle_time: (now - context.lastExecutionTime) / 1000,
      resources: {
        cpu_percent: 0,
        memory: {
          rss: memory.rss,
          vms: memory.heapTotal + memory.external,
          percent: (memory.rss / os.totalmem()) * 100
        },
        disk,
        io: { read_bytes: 0, write_bytes: 0 }
      }
    })
  })

const MCP_NAME = /^[a-zA-Z0-9_-]+$/

/**
 * `POST /update_mcp_server`: a list of stdio MCP servers to sync (none is started here, as in the harness).
 *
 * @since 0.2.0
 */
export const updateMcpServer = Effect.gen(function* () {
  const body = yield* requestJson
  if (body === undefined) return detail(500, GENERIC_500)
  if (!Array.isArray(body.value)) return detail(400, "Request must be a list of MCP tools to sync")
  const valid = body.value.every((tool) => {
    if (!(tool instanceof PyDict)) return false
    const name = tool.get("name")
    const command = tool.get("command")
    return (
      typeof name === "string" && MCP_NAME.test(name.trim()) && typeof command === "string" && command.trim() !== ""
    )
  })
  if (!valid) return detail(500, GENERIC_500)
  return json({ detail: "MCP server updated successfully", router_error_log: "" })
})

/** The platform services the routes use (multipart bodies are persisted to temporary files). */
export type HandlerServices = FileSystem.FileSystem | Path.Path
