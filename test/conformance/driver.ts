/**
 * Sends a scenario's requests to a server and reduces each answer to what both servers must agree on: the status,
 * the JSON body (or the zip's entries, or the redirect's location), with what varies between two real servers
 * replaced by placeholders — the working folder (`$WS`), pids, user and host names, the Python path, timing.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { unzipSync } from "fflate"
import { SESSION_KEY } from "./servers.js"
import type { Started } from "./servers.js"

/** One HTTP request of a scenario; `$WS` in strings becomes the server's working folder. */
export interface Request {
  readonly method: "GET" | "POST" | "HEAD"
  readonly path: string
  /** Send the session key (default true); a string sends that key instead. */
  readonly key?: boolean | string
  readonly json?: unknown
  /** A body sent as is, with this content type (none when undefined). */
  readonly raw?: { readonly body: string; readonly contentType?: string }
  readonly multipart?: { readonly field: string; readonly filename: string; readonly data: Uint8Array | string }
}

/** One step: set files up, wait, or send a request (checked against the expected answer unless `check: false`). */
export interface Step {
  readonly setup?: (hostWorkDir: string) => void
  /** A real wait before the step (a command of the previous step has to end in the shell). */
  readonly delayMs?: number
  readonly request?: Request
  readonly check?: boolean
  /** Normalises what the two servers print differently on purpose (e.g. a job's pid). */
  readonly content?: (content: string) => string
}

/** A scenario: steps on one group's server. */
export interface Scenario {
  readonly name: string
  readonly group: string
  readonly steps: ReadonlyArray<Step>
}

const substitute = (value: unknown, workDir: string): unknown => {
  if (typeof value === "string") return value.split("$WS").join(workDir)
  if (Array.isArray(value)) return value.map((item) => substitute(item, workDir))
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, workDir)]))
  }
  return value
}

const digest = (text: string) =>
  text.length > 2000 ? `sha256:${createHash("sha256").update(text).digest("hex")} length:${text.length}` : text

const normalise = (value: unknown, workDir: string, content?: (text: string) => string): unknown => {
  const text = (s: string) => digest(s.split(workDir).join("$WS"))
  if (typeof value === "string") return text(value)
  if (Array.isArray(value)) return value.map((item) => normalise(item, workDir, content))
  if (value === null || typeof value !== "object") return value
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    if (key === "metadata" && item !== null && typeof item === "object") {
      const m = item as Record<string, unknown>
      out[key] = {
        ...(normalise(m, workDir) as object),
        pid: m["pid"] === -1 ? -1 : "<pid>",
        username: m["username"] === null ? null : "<user>",
        hostname: m["hostname"] === null ? null : "<host>",
        py_interpreter_path: m["py_interpreter_path"] === null ? null : "<py>"
      }
    } else if (key === "content" && typeof item === "string" && content !== undefined) {
      out[key] = text(content(item.split(workDir).join("$WS")))
    } else out[key] = normalise(item, workDir, content)
  }
  return out
}

/** What one answer is reduced to. */
export interface Outcome {
  readonly status: number
  readonly body?: unknown
  readonly location?: string
  readonly zip?: ReadonlyArray<readonly [string, string]>
}

/** Sends one request. */
export const send = async (server: Started, request: Request, content?: (text: string) => string): Promise<Outcome> => {
  const headers: Record<string, string> = {}
  if (request.key !== false) headers["X-Session-API-Key"] = typeof request.key === "string" ? request.key : SESSION_KEY
  let body: string | Uint8Array | FormData | undefined
  if (request.json !== undefined) {
    headers["Content-Type"] = "application/json"
    body = JSON.stringify(substitute(request.json, server.workDir))
  } else if (request.raw !== undefined) {
    if (request.raw.contentType !== undefined) headers["Content-Type"] = request.raw.contentType
    body = new TextEncoder().encode(request.raw.body)
  } else if (request.multipart !== undefined) {
    const form = new FormData()
    const data = request.multipart.data
    form.append(
      request.multipart.field,
      new Blob([typeof data === "string" ? data : new Uint8Array(data)]),
      request.multipart.filename
    )
    body = form
  }
  const url = server.url + (substitute(request.path, server.workDir) as string)
  const response = await fetch(url, {
    method: request.method,
    headers,
    redirect: "manual",
    ...(body === undefined ? {} : { body: body as NonNullable<RequestInit["body"]> })
  })
  const bytes = new Uint8Array(await response.arrayBuffer())
  const status = response.status
  if (status === 307) {
    return { status, location: (response.headers.get("location") ?? "").replace(server.url, "http://SERVER") }
  }
  if ((response.headers.get("content-type") ?? "").includes("application/zip")) {
    const entries = Object.entries(unzipSync(bytes))
      .map(([name, data]) => [name, new TextDecoder().decode(data)] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1))
    return { status, zip: entries }
  }
  const text = new TextDecoder().decode(bytes)
  if (text === "") return { status }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { status, body: text }
  }
  if (request.path === "/server_info") return { status, body: Object.keys(parsed as object) }
  return { status, body: normalise(parsed, server.workDir, content) }
}

const isRun = (request: Request | undefined) =>
  request?.path === "/execute_action" &&
  (request.json as { action?: { action?: unknown } } | undefined)?.action?.action === "run"

/** Runs a scenario's steps (pausing `pauseMs` before each run); the outcomes of the checked ones. */
export const runScenario = async (server: Started, scenario: Scenario, pauseMs = 0): Promise<Array<Outcome>> => {
  const outcomes: Array<Outcome> = []
  for (const step of scenario.steps) {
    const wait = (step.delayMs ?? 0) + (isRun(step.request) ? pauseMs : 0)
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    if (step.setup !== undefined) step.setup(server.hostWorkDir)
    if (step.request === undefined) continue
    const outcome = await send(server, step.request, step.content)
    if (step.check !== false) outcomes.push(outcome)
  }
  return outcomes
}

/** Writes a file under the working folder (its folders created). */
export const put = (hostWorkDir: string, relative: string, data: string | Uint8Array) => {
  const file = path.join(hostWorkDir, relative)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, data)
}
