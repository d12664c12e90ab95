/**
 * The toolbox routes, under `/toolbox/{sandboxId}` (the DTO's `toolboxProxyUrl` is `http://127.0.0.1:PORT/toolbox`),
 * as the daemon serves them behind Daytona's proxy and runner: info (`/work-dir`, `/user-home-dir`, `/project-dir`,
 * `/version`), files (`/files…`), one-off execution (`/process/execute`, `/process/code-run`) and sessions
 * (`/process/session…`). Failures are the daemon's `ErrorResponse`; a path the daemon does not serve gets its router's
 * plain-text `404 page not found`.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Ref, Schema } from "effect"
import type { HttpFailure } from "./Dto.js"
import type { EmulatorRoute } from "./Faults.js"
import { json, readBody } from "./Handler.js"
import type { Guard } from "./Handler.js"
import type { SessionCommand, Sessions } from "./Sessions.js"
import { demux, logFormatOf, stripMarkers, text } from "./SessionLogs.js"
import type { Store } from "./Store.js"
import type { ProcessHost } from "./Toolbox.js"
import * as Files from "./ToolboxFiles.js"
import { daemon, daemonFailure, invalid, queryOf, requireTarget } from "./ToolboxHttp.js"
import type { EdgeAnswer, Target } from "./ToolboxHttp.js"
import { commandLogs, readLog } from "./ToolboxLogs.js"
import { checkEnvKeys, codeRunScript, parseArtifacts, runScript } from "./ToolboxProcess.js"
import * as Transfer from "./ToolboxTransfer.js"

const CreateSessionBody = Schema.Struct({ sessionId: Schema.String })
const ExecBody = Schema.Struct({
  command: Schema.String,
  runAsync: Schema.optional(Schema.NullOr(Schema.Boolean)),
  async: Schema.optional(Schema.NullOr(Schema.Boolean)),
  suppressInputEcho: Schema.optional(Schema.NullOr(Schema.Boolean))
})
const InputBody = Schema.Struct({ data: Schema.String })
const Envs = Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String })))
const Timeout = Schema.optional(Schema.NullOr(Schema.Number))
const ExecuteBody = Schema.Struct({
  command: Schema.String,
  cwd: Schema.optional(Schema.NullOr(Schema.String)),
  envs: Envs,
  timeout: Timeout
})
const CodeRunBody = Schema.Struct({
  code: Schema.String,
  language: Schema.String,
  argv: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  envs: Envs,
  timeout: Timeout
})

/** The request body decoded, or the daemon's 400 (`code` INVALID_REQUEST_BODY, or BAD_REQUEST). */
const bodyOf = <A, I>(schema: Schema.Schema<A, I>, code = "INVALID_REQUEST_BODY", prefix = "invalid body request") =>
  Effect.flatMap(readBody, (body) =>
    Schema.decodeUnknown(schema)(body).pipe(
      Effect.mapError((error) => daemonFailure(400, code, `${prefix}: ${error.message.split("\n")[0]}`))
    )
  )

const param = (name: string) => Effect.map(HttpRouter.params, (params) => params[name] ?? "")

const notFoundPage = HttpServerResponse.text("404 page not found", {
  status: 404,
  contentType: "text/plain; charset=utf-8"
})

/**
 * What the toolbox routes need.
 *
 * @since 0.2.0
 */
export interface ToolboxContext {
  readonly sessions: Sessions
  readonly store: Store
  readonly host: ProcessHost
}

/** `SessionExecuteResponse` of a finished command, in the caller's format. */
const executed = (command: SessionCommand, headers: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function* () {
    const { exitCode } = yield* Ref.get(command.running.state)
    const log = readLog(command)
    const format = logFormatOf(headers)
    if (format.combined) {
      return { cmdId: command.id, output: text(stripMarkers(log)), stdout: null, stderr: null, exitCode }
    }
    const split = format.skipDemux ? undefined : demux(log)
    return {
      cmdId: command.id,
      output: text(log),
      stdout: split === undefined ? null : text(split.stdout),
      stderr: split === undefined ? null : text(split.stderr),
      exitCode: exitCode ?? null
    }
  })

/**
 * The toolbox router.
 *
 * @since 0.1.0
 */
export const toolboxRouter = (context: ToolboxContext, guard: Guard) => {
  const { host, sessions, store } = context
  const base = "/toolbox/:sandboxId"
  /** A route: the sandbox found (or the proxy's/runner's answer), the handler's failures as the daemon's errors. */
  const route = <R>(
    name: EmulatorRoute,
    handler: (target: Target) => Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure | EdgeAnswer, R>
  ) =>
    guard(
      name,
      "toolbox",
      daemon(
        Effect.flatMap(
          Effect.flatMap(param("sandboxId"), (id) => requireTarget(store, host.isolation, id)),
          handler
        )
      )
    )
  const withQuery =
    <R>(
      handler: (
        target: Target,
        query: URLSearchParams
      ) => Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, R>
    ) =>
    (target: Target) =>
      Effect.flatMap(queryOf, (query) => handler(target, query))
  const session = "/process/session/:sessionId"
  const command = `${session}/command/:commandId`
  const commandOf = (target: Target) =>
    Effect.flatMap(Effect.all([param("sessionId"), param("commandId")]), ([sessionId, commandId]) =>
      sessions.command(target, sessionId, commandId)
    )

  return HttpRouter.empty
    .pipe(
      HttpRouter.get(
        `${base}/work-dir`,
        route("toolbox.info", (target) => Effect.succeed(json({ dir: target.workDir })))
      ),
      HttpRouter.get(
        `${base}/user-home-dir`,
        route("toolbox.info", (target) => Effect.succeed(json({ dir: target.home })))
      ),
      HttpRouter.get(
        `${base}/project-dir`,
        route("toolbox.info", (target) => Effect.succeed(json({ dir: target.home })))
      ),
      HttpRouter.get(
        `${base}/version`,
        route("toolbox.info", () => Effect.succeed(json({ version: "v0.0.0-emulator" })))
      ),
      HttpRouter.get(`${base}/files`, route("toolbox.files", withQuery(Files.listFiles))),
      HttpRouter.del(`${base}/files`, route("toolbox.files", withQuery(Files.deleteFile))),
      HttpRouter.get(`${base}/files/info`, route("toolbox.files", withQuery(Files.getFileInfo))),
      HttpRouter.get(`${base}/files/find`, route("toolbox.files", withQuery(Files.findInFiles))),
      HttpRouter.get(`${base}/files/search`, route("toolbox.files", withQuery(Files.searchFiles))),
      HttpRouter.post(`${base}/files/folder`, route("toolbox.files", withQuery(Files.createFolder))),
      HttpRouter.post(`${base}/files/move`, route("toolbox.files", withQuery(Files.moveFile))),
      HttpRouter.post(`${base}/files/permissions`, route("toolbox.files", withQuery(Files.setFilePermissions))),
      HttpRouter.post(
        `${base}/files/replace`,
        route("toolbox.files", (target) =>
          Effect.flatMap(
            Effect.catchAll(readBody, () => Effect.succeed({})),
            (body) => Files.replaceInFiles(target, body)
          )
        )
      ),
      HttpRouter.get(`${base}/files/download`, route("toolbox.files", withQuery(Transfer.downloadFile))),
      HttpRouter.post(`${base}/files/bulk-download`, route("toolbox.files", Transfer.downloadFiles)),
      HttpRouter.post(`${base}/files/upload`, route("toolbox.files", withQuery(Transfer.uploadFile))),
      HttpRouter.post(`${base}/files/upload-v2`, route("toolbox.files", withQuery(Transfer.uploadFileV2))),
      HttpRouter.post(`${base}/files/bulk-upload`, route("toolbox.files", Transfer.uploadFiles))
    )
    .pipe(
      HttpRouter.post(
        `${base}/process/execute`,
        route("toolbox.exec", (target) =>
          Effect.gen(function* () {
            const body = yield* bodyOf(ExecuteBody, "BAD_REQUEST", "bad request: invalid request body")
            if (body.command.trim() === "") {
              return yield* daemonFailure(400, "BAD_REQUEST", "bad request: command cannot be empty or whitespace-only")
            }
            yield* checkEnvKeys(body.envs ?? undefined)
            const result = yield* runScript(host, target, body.command, {
              cwd: body.cwd ?? undefined,
              envs: body.envs ?? undefined,
              timeoutSeconds: body.timeout ?? undefined
            })
            return json({ exitCode: result.exitCode, result: result.result })
          })
        )
      ),
      HttpRouter.post(
        `${base}/process/code-run`,
        route("toolbox.exec", (target) =>
          Effect.gen(function* () {
            const body = yield* bodyOf(CodeRunBody)
            const script = yield* codeRunScript(body.language, body.code, body.argv ?? [])
            yield* checkEnvKeys(body.envs ?? undefined)
            const run = yield* runScript(host, target, script, {
              envs: body.envs ?? undefined,
              timeoutSeconds: body.timeout ?? undefined
            })
            const { charts, result } = parseArtifacts(run.result)
            return json({ exitCode: run.exitCode, result, ...(charts.length === 0 ? {} : { artifacts: { charts } }) })
          })
        )
      ),
      HttpRouter.post(
        `${base}/process/session`,
        route("toolbox.createSession", (target) =>
          Effect.gen(function* () {
            const body = yield* bodyOf(CreateSessionBody)
            yield* sessions.create(target, body.sessionId)
            return HttpServerResponse.empty({ status: 201 })
          })
        )
      ),
      HttpRouter.get(
        `${base}/process/session`,
        route("toolbox.session", (target) => Effect.map(sessions.list(target), (list) => json(list)))
      ),
      HttpRouter.post(
        `${base}${session}/exec`,
        route("toolbox.exec", (target) =>
          Effect.gen(function* () {
            const body = yield* bodyOf(ExecBody, "BAD_REQUEST", "invalid request body")
            if (body.command.trim() === "") return yield* invalid("command cannot be empty")
            const runAsync = body.runAsync === true || body.async === true
            const started = yield* sessions.exec(target, yield* param("sessionId"), {
              command: body.command,
              runAsync,
              suppressInputEcho: body.suppressInputEcho === true
            })
            if (runAsync) {
              return json({ cmdId: started.id, output: null, stdout: null, stderr: null, exitCode: null }, 202)
            }
            const request = yield* HttpServerRequest.HttpServerRequest
            return json(yield* executed(started, request.headers))
          })
        )
      ),
      HttpRouter.post(
        `${base}${command}/input`,
        route("toolbox.exec", (target) =>
          Effect.gen(function* () {
            const body = yield* bodyOf(InputBody)
            yield* sessions.input(target, yield* param("sessionId"), yield* param("commandId"), body.data)
            return HttpServerResponse.empty({ status: 204 })
          })
        )
      ),
      HttpRouter.get(
        `${base}${command}/logs`,
        route("toolbox.logs", (target) =>
          Effect.gen(function* () {
            const found = yield* commandOf(target)
            const ended = yield* sessions.ended(target, yield* param("sessionId"))
            const query = yield* queryOf
            return yield* commandLogs(found, ended, query.get("follow") === "true")
          })
        )
      ),
      HttpRouter.get(
        `${base}${command}`,
        route("toolbox.command", (target) =>
          Effect.gen(function* () {
            const found = yield* commandOf(target)
            const { exitCode } = yield* Ref.get(found.running.state)
            return json({ id: found.id, command: found.command, ...(exitCode === undefined ? {} : { exitCode }) })
          })
        )
      ),
      HttpRouter.get(
        `${base}${session}`,
        route("toolbox.session", (target) =>
          Effect.map(
            Effect.flatMap(param("sessionId"), (id) => sessions.get(target, id)),
            (view) => json(view)
          )
        )
      ),
      HttpRouter.del(
        `${base}${session}`,
        route("toolbox.session", (target) =>
          Effect.as(
            Effect.flatMap(param("sessionId"), (id) => sessions.remove(target, id)),
            HttpServerResponse.empty({ status: 204 })
          )
        )
      ),
      HttpRouter.all(
        `${base}/*`,
        route("toolbox.info", () => Effect.succeed(notFoundPage))
      )
    )
}
