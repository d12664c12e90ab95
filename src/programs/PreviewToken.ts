/**
 * A private sandbox's preview token changes when the sandbox restarts (Daytona renews it on every start), and the
 * preview proxy then refuses the old one: it answers 307, a redirect to Daytona's login page. The handle's requests go
 * through {@link refreshing}: on such a refusal the preview link is read again, once; when it carries a new token the
 * request is sent again with it (and every later request uses it), otherwise the refusal surfaces as it came, with
 * its hint.
 *
 * @since 0.2.0
 */
import { Effect, Option, Redacted, Ref } from "effect"
import { type ActionServerError, type Endpoint, isPreviewTokenRefused } from "../services/ActionServer.js"
import type { Ctx } from "./Lifecycle.js"

/**
 * Reads the preview link of the action server's port again: the endpoint with the new token, or none when the token
 * is the same (or the link cannot be read; that is logged).
 */
const renewed = (ctx: Ctx, sandboxId: string, endpoint: Endpoint): Effect.Effect<Option.Option<Endpoint>> =>
  ctx.client.previewLink(sandboxId, ctx.options.sandboxPort).pipe(
    Effect.map((link) => {
      const same = Option.exists(endpoint.previewToken, (token) => Redacted.value(token) === Redacted.value(link.token))
      return same ? Option.none() : Option.some<Endpoint>({ ...endpoint, previewToken: Option.some(link.token) })
    }),
    Effect.catchAll((error) =>
      Effect.as(
        Effect.logWarning(
          `the preview token was refused and the preview link could not be read again: ${error.message}`
        ),
        Option.none()
      )
    )
  )

/**
 * Sends requests with the endpoint in `current`; a request whose preview token is refused is sent once more with
 * a fresh token, when the preview link has one (public sandboxes need no token, so nothing is retried for them).
 *
 * @since 0.2.0
 */
export const refreshing =
  (ctx: Ctx, isPublic: boolean, sandboxId: string, current: Ref.Ref<Endpoint>) =>
  <A>(send: (endpoint: Endpoint) => Effect.Effect<A, ActionServerError>): Effect.Effect<A, ActionServerError> =>
    Effect.flatMap(Ref.get(current), (endpoint) =>
      send(endpoint).pipe(
        Effect.catchIf(
          (error) => !isPublic && isPreviewTokenRefused(error),
          (refused) =>
            Effect.flatMap(
              renewed(ctx, sandboxId, endpoint),
              Option.match({
                onNone: () => Effect.fail(refused),
                onSome: (fresh) =>
                  Effect.zipRight(
                    Effect.zipRight(
                      Ref.set(current, fresh),
                      Effect.logInfo(
                        "the preview token was refused; sending the request again with the sandbox's new one"
                      )
                    ),
                    send(fresh)
                  )
              })
            )
        )
      )
    )
