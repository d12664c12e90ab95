/**
 * The toolbox routes, under `/toolbox/{sandboxId}` (the DTO's `toolboxProxyUrl` is `http://127.0.0.1:PORT/toolbox`):
 * process sessions and one-off execution, answering as the toolbox daemon does (errors are its `ErrorResponse`).
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import { HttpFailure } from "./Dto.js"
import { decode, json, readBody } from "./Handler.js"
import type { Guard } from "./Handler.js"
import type { Sessions } from "./Sessions.js"

const CreateSessionBody = Schema.Struct({ sessionId: Schema.String })
const ExecBody = Schema.Struct({
  command: Schema.String,
  runAsync: Schema.optional(Schema.NullOr(Schema.Boolean)),
  async: Schema.optional(Schema.NullOr(Schema.Boolean)),
  suppressInputEcho: Schema.optional(Schema.NullOr(Schema.Boolean))
})
const ExecuteBody = Schema.Struct({
  command: Schema.String,
  cwd: Schema.optional(Schema.NullOr(Schema.String)),
  envs: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
  timeout: Schema.optional(Schema.NullOr(Schema.Number))
})

const param = (name: string) =>
  Effect.map(HttpRouter.params, (params) => {
    const value = params[name]
    return value === undefined ? "" : value
  })

const toolboxBody = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.flatMap(readBody, (body) => decode(schema, body)).pipe(
    Effect.mapError((failure) => new HttpFailure({ ...failure, code: "INVALID_REQUEST_BODY" }))
  )

/**
 * The toolbox router.
 *
 * @since 0.1.0
 */
export const toolboxRouter = (sessions: Sessions, guard: Guard) => {
  const base = "/toolbox/:sandboxId/process"
  return HttpRouter.empty.pipe(
    HttpRouter.post(
      `${base}/session`,
      guard(
        "toolbox.createSession",
        "toolbox",
        Effect.gen(function* () {
          const body = yield* toolboxBody(CreateSessionBody)
          yield* sessions.create(yield* param("sandboxId"), body.sessionId)
          return HttpServerResponse.empty({ status: 201 })
        })
      )
    ),
    HttpRouter.get(
      `${base}/session`,
      guard(
        "toolbox.session",
        "toolbox",
        Effect.map(Effect.flatMap(param("sandboxId"), sessions.list), (list) => json(list))
      )
    ),
    HttpRouter.post(
      `${base}/session/:sessionId/exec`,
      guard(
        "toolbox.exec",
        "toolbox",
        Effect.gen(function* () {
          const body = yield* toolboxBody(ExecBody)
          const runAsync = body.runAsync === true || body.async === true
          const state = yield* sessions.exec(
            yield* param("sandboxId"),
            yield* param("sessionId"),
            body.command,
            runAsync
          )
          return runAsync
            ? json({ cmdId: state.id }, 202)
            : json({
                cmdId: state.id,
                output: state.output,
                exitCode: state.exitCode ?? -1,
                stdout: state.stdout,
                stderr: state.stderr
              })
        })
      )
    ),
    HttpRouter.get(
      `${base}/session/:sessionId/command/:commandId/logs`,
      guard(
        "toolbox.logs",
        "toolbox",
        Effect.gen(function* () {
          const state = yield* sessions.command(
            yield* param("sandboxId"),
            yield* param("sessionId"),
            yield* param("commandId")
          )
          return json({ output: state.output, stdout: state.stdout, stderr: state.stderr })
        })
      )
    ),
    HttpRouter.get(
      `${base}/session/:sessionId/command/:commandId`,
      guard(
        "toolbox.command",
        "toolbox",
        Effect.gen(function* () {
          const state = yield* sessions.command(
            yield* param("sandboxId"),
            yield* param("sessionId"),
            yield* param("commandId")
          )
          return json({
            id: state.id,
            command: state.command,
            ...(state.exitCode === undefined ? {} : { exitCode: state.exitCode })
          })
        })
      )
    ),
    HttpRouter.get(
      `${base}/session/:sessionId`,
      guard(
        "toolbox.session",
        "toolbox",
        Effect.gen(function* () {
          return json(yield* sessions.get(yield* param("sandboxId"), yield* param("sessionId")))
        })
      )
    ),
    HttpRouter.del(
      `${base}/session/:sessionId`,
      guard(
        "toolbox.session",
        "toolbox",
        Effect.gen(function* () {
          yield* sessions.remove(yield* param("sandboxId"), yield* param("sessionId"))
          return HttpServerResponse.empty({ status: 204 })
        })
      )
    ),
    HttpRouter.post(
      `${base}/execute`,
      guard(
        "toolbox.exec",
        "toolbox",
        Effect.gen(function* () {
          const body = yield* toolboxBody(ExecuteBody)
          const result = yield* sessions.execute(yield* param("sandboxId"), {
            command: body.command,
            cwd: body.cwd ?? undefined,
            envs: body.envs ?? undefined,
            timeout: body.timeout ?? undefined
          })
          return json(result)
        })
      )
    )
  )
}
