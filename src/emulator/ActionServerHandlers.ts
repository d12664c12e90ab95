/**
 * The protocol handlers of the built-in action execution server: `execute_action` (run, read, write), `list_files`
 * and `upload_file`, and the shell runner behind `run`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as NodePathModule from "node:path"
import type { ActionServerOptions, ActionServerState } from "./ActionServerApp.js"

/** Sends SIGKILL to every process group still alive. */
export const killProcessGroups = (groups: Set<number>): void => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  groups.clear()
}

const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

const OptionalNumber = Schema.optional(Schema.NullOr(Schema.Number))

const ActionRequest = Schema.Struct({
  action: Schema.Struct({
    action: Schema.String,
    args: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) }),
    timeout: OptionalNumber
  })
})
const RunArgs = Schema.Struct({
  command: Schema.String,
  is_input: Schema.optional(Schema.NullOr(Schema.Boolean)),
  timeout: OptionalNumber
})
const ReadArgs = Schema.Struct({ path: Schema.String, start: OptionalNumber, end: OptionalNumber })
const WriteArgs = Schema.Struct({ path: Schema.String, content: Schema.String })
const ListFilesBody = Schema.Struct({ path: Schema.optional(Schema.NullOr(Schema.String)) })

const DEFAULT_TIMEOUT_SECONDS = 120
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024

/** A JSON response. */
export const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })
/** An error response in FastAPI's shape: `{"detail": text}`. */
export const detail = (status: number, text: string) => json({ detail: text }, status)
const errorObservation = (content: string) => json({ observation: "error", content, extras: { error_id: "" } })

const badRequest = (error: unknown) =>
  detail(
    400,
    ParseResult.isParseError(error)
      ? `Invalid request body: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
      : "Invalid request body: not JSON"
  )

const decodeArgs = <A, I>(schema: Schema.Schema<A, I>, args: unknown) =>
  Schema.decodeUnknownEither(schema)(args).pipe(
    Either.mapLeft((error) => `Invalid action args: ${ParseResult.TreeFormatter.formatErrorSync(error)}`)
  )

const commandEnv = (env: Readonly<Record<string, string>>): Record<string, string> =>
  process.env.PATH === undefined ? { ...env } : { PATH: process.env.PATH, ...env }

interface ShellResult {
  readonly output: string
  readonly exitCode: number
  readonly timedOut: boolean
}

/**
 * Runs `bash --norc -c command` in its own process group with stdout and stderr merged and stdin empty; kills the
 * whole group (SIGKILL) after `timeout`. `--norc`: a bash whose stdin is a socket (node's pipes are socketpairs)
 * would otherwise take itself for an ssh login and source the host's bashrc. Background jobs that outlive the
 * command are left running until the server stops.
 */
const runShell = (
  command: string,
  timeout: Duration.Duration,
  options: ActionServerOptions,
  state: ActionServerState
): Effect.Effect<ShellResult, never, CommandExecutor.CommandExecutor> =>
  Effect.scoped(
    Effect.gen(function* () {
      for (const pgid of state.processGroups) if (!groupAlive(pgid)) state.processGroups.delete(pgid)
      const started = yield* Command.make("bash", "--norc", "-c", `exec </dev/null 2>&1\n${command}`).pipe(
        Command.workingDirectory(options.workingDir),
        Command.env(commandEnv(options.env), { extendEnv: false }),
        Command.start,
        Effect.either
      )
      if (Either.isLeft(started)) {
        return { output: `Failed to start bash: ${started.left.message}`, exitCode: -1, timedOut: false }
      }
      const proc = started.right
      state.processGroups.add(proc.pid)
      const chunks: Array<Uint8Array> = []
      let size = 0
      const reader = yield* proc.stdout.pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            if (size < MAX_OUTPUT_BYTES) chunks.push(chunk.subarray(0, MAX_OUTPUT_BYTES - size))
            size += chunk.length
          })
        ),
        Effect.ignore,
        Effect.fork
      )
      const exited = yield* proc.exitCode.pipe(Effect.either, Effect.timeoutOption(timeout))
      if (Option.isNone(exited)) yield* Effect.ignore(proc.kill("SIGKILL"))
      // A background job may hold the pipe open: read what is there, then stop waiting.
      yield* Fiber.join(reader).pipe(Effect.timeoutOption(Duration.millis(250)))
      yield* Fiber.interrupt(reader)
      const truncated = size > MAX_OUTPUT_BYTES ? `\n[... ${size - MAX_OUTPUT_BYTES} more bytes of output dropped]` : ""
      const output = Buffer.concat(chunks).toString("utf8") + truncated
      const exitCode = Option.match(exited, {
        onNone: () => -1,
        onSome: (exit) => (Either.isRight(exit) ? exit.right : -1)
      })
      return { output, exitCode, timedOut: Option.isNone(exited) }
    })
  )

const runAction = (
  args: typeof RunArgs.Type,
  actionTimeout: number | null | undefined,
  options: ActionServerOptions,
  state: ActionServerState
) =>
  Effect.gen(function* () {
    if (args.is_input === true) return errorObservation("ERROR: No previous running command to interact with.")
    const requested = args.timeout ?? actionTimeout
    const seconds =
      requested !== null && requested !== undefined && Number.isFinite(requested) && requested > 0
        ? requested
        : DEFAULT_TIMEOUT_SECONDS
    const result = yield* runShell(args.command, Duration.millis(seconds * 1000), options, state)
    const suffix = result.timedOut
      ? `\n[The command timed out after ${seconds} seconds and was killed.]`
      : `\n[The command completed with exit code ${result.exitCode}.]`
    return json({
      observation: "run",
      content: result.output.endsWith("\n") ? result.output.slice(0, -1) : result.output,
      extras: {
        command: args.command,
        metadata: {
          exit_code: result.exitCode,
          pid: -1,
          username: "openhands",
          hostname: "sandbox",
          working_dir: options.workingDir,
          py_interpreter_path: "",
          prefix: "",
          suffix
        },
        hidden: false
      },
      message: `Command \`${args.command}\` executed.`,
      success: result.exitCode === 0
    })
  })

const sliceLines = (text: string, start: number | null | undefined, end: number | null | undefined): string => {
  if ((start ?? 0) <= 0 && (end ?? -1) === -1) return text
  const lines = text.split(/(?<=\n)/)
  const from = Math.max(0, start ?? 0)
  return lines.slice(from, end === null || end === undefined || end === -1 ? undefined : Math.max(from, end)).join("")
}

const readAction = (args: typeof ReadArgs.Type, options: ActionServerOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = NodePathModule.resolve(options.workingDir, args.path)
    const info = yield* Effect.either(fs.stat(path))
    if (Either.isLeft(info)) {
      return errorObservation(`File not found: ${path}. Your current working directory is ${options.workingDir}.`)
    }
    if (info.right.type === "Directory") {
      return errorObservation(`Path is a directory: ${path}. You can only read files`)
    }
    const text = yield* Effect.either(fs.readFileString(path))
    if (Either.isLeft(text)) return errorObservation(`Failed to read ${path}: ${text.left.message}`)
    return json({
      observation: "read",
      content: sliceLines(text.right, args.start, args.end),
      extras: { path, impl_source: "default" }
    })
  })

const writeAction = (args: typeof WriteArgs.Type, options: ActionServerOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = NodePathModule.resolve(options.workingDir, args.path)
    const written = yield* Effect.either(
      Effect.zipRight(
        fs.makeDirectory(NodePathModule.dirname(path), { recursive: true }),
        fs.writeFileString(path, args.content)
      )
    )
    if (Either.isLeft(written)) return errorObservation(`Failed to write ${path}: ${written.left.message}`)
    return json({ observation: "write", content: "", extras: { path } })
  })

/**
 * `POST /execute_action`: run, read or write; 400 for a body of another shape or an unknown action.
 *
 * @since 0.1.0
 */
export const executeAction = (options: ActionServerOptions, state: ActionServerState) =>
  Effect.gen(function* () {
    const body = yield* Effect.either(HttpServerRequest.schemaBodyJson(ActionRequest))
    if (Either.isLeft(body)) return badRequest(body.left)
    const { action, args, timeout } = body.right.action
    type Handler = Effect.Effect<
      HttpServerResponse.HttpServerResponse,
      never,
      CommandExecutor.CommandExecutor | FileSystem.FileSystem
    >
    const handler: Either.Either<Handler, string> =
      action === "run"
        ? Either.map(decodeArgs(RunArgs, args), (a): Handler => runAction(a, timeout, options, state))
        : action === "read"
          ? Either.map(decodeArgs(ReadArgs, args), (a): Handler => readAction(a, options))
          : action === "write"
            ? Either.map(decodeArgs(WriteArgs, args), (a): Handler => writeAction(a, options))
            : Either.left(`Unknown action type: ${action} (this server knows run, read and write)`)
    return Either.isLeft(handler) ? detail(400, handler.left) : yield* handler.right
  })

/**
 * `POST /list_files`: folders first (with a trailing "/"), then files, each sorted case-insensitively; [] for a
 * missing path.
 *
 * @since 0.1.0
 */
export const listFiles = (options: ActionServerOptions) =>
  Effect.gen(function* () {
    const body = yield* Effect.either(HttpServerRequest.schemaBodyJson(ListFilesBody))
    if (Either.isLeft(body)) return badRequest(body.left)
    const fs = yield* FileSystem.FileSystem
    const full = NodePathModule.resolve(options.workingDir, body.right.path ?? ".")
    const names = yield* fs.readDirectory(full).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
    const kinds = yield* Effect.forEach(names, (name) =>
      fs.stat(NodePathModule.join(full, name)).pipe(
        Effect.map((info) => ({ name, dir: info.type === "Directory" })),
        Effect.orElseSucceed(() => undefined)
      )
    )
    const byName = (a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase()) || a.localeCompare(b)
    const entries = kinds.filter((k) => k !== undefined)
    const dirs = entries.filter((k) => k.dir).map((k) => `${k.name}/`)
    const files = entries.filter((k) => !k.dir).map((k) => k.name)
    return json([...dirs.sort(byName), ...files.sort(byName)])
  })

/**
 * `POST /upload_file?destination=D`: writes the multipart `file` part into D (relative to the workspace).
 *
 * @since 0.1.0
 */
export const uploadFile = (options: ActionServerOptions) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = new URL(request.url, "http://localhost").searchParams
    const destinationParam = query.get("destination") ?? options.workingDir
    const recursive = (query.get("recursive") ?? "false").toLowerCase() === "true"
    if (recursive) return detail(400, "Recursive uploads (zip archives) are not supported by this server")
    if (!(request.headers["content-type"] ?? "").toLowerCase().startsWith("multipart/form-data")) {
      return detail(400, "The body must be multipart/form-data with a `file` part")
    }
    const form = yield* Effect.either(
      Effect.catchAllDefect(request.multipart, (defect) => Effect.fail(new Error(String(defect))))
    )
    if (Either.isLeft(form)) return detail(400, `Invalid multipart body: ${form.left.message}`)
    const part = form.right["file"]
    const file = Array.isArray(part) ? part[0] : undefined
    if (file === undefined || typeof file === "string") return detail(400, "The multipart body has no `file` part")
    const filename = NodePathModule.basename(file.name)
    if (filename === "" || filename === "." || filename === "..") return detail(400, "The file part has no name")
    const fs = yield* FileSystem.FileSystem
    const destination = NodePathModule.resolve(options.workingDir, destinationParam)
    const copied = yield* Effect.either(
      Effect.zipRight(
        fs.makeDirectory(destination, { recursive: true }),
        fs.copyFile(file.path, NodePathModule.join(destination, filename))
      )
    )
    if (Either.isLeft(copied)) return detail(500, copied.left.message)
    return json({ filename, destination: destinationParam, recursive: false })
  }).pipe(Effect.scoped)
