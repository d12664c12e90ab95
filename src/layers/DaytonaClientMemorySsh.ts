/**
 * SSH access in the in-memory `DaytonaClient`, with the semantics of Daytona's API
 * (`apps/api/src/sandbox/services/sandbox.service.ts`): a token of 32 characters of `[A-Za-z0-9]`, valid for
 * `expiresInMinutes` (default 60) by `Clock`; creating one revokes the sandbox's earlier tokens; revoking without a
 * token revokes them all; validation answers `{ valid: false }` for an unknown or expired token. The command names
 * Daytona's gateway, `ssh TOKEN@ssh.app.daytona.io`; no server is behind it.
 *
 * @since 0.2.0
 */
import { Effect, Option, Random, Redacted } from "effect"
import { checkSshExpiry } from "../services/DaytonaClient.js"
import type { DaytonaApiError } from "../services/DaytonaClient.js"
import type { DaytonaClientService } from "../services/DaytonaClient.js"
import type { ClientMethod, Store } from "./DaytonaClientMemoryStore.js"

/** The host of Daytona's SSH gateway, on port 22. */
const GATEWAY = "ssh.app.daytona.io"

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/** Runs a client call: records it, consumes a queued failure, retries a 429 (see `DaytonaClientMemory.ts`). */
type Op = <A>(
  method: ClientMethod,
  sandboxId: string | undefined,
  body: Effect.Effect<A, DaytonaApiError>
) => Effect.Effect<A, DaytonaApiError>

/**
 * The SSH access methods of an in-memory client over its store.
 *
 * @since 0.2.0
 */
export const makeSshAccess = (
  store: Store,
  op: Op
): Pick<DaytonaClientService, "createSshAccess" | "revokeSshAccess" | "validateSshAccess"> => {
  const grants = new Map<string, { readonly sandboxId: string; readonly expiresAt: number }>()
  const revokeOf = (sandboxId: string, token: string | undefined) => {
    for (const [key, grant] of grants) {
      if (grant.sandboxId === sandboxId && (token === undefined || key === token)) grants.delete(key)
    }
  }
  const newToken = Effect.map(
    Effect.all(Array.from({ length: 32 }, () => Random.nextIntBetween(0, ALPHABET.length))),
    (indexes) => indexes.map((index) => ALPHABET[index]).join("")
  )

  return {
    createSshAccess: (id, expiresInMinutes = 60) =>
      Effect.zipRight(
        checkSshExpiry(id, expiresInMinutes),
        op(
          "createSshAccess",
          id,
          Effect.gen(function* () {
            const { entry, now } = yield* store.find("createSshAccess", id)
            revokeOf(entry.id, undefined)
            const token = yield* newToken
            const expiresAt = now + expiresInMinutes * 60_000
            grants.set(token, { sandboxId: entry.id, expiresAt })
            return Object.freeze({
              id: `ssh-${++store.state.tokens}`,
              sandboxId: entry.id,
              token: Redacted.make(token),
              sshCommand: Redacted.make(`ssh ${token}@${GATEWAY}`),
              expiresAt: new Date(expiresAt),
              createdAt: Option.some(new Date(now))
            })
          })
        )
      ),

    revokeSshAccess: (id, token) =>
      op(
        "revokeSshAccess",
        id,
        Effect.map(store.find("revokeSshAccess", id), ({ entry }) =>
          revokeOf(entry.id, token === undefined ? undefined : Redacted.value(token))
        )
      ),

    validateSshAccess: (id, token) =>
      op(
        "validateSshAccess",
        id,
        Effect.map(store.find("validateSshAccess", id), ({ now }) => {
          const grant = grants.get(Redacted.value(token))
          // Daytona: `expiresAt < now` is expired.
          return grant === undefined || grant.expiresAt < now
            ? { valid: false, sandboxId: Option.none() }
            : { valid: true, sandboxId: Option.some(grant.sandboxId) }
        })
      )
  }
}
