/**
 * The API routes besides sandboxes: snapshots (`GET /api/snapshots`, pages of the organization's snapshots
 * with the general ones last; `GET /api/snapshots/{idOrName}`), warm pools (`/api/warm-pools`; an organization
 * without the feature answers as Daytona's feature-flagged routes do, 404 `Cannot GET /api/warm-pools`), and
 * the SSH gateway's `GET /api/sandbox/ssh-access/validate`.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { cannot, param } from "./ApiContext.js"
import type { ApiContext } from "./ApiContext.js"
import { intQuery, queryMessages } from "./ApiValidation.js"
import { toSnapshotDto } from "./Catalog.js"
import { HttpFailure } from "./Dto.js"
import { json, query, readBody } from "./Handler.js"
import type { Guard } from "./Handler.js"
import type { WarmPools } from "./WarmPools.js"

const SNAPSHOT_SORT = ["name", "state", "lastUsedAt", "createdAt"]
const ORDERS = ["asc", "desc"]

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** `CreateWarmPool` / `UpdateWarmPool` as class-validator checks them. */
const poolBody = (body: unknown, withSnapshot: boolean) =>
  Effect.suspend(() => {
    const value = isObject(body) ? body : {}
    const errors: Array<string> = []
    if (withSnapshot && typeof value["snapshot"] !== "string") errors.push(queryMessages.string("snapshot"))
    const pool = value["pool"]
    const min = withSnapshot ? 1 : 0
    if (!(typeof pool === "number" && pool >= min)) errors.push(queryMessages.min("pool", min))
    if (typeof pool !== "number" || !Number.isFinite(pool)) errors.push(queryMessages.number("pool"))
    const target = value["target"]
    if (target !== undefined && target !== null && typeof target !== "string")
      errors.push(queryMessages.string("target"))
    return errors.length > 0
      ? Effect.fail(new HttpFailure({ status: 400, detail: errors }))
      : Effect.succeed({
          snapshot: String(value["snapshot"] ?? ""),
          pool: Math.floor(pool as number),
          target: typeof target === "string" && target.trim() !== "" ? target.trim() : undefined
        })
  })

const warmPoolRoutes = (pools: WarmPools, guard: Guard) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/api/warm-pools",
      guard(
        "warmPool.list",
        "api",
        Effect.map(pools.list, (all) => json(all))
      )
    ),
    HttpRouter.post(
      "/api/warm-pools",
      guard(
        "warmPool.create",
        "api",
        Effect.gen(function* () {
          const body = yield* poolBody(yield* readBody, true)
          return json(yield* pools.create(body), 201)
        })
      )
    ),
    HttpRouter.patch(
      "/api/warm-pools/:id",
      guard(
        "warmPool.update",
        "api",
        Effect.gen(function* () {
          const body = yield* poolBody(yield* readBody, false)
          return json(yield* pools.update(yield* param("id"), body.pool))
        })
      )
    ),
    HttpRouter.del(
      "/api/warm-pools/:id",
      guard(
        "warmPool.delete",
        "api",
        Effect.gen(function* () {
          yield* pools.remove(yield* param("id"))
          return HttpServerResponse.empty({ status: 204 })
        })
      )
    )
  )

/**
 * The router of snapshots, warm pools and SSH token validation.
 *
 * @since 0.1.0
 */
export const miscRouter = (context: ApiContext, guard: Guard) => {
  const { catalog, organizationId } = context
  const snapshotDto = (entry: (typeof catalog.snapshots)[number]) =>
    toSnapshotDto(entry, organizationId, catalog.regions)

  const listSnapshots = Effect.gen(function* () {
    const params = yield* query
    const errors: Array<string> = []
    const page = intQuery(params, "page", 1, 1, undefined, errors) ?? 1
    const limit = intQuery(params, "limit", 100, 1, 200, errors) ?? 100
    const sort = params.get("sort")
    if (sort !== null && sort !== "" && !SNAPSHOT_SORT.includes(sort))
      errors.push(queryMessages.oneOf("sort", SNAPSHOT_SORT))
    const order = params.get("order")
    if (order !== null && order !== "" && !ORDERS.includes(order)) errors.push(queryMessages.oneOf("order", ORDERS))
    if (errors.length > 0) return yield* new HttpFailure({ status: 400, detail: errors })
    const name = (params.get("name") ?? "").toLowerCase()
    // The organization's snapshots first, the general ones last (Daytona orders by `general` ascending).
    const matching = [...catalog.snapshots]
      .filter((entry) => entry.name.toLowerCase().includes(name))
      .sort((a, b) => Number(a.general) - Number(b.general))
    return json({
      items: matching.slice((page - 1) * limit, page * limit).map(snapshotDto),
      total: matching.length,
      page,
      totalPages: Math.ceil(matching.length / limit)
    })
  })

  const getSnapshot = Effect.gen(function* () {
    const idOrName = yield* param("idOrName")
    const entry = catalog.findSnapshot(idOrName)
    if (Option.isNone(entry)) return yield* new HttpFailure({ status: 404, detail: `Snapshot ${idOrName} not found` })
    return json(snapshotDto(entry.value))
  })

  const validateSsh = Effect.gen(function* () {
    const token = (yield* query).get("token") ?? ""
    const grant = yield* context.store.validateSshToken(token)
    return json(
      Option.match(grant, {
        onNone: () => ({ valid: false, sandboxId: null }),
        onSome: ({ sandboxId }) => ({ valid: true, sandboxId })
      })
    )
  })

  const base = HttpRouter.empty.pipe(
    HttpRouter.get("/api/snapshots", guard("snapshot.list", "api", listSnapshots)),
    HttpRouter.get("/api/snapshots/:idOrName", guard("snapshot.get", "api", getSnapshot)),
    HttpRouter.get("/api/sandbox/ssh-access/validate", guard("sandbox.validateSshAccess", "api", validateSsh))
  )
  return Option.match(context.pools, {
    onNone: () =>
      base.pipe(
        HttpRouter.all("/api/warm-pools", guard("warmPool.list", "api", cannot)),
        HttpRouter.all("/api/warm-pools/*", guard("warmPool.update", "api", cannot))
      ),
    onSome: (pools) => HttpRouter.concat(base, warmPoolRoutes(pools, guard))
  })
}
