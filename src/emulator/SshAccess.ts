/**
 * SSH access tokens of the emulator, as Daytona's API keeps them (`apps/api/src/sandbox/services/sandbox.service.ts`):
 * a token is 32 characters of `[A-Za-z0-9]`, valid for `expiresInMinutes` (default 60); creating one revokes every
 * earlier token of the same sandbox; revoking without a token revokes them all; validation answers the sandbox of an
 * unexpired token. The SSH command names the emulator's own SSH endpoint (`ssh -p PORT TOKEN@127.0.0.1`), built the
 * way Daytona builds it from its gateway's address.
 *
 * @since 0.2.0
 */
import { Clock, Effect, Option, Redacted } from "effect"
import { randomInt, randomUUID } from "node:crypto"

/**
 * One SSH access, as Daytona's `SshAccessDto` carries it (the token and the command that holds it `Redacted`).
 *
 * @since 0.2.0
 */
export interface SshAccessGrant {
  readonly id: string
  readonly sandboxId: string
  readonly token: Redacted.Redacted<string>
  readonly expiresAt: Date
  readonly createdAt: Date
  /** `ssh -p PORT TOKEN@HOST` (`ssh TOKEN@HOST` on port 22). */
  readonly sshCommand: Redacted.Redacted<string>
}

/**
 * The token registry.
 *
 * @since 0.2.0
 */
export interface SshAccessRegistry {
  /** A new token for the sandbox, valid for `expiresInMinutes` (default 60); the sandbox's earlier tokens stop working. */
  readonly create: (sandboxId: string, expiresInMinutes?: number) => Effect.Effect<SshAccessGrant>
  /** Revokes one token of the sandbox, or all of them without `token`. */
  readonly revoke: (sandboxId: string, token?: string) => Effect.Effect<void>
  /** The sandbox of a token that exists and has not expired. */
  readonly validate: (token: string) => Effect.Effect<Option.Option<{ readonly sandboxId: string }>>
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/** A token as Daytona makes them: 32 characters without `_` or `-`, so it is safe as an SSH user name. */
const newToken = (): string => Array.from({ length: 32 }, () => ALPHABET[randomInt(ALPHABET.length)]).join("")

/**
 * The SSH command Daytona's `SshAccessDto.fromSshAccess` builds from its gateway's host and port.
 *
 * @since 0.2.0
 */
export const sshCommand = (token: string, host: string, port: number): string =>
  port === 22 ? `ssh ${token}@${host}` : `ssh -p ${port} ${token}@${host}`

/**
 * A registry whose commands name the SSH endpoint at `host:port` (`port` is read on each create).
 *
 * @since 0.2.0
 */
export const makeRegistry = (endpoint: { readonly host: string; readonly port: () => number }): SshAccessRegistry => {
  const grants = new Map<string, { readonly sandboxId: string; readonly expiresAt: number }>()
  const revoke = (sandboxId: string, token?: string) =>
    Effect.sync(() => {
      for (const [key, grant] of grants) {
        if (grant.sandboxId === sandboxId && (token === undefined || key === token)) grants.delete(key)
      }
    })
  return {
    create: (sandboxId, expiresInMinutes = 60) =>
      Effect.gen(function* () {
        yield* revoke(sandboxId)
        const now = yield* Clock.currentTimeMillis
        const token = newToken()
        const expiresAt = now + expiresInMinutes * 60_000
        grants.set(token, { sandboxId, expiresAt })
        return {
          id: randomUUID(),
          sandboxId,
          token: Redacted.make(token),
          expiresAt: new Date(expiresAt),
          createdAt: new Date(now),
          sshCommand: Redacted.make(sshCommand(token, endpoint.host, endpoint.port()))
        }
      }),
    revoke,
    validate: (token) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const grant = grants.get(token)
        // Daytona: `expiresAt < now` is expired.
        return grant === undefined || grant.expiresAt < now
          ? Option.none()
          : Option.some({ sandboxId: grant.sandboxId })
      })
  }
}
