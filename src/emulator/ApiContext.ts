/**
 * What the API route modules share: their context, the sandbox DTO of a record, path parameters and NestJS's
 * 404 for a route it does not have.
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import type { Option } from "effect"
import type { Catalog } from "./Catalog.js"
import { apiErrorBody, toSandboxDto } from "./Dto.js"
import type { SandboxRecord } from "./Dto.js"
import { json } from "./Handler.js"
import type { Preview } from "./Preview.js"
import type { Store } from "./Store.js"
import type { WarmPools } from "./WarmPools.js"

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
  readonly catalog: Catalog
  /** None when the organization has no warm pools (its `/api/warm-pools` routes do not exist). */
  readonly pools: Option.Option<WarmPools>
  /** `host:port` of the SSH gateway, for the `sshCommand` of an SSH access. */
  readonly sshGateway: Effect.Effect<string>
}

/**
 * The `Sandbox` DTO of a record, in the context's organization.
 *
 * @since 0.1.0
 */
export const sandboxDto = (context: ApiContext) => (record: SandboxRecord) =>
  toSandboxDto(record, context.organizationId, context.toolboxProxyUrl)

/**
 * A path parameter of the current route.
 *
 * @since 0.1.0
 */
export const param = (name: string) => Effect.map(HttpRouter.params, (params) => params[name] ?? "")

/**
 * The answer of NestJS to a route it does not have (`Cannot GET /api/x`).
 *
 * @since 0.1.0
 */
export const cannot = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  json(apiErrorBody(404, `Cannot ${request.method} ${request.url}`, request.url), 404)
)
