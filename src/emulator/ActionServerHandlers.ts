/**
 * The routes of the built-in action execution server, answering as the real one (`action_execution_server.py`):
 * `POST /execute_action` (the body read and refused as FastAPI does, the action decoded as `event_from_dict` does,
 * then run, read, write, edit, browse, run_ipython), `POST /list_files`, `POST /upload_file`, `GET /download_files`,
 * `GET /server_info` and `POST /update_mcp_server`.
 *
 * @since 0.1.0
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type { Editor } from "./ActionEditor.js"
import type { DecodedAction } from "./ActionEvents.js"
import type { Observation } from "./ActionObservations.js"
import { decodeAction, truthy } from "./ActionEvents.js"
import { editObservation, errorObservation, readObservation } from "./ActionObservations.js"
import type { FileRoot } from "./ActionFiles.js"
import { hostPath, isBinary, listFiles as list, osErrorText, readFile, writeFile } from "./ActionFiles.js"
import type { BashSession } from "./ActionShell.js"
import { getDiff } from "./Difflib.js"
import type { PyDict as Dict } from "./PyWire.js"
import {
  PyBytes,
  PyDict,
  PyJsonError,
  loadsJson,
  str,
  toJs,
  typeName,
  unprocessable,
  validationError
} from "./PyWire.js"
import { toSandboxPath } from "./SandboxPaths.js"

/**
 * What one server's routes share.
 *
 * @since 0.2.0
 */
export interface ServerContext {
  /** The working folder as the server's paths see it. */
  readonly workDir: string
  readonly view: FileRoot
  readonly shell: BashSession
  readonly editor: Editor
  /** A fresh shell in `cwd`, for `is_static` runs. */
  readonly newShell: (cwd: string) => BashSession
  /** Actions run one at a time, as the real server's lock makes them. */
  readonly lock: Effect.Semaphore
  readonly startTime: number
  lastExecutionTime: number
  /** TOLERATED until the client sends the real body: accept `args.timeout` of a run. */
  readonly tolerateArgsTimeout: boolean
}

/** A JSON response. */
export const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })
/** An error response in FastAPI's shape: `{"detail": text}`. */
export const detail = (status: number, text: string) => json({ detail: text }, status)

/** The real server's answer to an exception no handler caught. */
export const GENERIC_500 = "An unexpected error occurred. Please try again later."

/** A `Content-Type` header's type and subtype, lower-cased. */
export const contentType = (header: string | undefined) => {
  const match = /^\s*([^/;\s]+)\/([^;\s]+)/.exec(header ?? "")
  return match === null ? undefined : { main: match[1]!.toLowerCase(), sub: match[2]!.toLowerCase() }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** `await request.json()`: the value, or undefined when the body is not JSON (the caller answers 500). */
export const requestJson = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const bytes = new Uint8Array(yield* Effect.orElseSucceed(request.arrayBuffer, () => new ArrayBuffer(0)))
  try {
    const parsed = loadsJson(utf8.decode(bytes).replace(/^\uFEFF/, ""))
    return parsed instanceof PyJsonError ? undefined : { value: parsed.value }
  } catch {
    return undefined
  }
})

/** The body of `POST /execute_action` read as FastAPI reads an `ActionRequest`: the action dict, or the answer. */
const actionBody = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const bytes = new Uint8Array(yield* Effect.orElseSucceed(request.arrayBuffer, () => new ArrayBuffer(0)))
  let body: unknown = null
  if (bytes.length > 0) {
    const type = contentType(request.headers["content-type"])
    const isJson =
      request.headers["content-type"] === undefined ||
      (type !== undefined && type.main === "application" && (type.sub === "json" || type.sub.endsWith("+json")))
    if (isJson) {
      let text: string
      try {
        text = utf8.decode(bytes).replace(/^\uFEFF/, "")
      } catch {
        return detail(400, "There was an error parsing the body")
      }
      const parsed = loadsJson(text)
      if (parsed instanceof PyJsonError) {
        const ctx = new PyDict([["error", parsed.msg]])
        return json(
          unprocessable([
            validationError("json_invalid", ["body", parsed.pos], "JSON decode error", new PyDict(), ctx)
          ]),
          422
        )
      }
      body = parsed.value
    } else body = new PyBytes(bytes)
  }
  if (body === null) return json(unprocessable([validationError("missing", ["body"], "Field required", null)]), 422)
  if (!(body instanceof PyDict)) {
    const msg = "Input should be a valid dictionary or object to extract fields from"
    return json(unprocessable([validationError("model_attributes_type", ["body"], msg, body)]), 422)
  }
  if (!body.has("action")) {
    return json(unprocessable([validationError("missing", ["body", "action"], "Field required", body)]), 422)
  }
  const action = body.get("action")
  if (!(action instanceof PyDict)) {
    const msg = "Input should be a valid dictionary"
    return json(unprocessable([validationError("dict_type", ["body", "action"], msg, action)]), 422)
  }
  return action
})

class Internal extends Error {}

const fail = (message: string): never => {
  throw new Internal(message)
}

const runAction = (context: ServerContext, action: DecodedAction): Effect.Effect<Observation> => {
  const args = action.args
  const request = {
    command: args.get("command"),
    isInput: args.get("is_input"),
    blocking: args.get("blocking"),
    hidden: args.get("hidden"),
    timeout: action.timeout
  }
  if (!truthy(args.get("is_static"))) return context.shell.execute(request)
  const cwd = args.get("cwd")
  return Effect.acquireUseRelease(
    Effect.sync(() => context.newShell(typeof cwd === "string" && cwd !== "" ? cwd : context.workDir)),
    (shell) => shell.execute(request),
    (shell) => Effect.sync(() => shell.close())
  )
}

const readAction = (context: ServerContext, args: Dict): Observation => {
  const path = args.get("path")
  if (typeof path !== "string") return fail(`'${typeName(path)}' object has no attribute 'endswith'`)
  if (path.startsWith("/") && isBinary(hostPath(context.view, path))) return errorObservation("ERROR_BINARY_FILE")
  if (args.get("impl_source") === "oh_aci") {
    const result = context.editor.execute({ command: "view", path, viewRange: args.get("view_range") })
    return readObservation(path, result.text, "oh_aci")
  }
  return readFile(context.view, path, context.shell.cwd, toJs(args.get("start")), toJs(args.get("end")))
}

const writeAction = (context: ServerContext, args: Dict): Observation => {
  const path = args.get("path")
  const content = args.get("content")
  if (typeof path !== "string") return fail(`expected str, bytes or os.PathLike object, not ${typeName(path)}`)
  if (typeof content !== "string") return fail(`'${typeName(content)}' object has no attribute 'split'`)
  return writeFile(context.view, path, content, context.shell.cwd, toJs(args.get("start")), toJs(args.get("end")))
}

const editAction = (context: ServerContext, args: Dict): Observation => {
  if (args.has("impl_source") && args.get("impl_source") !== "oh_aci") return fail("")
  const path = args.get("path")
  const call = {
    command: args.has("command") ? args.get("command") : "",
    path: typeof path === "string" ? path : "",
    fileText: args.get("file_text"),
    oldStr: args.get("old_str"),
    newStr: args.get("new_str"),
    insertLine: args.get("insert_line")
  }
  const result =
    typeof path === "string"
      ? context.editor.execute(call)
      : {
          text: `ERROR:\nexpected str, bytes or os.PathLike object, not ${typeName(path)}`,
          oldContent: null,
          newContent: null
        }
  const diff = getDiff(result.oldContent ?? "", result.newContent ?? "", str(path))
  return editObservation(str(path), result.text, toJs(args.get("old_str")), toJs(args.get("new_str")), diff)
}

const BROWSER_OFF = "Browser functionality is not supported or disabled."

const dispatch = (context: ServerContext, action: DecodedAction): Effect.Effect<Observation> => {
  switch (action.type) {
    case "run":
      return runAction(context, action)
    case "read":
      return Effect.sync(() => readAction(context, action.args))
    case "write":
      return Effect.sync(() => writeAction(context, action.args))
    case "edit":
      return Effect.sync(() => editAction(context, action.args))
    case "browse":
    case "browse_interactive":
      return Effect.succeed(errorObservation(BROWSER_OFF))
    case "run_ipython":
      return Effect.sync(() => fail("JupyterRequirement not found. Unable to run IPython action."))
    default:
      return Effect.sync(() => fail(`'ActionExecutor' object has no attribute '${action.type}'`))
  }
}

/** The text of an exception a handler raised, as Python prints it (paths as the sandbox sees them). */
export const internalText = (context: ServerContext, error: unknown): string => {
  if (error instanceof Internal) return error.message
  const path = (error as NodeJS.ErrnoException | undefined)?.path
  return path === undefined
    ? String((error as Error)?.message ?? error)
    : osErrorText(error, toSandboxPath(context.view.root, path))
}

/**
 * `POST /execute_action`.
 *
 * @since 0.1.0
 */
export const executeAction = (context: ServerContext) =>
  Effect.gen(function* () {
    const body = yield* actionBody
    if (!(body instanceof PyDict)) return body
    const decoded = decodeAction(body, context.tolerateArgsTimeout)
    if ("error" in decoded) return detail(500, `Internal server error: ${decoded.error}`)
    context.lastExecutionTime = Date.now()
    const observation = yield* context.lock.withPermits(1)(
      Effect.suspend(() => dispatch(context, decoded)).pipe(Effect.either)
    )
    context.lastExecutionTime = Date.now()
    if (observation._tag === "Left")
      return detail(500, `Internal server error: ${internalText(context, observation.left)}`)
    return json(observation.right)
  }).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.succeed(detail(500, `Internal server error: ${internalText(context, defect)}`))
    )
  )

/**
 * `POST /list_files`.
 *
 * @since 0.1.0
 */
export const listFiles = (context: ServerContext) =>
  Effect.gen(function* () {
    const body = yield* requestJson
    if (body === undefined || !(body.value instanceof PyDict)) return detail(500, GENERIC_500)
    const path = body.value.has("path") ? body.value.get("path") : null
    if (path !== null && typeof path !== "string") return detail(500, GENERIC_500)
    return json(list(context.view, path, context.workDir))
  })
