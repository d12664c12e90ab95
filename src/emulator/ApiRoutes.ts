/**
 * The REST subset of the Daytona API under `/api` that `@daytonaio/sdk` uses for the sandbox lifecycle
 * (see `daytona-api-subset.md`): create, list (label filter, cursor pages), get by id or name, start, stop,
 * delete, recover, toolbox proxy URL, preview URLs, last activity.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Either, Option, Schema } from "effect"
import { apiErrorBody, HttpFailure, toListItem, toSandboxDto } from "./Dto.js"
import type { CreateInput, SandboxRecord } from "./Dto.js"
import { decode, json, query, readBody } from "./Handler.js"
import type { Guard } from "./Handler.js"
import type { Preview } from "./Preview.js"
import type { Store } from "./Store.js"

/**
 * What the API routes need.
 *
 * @since 0.1.0
 */
export interface ApiContext {
  readonly store: Store
  readonly preview: Preview
  readonly organizationId: string
  /** `http://127.0.0.1:PORT/toolbox`. */
  readonly toolboxProxyUrl: string
}

const opt = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(Schema.NullOr(schema))
const StringRecord = Schema.Record({ key: Schema.String, value: Schema.String })
const Interval = Schema.Number.pipe(Schema.int(), Schema.greaterThanOrEqualTo(-1))

const CreateBody = Schema.Struct({
  name: opt(Schema.String.pipe(Schema.minLength(1))),
  snapshot: opt(Schema.String),
  user: opt(Schema.String),
  env: opt(StringRecord),
  labels: opt(StringRecord),
  public: opt(Schema.Boolean),
  target: opt(Schema.String),
  cpu: opt(Schema.Number),
  gpu: opt(Schema.Number),
  memory: opt(Schema.Number),
  disk: opt(Schema.Number),
  autoStopInterval: opt(Interval),
  autoArchiveInterval: opt(Interval),
  autoDeleteInterval: opt(Interval)
})

const toCreateInput = (body: typeof CreateBody.Type): CreateInput => {
  const input: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) if (value !== null && value !== undefined) input[key] = value
  return input as CreateInput
}

const badRequest = (...messages: ReadonlyArray<string>) => new HttpFailure({ status: 400, detail: messages })

interface Cursor {
  readonly t: number
  readonly id: string
}
const encodeCursor = (record: SandboxRecord) =>
  Buffer.from(JSON.stringify({ t: record.createdAt.getTime(), id: record.id })).toString("base64url")
const decodeCursor = Schema.decodeUnknownEither(
  Schema.parseJson(Schema.Struct({ t: Schema.Number, id: Schema.String }))
)

/** Newest first; the cursor is the (createdAt, id) of the last item of the previous page. */
const after = (cursor: Cursor) => (record: SandboxRecord) =>
  record.createdAt.getTime() < cursor.t || (record.createdAt.getTime() === cursor.t && record.id < cursor.id)

const listParams = Effect.gen(function* () {
  const params = yield* query
  const limitText = params.get("limit")
  const limit = limitText === null ? 100 : Number(limitText)
  if (!Number.isInteger(limit) || limit < 1) return yield* badRequest("limit must not be less than 1")
  if (limit > 200) return yield* badRequest("limit must not be greater than 200")
  let labels: Record<string, string> = {}
  const labelsText = params.get("labels")
  if (labelsText !== null && labelsText !== "") {
    labels = yield* Effect.try({ try: () => JSON.parse(labelsText) as unknown, catch: () => "" }).pipe(
      Effect.flatMap((value) => decode(StringRecord, value)),
      Effect.mapError(() => badRequest("labels must be a JSON object of string values"))
    )
  }
  const cursorText = params.get("cursor")
  let cursor: Option.Option<Cursor> = Option.none()
  if (cursorText !== null && cursorText !== "") {
    const decoded = decodeCursor(Buffer.from(cursorText, "base64url").toString("utf8"))
    if (Either.isLeft(decoded)) return yield* badRequest("cursor is invalid")
    cursor = Option.some(decoded.right)
  }
  const states = [...params.getAll("states"), ...params.getAll("states[]")]
  return {
    limit,
    labels,
    cursor,
    states,
    id: (params.get("id") ?? "").toLowerCase(),
    name: (params.get("name") ?? "").toLowerCase()
  }
})

const param = (name: string) => Effect.map(HttpRouter.params, (params) => params[name] ?? "")

/**
 * The API router (everything under `/api`).
 *
 * @since 0.1.0
 */
export const apiRouter = (context: ApiContext, guard: Guard) => {
  const { organizationId, store, toolboxProxyUrl } = context
  const dto = (record: SandboxRecord) => json(toSandboxDto(record, organizationId, toolboxProxyUrl))
  const lifecycle = (operation: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>) =>
    Effect.map(Effect.flatMap(param("idOrName"), operation), dto)
  const port = Effect.flatMap(param("port"), (text) => {
    const value = Number(text)
    return Number.isInteger(value) && value >= 1 && value <= 65535
      ? Effect.succeed(value)
      : Effect.fail(badRequest("port must be an integer from 1 to 65535"))
  })

  const list = Effect.gen(function* () {
    const params = yield* listParams
    const matching = (yield* store.list).filter(
      (record) =>
        Object.entries(params.labels).every(([key, value]) => record.labels[key] === value) &&
        (params.states.length === 0 || params.states.includes(record.state)) &&
        record.id.toLowerCase().startsWith(params.id) &&
        record.name.toLowerCase().startsWith(params.name) &&
        Option.match(params.cursor, { onNone: () => true, onSome: (cursor) => after(cursor)(record) })
    )
    const page = matching.slice(0, params.limit)
    const last = page[page.length - 1]
    return json({
      items: page.map((record) => toListItem(record, organizationId, toolboxProxyUrl)),
      nextCursor: matching.length > params.limit && last !== undefined ? encodeCursor(last) : null
    })
  })

  return HttpRouter.empty.pipe(
    HttpRouter.post(
      "/api/sandbox",
      guard(
        "sandbox.create",
        "api",
        Effect.gen(function* () {
          const body = yield* Effect.flatMap(readBody, (value) => decode(CreateBody, value))
          return dto(yield* store.create(toCreateInput(body)))
        })
      )
    ),
    HttpRouter.get("/api/sandbox", guard("sandbox.list", "api", list)),
    HttpRouter.get("/api/sandbox/:idOrName", guard("sandbox.get", "api", lifecycle(store.get))),
    HttpRouter.del("/api/sandbox/:idOrName", guard("sandbox.delete", "api", lifecycle(store.remove))),
    HttpRouter.post("/api/sandbox/:idOrName/start", guard("sandbox.start", "api", lifecycle(store.start))),
    HttpRouter.post("/api/sandbox/:idOrName/stop", guard("sandbox.stop", "api", lifecycle(store.stop))),
    HttpRouter.post("/api/sandbox/:idOrName/recover", guard("sandbox.recover", "api", lifecycle(store.recover))),
    HttpRouter.get(
      "/api/sandbox/:idOrName/toolbox-proxy-url",
      guard(
        "sandbox.toolboxProxyUrl",
        "api",
        Effect.as(Effect.flatMap(param("idOrName"), store.get), json({ url: toolboxProxyUrl }))
      )
    ),
    HttpRouter.get(
      "/api/sandbox/:idOrName/ports/:port/preview-url",
      guard(
        "sandbox.previewUrl",
        "api",
        Effect.gen(function* () {
          return json(yield* context.preview.previewUrl(yield* param("idOrName"), yield* port))
        })
      )
    ),
    HttpRouter.get(
      "/api/sandbox/:idOrName/ports/:port/signed-preview-url",
      guard(
        "sandbox.signedPreviewUrl",
        "api",
        Effect.gen(function* () {
          const expires = (yield* query).get("expiresInSeconds")
          const seconds = expires === null || expires === "" ? 60 : Number(expires)
          return json(yield* context.preview.signedUrl(yield* param("idOrName"), yield* port, seconds))
        })
      )
    ),
    HttpRouter.post(
      "/api/sandbox/:idOrName/last-activity",
      guard(
        "sandbox.lastActivity",
        "api",
        Effect.gen(function* () {
          const record = yield* store.get(yield* param("idOrName"))
          yield* store.touch(record.id)
          return HttpServerResponse.empty({ status: 201 })
        })
      )
    ),
    HttpRouter.all(
      "/api/*",
      Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
        const path = new URL(request.url, "http://emulator").pathname
        return json(apiErrorBody(404, `Cannot ${request.method} ${path}`, path), 404)
      })
    )
  )
}
