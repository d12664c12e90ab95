/**
 * The sandbox routes of Daytona's API (`apps/api/src/sandbox/controllers/sandbox.controller.ts`): create (with
 * the controller's and the service's checks, in their order, and a warm-pool claim when one fits), both lists,
 * get, delete, start, stop, recover, archive, the settings (intervals, labels, public), SSH access, the toolbox
 * proxy URL, preview links and last activity. Status codes are the controller's: `@HttpCode(200)` where it has
 * one, NestJS's 201 for the other POSTs.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Either, Option } from "effect"
import { param, sandboxDto } from "./ApiContext.js"
import type { ApiContext } from "./ApiContext.js"
import { listPage, paginatedPage } from "./ApiList.js"
import { numericParam, resolveAutoArchive, resolveAutoStop, validateCreateBody } from "./ApiValidation.js"
import type { CreateBody } from "./ApiValidation.js"
import { HttpFailure, toListItem } from "./Dto.js"
import type { CreateInput, SandboxRecord } from "./Dto.js"
import { json, query, readBody } from "./Handler.js"
import type { Guard } from "./Handler.js"

const fromEither = <A>(either: Either.Either<A, HttpFailure>) =>
  Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })
const badRequest = (detail: string) => new HttpFailure({ status: 400, detail })

/** The controller's checks, then the service's, in their order; the create as the store takes it. */
const createInput = (context: ApiContext, body: CreateBody) =>
  Effect.gen(function* () {
    if (body.buildInfo !== undefined) {
      if (body.snapshot) return yield* badRequest("Cannot specify a snapshot when using a build info entry")
      if (body.linkedSandbox) {
        return yield* badRequest(
          "linkedSandbox is not supported with declarative builds. Create a sandbox from a snapshot"
        )
      }
    } else {
      if (body.cpu || body.gpu || body.memory || body.disk) {
        return yield* badRequest("Cannot specify Sandbox resources when using a snapshot")
      }
      if (body.gpuType !== undefined && body.gpuType.length > 0) {
        return yield* badRequest(
          "Cannot specify GPU type when creating sandbox from snapshot. GPU type is inherited from snapshot."
        )
      }
    }
    const targetText = body.target?.trim() ?? ""
    const target = targetText === "" ? context.catalog.defaultRegion : targetText
    if (!context.catalog.regions.includes(target))
      return yield* new HttpFailure({ status: 404, detail: "Region not found" })
    let snapshot: string | undefined
    if (body.buildInfo === undefined) {
      const wanted = body.snapshot?.trim() ? body.snapshot : context.catalog.snapshots[0]!.name
      const entry = context.catalog.findSnapshot(wanted)
      if (Option.isNone(entry)) {
        return yield* badRequest(`Snapshot ${wanted} not found. Did you add it through the Daytona Dashboard?`)
      }
      snapshot = entry.value.name
    }
    const volume = body.volumes?.[0]
    if (volume !== undefined) {
      return yield* badRequest(`Volume '${String(volume["volumeId"])}' could not be resolved to a valid volume ID`)
    }
    if (body.linkedSandbox !== undefined) {
      if (body.autoDeleteInterval !== 0) {
        return yield* badRequest("Linked sandboxes must be ephemeral (set autoDeleteInterval to 0)")
      }
      yield* context.store.get(body.linkedSandbox)
    }
    const autoStopInterval =
      body.autoStopInterval === undefined ? undefined : yield* fromEither(resolveAutoStop(body.autoStopInterval))
    const autoArchiveInterval =
      body.autoArchiveInterval === undefined
        ? undefined
        : yield* fromEither(resolveAutoArchive(body.autoArchiveInterval))
    const input: CreateInput = {
      name: body.name === "" ? undefined : body.name,
      snapshot,
      user: body.user === "" ? undefined : body.user,
      env: body.env,
      labels: body.labels,
      public: body.public,
      target,
      ...(body.buildInfo === undefined
        ? {}
        : { cpu: body.cpu || 1, memory: body.memory || 1, disk: body.disk || 3, gpu: body.gpu || 0 }),
      autoStopInterval,
      autoArchiveInterval,
      autoDeleteInterval: body.autoDeleteInterval,
      buildInfo: body.buildInfo,
      customized: body.linkedSandbox !== undefined || (body.secrets !== undefined && body.secrets.length > 0)
    }
    return input
  })

/**
 * The sandbox router.
 *
 * @since 0.1.0
 */
export const sandboxRouter = (context: ApiContext, guard: Guard) => {
  const { preview, store } = context
  const toDto = sandboxDto(context)
  const dto = (record: SandboxRecord, status = 200) => json(toDto(record), status)
  const id = param("idOrName")
  const port = Effect.flatMap(param("port"), (text) => {
    const value = Number(text)
    return Number.isInteger(value) && value >= 1 && value <= 65535
      ? Effect.succeed(value)
      : Effect.fail(badRequest("Invalid port"))
  })
  const interval = Effect.flatMap(param("interval"), (text) => fromEither(numericParam("interval", text)))

  const create = Effect.gen(function* () {
    const body = yield* fromEither(validateCreateBody(yield* readBody))
    const input = yield* createInput(context, body)
    const claimed = Option.isSome(context.pools) ? yield* context.pools.value.claim(input) : Option.none()
    return dto(Option.isSome(claimed) ? claimed.value : yield* store.create(input))
  })

  const list = Effect.gen(function* () {
    const page = yield* listPage(yield* query, yield* store.list)
    return json({
      items: page.items.map((record) => toListItem(record, context.organizationId, context.toolboxProxyUrl)),
      nextCursor: page.nextCursor
    })
  })

  const paginated = Effect.gen(function* () {
    const page = yield* paginatedPage(yield* query, yield* store.list)
    return json({ ...page, items: page.items.map(toDto) })
  })

  const settings = (f: (record: SandboxRecord) => Effect.Effect<SandboxRecord, HttpFailure>, status = 201) =>
    Effect.gen(function* () {
      return dto(yield* store.update(yield* id, f), status)
    })

  const sshAccess = Effect.gen(function* () {
    const text = (yield* query).get("expiresInMinutes")
    const minutes = text === null || text === "" ? 60 : Number(text)
    const grant = yield* store.createSshAccess(yield* id, Number.isFinite(minutes) ? minutes : 60)
    const gateway = yield* context.sshGateway
    const [host, gatewayPort = "22"] = gateway.includes("://")
      ? [new URL(gateway).hostname, new URL(gateway).port || "22"]
      : gateway.split(":")
    return json({
      id: grant.id,
      sandboxId: grant.sandboxId,
      token: grant.token,
      expiresAt: grant.expiresAt.toISOString(),
      createdAt: grant.createdAt.toISOString(),
      updatedAt: grant.updatedAt.toISOString(),
      sshCommand: gatewayPort === "22" ? `ssh ${grant.token}@${host}` : `ssh -p ${gatewayPort} ${grant.token}@${host}`
    })
  })

  const base = "/api/sandbox/:idOrName"
  return HttpRouter.empty
    .pipe(
      HttpRouter.post("/api/sandbox", guard("sandbox.create", "api", create)),
      HttpRouter.get("/api/sandbox", guard("sandbox.list", "api", list)),
      HttpRouter.get("/api/sandbox/paginated", guard("sandbox.paginated", "api", paginated)),
      HttpRouter.get(
        base,
        guard(
          "sandbox.get",
          "api",
          Effect.map(Effect.flatMap(id, store.get), (r) => dto(r))
        )
      ),
      HttpRouter.del(
        base,
        guard(
          "sandbox.delete",
          "api",
          Effect.map(Effect.flatMap(id, store.remove), (r) => dto(r))
        )
      ),
      HttpRouter.post(
        `${base}/start`,
        guard(
          "sandbox.start",
          "api",
          Effect.map(Effect.flatMap(id, store.start), (r) => dto(r))
        )
      ),
      HttpRouter.post(
        `${base}/stop`,
        guard(
          "sandbox.stop",
          "api",
          Effect.map(Effect.flatMap(id, store.stop), (r) => dto(r))
        )
      ),
      HttpRouter.post(
        `${base}/recover`,
        guard(
          "sandbox.recover",
          "api",
          Effect.gen(function* () {
            const skipStart = (yield* query).get("skipStart")
            if (skipStart !== null && skipStart !== "true" && skipStart !== "false") {
              return yield* badRequest("Validation failed (boolean string is expected)")
            }
            return dto(yield* store.recover(yield* id, { skipStart: skipStart === "true" }))
          })
        )
      ),
      HttpRouter.post(
        `${base}/archive`,
        guard(
          "sandbox.archive",
          "api",
          Effect.map(Effect.flatMap(id, store.archive), (r) => dto(r))
        )
      ),
      HttpRouter.post(
        `${base}/autostop/:interval`,
        guard(
          "sandbox.autostop",
          "api",
          Effect.flatMap(interval, (minutes) =>
            settings((r) =>
              Effect.map(fromEither(resolveAutoStop(minutes)), (autoStopInterval) => ({ ...r, autoStopInterval }))
            )
          )
        )
      ),
      HttpRouter.post(
        `${base}/autoarchive/:interval`,
        guard(
          "sandbox.autoarchive",
          "api",
          Effect.flatMap(interval, (minutes) =>
            settings((r) =>
              Effect.map(fromEither(resolveAutoArchive(minutes)), (autoArchiveInterval) => ({
                ...r,
                autoArchiveInterval
              }))
            )
          )
        )
      ),
      HttpRouter.post(
        `${base}/autodelete/:interval`,
        guard(
          "sandbox.autodelete",
          "api",
          Effect.flatMap(interval, (minutes) =>
            settings((r) =>
              r.gpu > 0
                ? Effect.fail(badRequest("GPU sandboxes must remain ephemeral"))
                : Effect.succeed({ ...r, autoDeleteInterval: minutes })
            )
          )
        )
      ),
      HttpRouter.put(
        `${base}/labels`,
        guard(
          "sandbox.labels",
          "api",
          Effect.gen(function* () {
            const body = yield* readBody
            const raw =
              typeof body === "object" && body !== null ? (body as Record<string, unknown>)["labels"] : undefined
            const labels =
              typeof raw === "object" && raw !== null && !Array.isArray(raw)
                ? Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === "string" ? v : String(v)]))
                : {}
            return yield* settings((r) => Effect.succeed({ ...r, labels }), 200)
          })
        )
      ),
      HttpRouter.post(
        `${base}/public/:isPublic`,
        guard(
          "sandbox.public",
          "api",
          // NestJS turns the path parameter into a boolean: only "true" is true.
          Effect.flatMap(param("isPublic"), (text) =>
            settings((r) => Effect.succeed({ ...r, public: text === "true" }))
          )
        )
      ),
      HttpRouter.post(`${base}/ssh-access`, guard("sandbox.sshAccess", "api", sshAccess))
    )
    .pipe(
      HttpRouter.del(
        `${base}/ssh-access`,
        guard(
          "sandbox.sshAccess",
          "api",
          Effect.gen(function* () {
            const token = (yield* query).get("token")
            return dto(yield* store.revokeSshAccess(yield* id, token === null || token === "" ? undefined : token))
          })
        )
      ),
      HttpRouter.get(
        `${base}/toolbox-proxy-url`,
        guard(
          "sandbox.toolboxProxyUrl",
          "api",
          Effect.gen(function* () {
            const sandboxId = yield* id
            const record = yield* store.get(sandboxId)
            if (record.id !== sandboxId)
              return yield* new HttpFailure({ status: 404, detail: `Sandbox with ID ${sandboxId} not found` })
            return json({ url: context.toolboxProxyUrl })
          })
        )
      ),
      HttpRouter.get(
        `${base}/ports/:port/preview-url`,
        guard(
          "sandbox.previewUrl",
          "api",
          Effect.gen(function* () {
            const p = yield* port
            return json(yield* preview.previewUrl(yield* id, p))
          })
        )
      ),
      HttpRouter.get(
        `${base}/ports/:port/signed-preview-url`,
        guard(
          "sandbox.signedPreviewUrl",
          "api",
          Effect.gen(function* () {
            const p = yield* port
            const expires = (yield* query).get("expiresInSeconds")
            const seconds = expires === null || expires === "" ? 60 : Number(expires)
            return json(yield* preview.signedUrl(yield* id, p, seconds))
          })
        )
      ),
      HttpRouter.post(
        `${base}/ports/:port/signed-preview-url/:token/expire`,
        guard(
          "sandbox.signedPreviewUrl",
          "api",
          Effect.gen(function* () {
            yield* preview.expireSigned(yield* id, yield* port, yield* param("token"))
            return HttpServerResponse.empty({ status: 201 })
          })
        )
      ),
      HttpRouter.post(
        `${base}/last-activity`,
        guard(
          "sandbox.lastActivity",
          "api",
          Effect.gen(function* () {
            const record = yield* store.get(yield* id)
            yield* store.touch(record.id)
            return HttpServerResponse.empty({ status: 201 })
          })
        )
      )
    )
}
