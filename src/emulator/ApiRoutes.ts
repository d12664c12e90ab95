/**
 * The REST subset of Daytona's API under `/api`: the sandbox routes (`ApiSandboxRoutes.ts`), snapshots, warm
 * pools and the SSH gateway's token check (`ApiMiscRoutes.ts`), and NestJS's 404 for anything else.
 *
 * @since 0.1.0
 */
import { HttpRouter } from "@effect/platform"
import { cannot } from "./ApiContext.js"
import type { ApiContext } from "./ApiContext.js"
import { miscRouter } from "./ApiMiscRoutes.js"
import { sandboxRouter } from "./ApiSandboxRoutes.js"
import type { Guard } from "./Handler.js"

export type { ApiContext } from "./ApiContext.js"

/**
 * The API router (everything under `/api`).
 *
 * @since 0.1.0
 */
export const apiRouter = (context: ApiContext, guard: Guard) =>
  HttpRouter.concatAll(sandboxRouter(context, guard), miscRouter(context, guard)).pipe(HttpRouter.all("/api/*", cannot))
