/**
 * SSH access tokens, as Daytona's API keeps them (`createSshAccess`, `revokeSshAccess`, `validateSshAccess` in
 * `sandbox.service.ts`): one live token per sandbox (a new one revokes the others), 32 letters and digits,
 * an expiry in minutes (default 60). The emulator's SSH server asks {@link SshAccess.validateSshToken}.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import type { Redacted } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import type { HttpFailure, SandboxRecord } from "./Dto.js"

/**
 * One SSH access grant.
 *
 * @since 0.1.0
 */
export interface SshGrant {
  readonly id: string
  readonly sandboxId: string
  readonly token: string
  readonly expiresAt: Date
  readonly createdAt: Date
  readonly updatedAt: Date
}

/**
 * One SSH access as the emulator's control hands it out (the token and the command that holds it `Redacted`).
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
 * The SSH access part of the store.
 *
 * @since 0.1.0
 */
export interface SshAccess {
  /** Revokes the sandbox's other tokens and makes a new one. */
  readonly createSshAccess: (idOrName: string, expiresInMinutes: number) => Effect.Effect<SshGrant, HttpFailure>
  /** Revokes one token, or every token of the sandbox when none is given; answers with the sandbox. */
  readonly revokeSshAccess: (idOrName: string, token: string | undefined) => Effect.Effect<SandboxRecord, HttpFailure>
  /**
   * What the SSH server calls for a login: the sandbox and its OS user when the token is known, unexpired and its
   * sandbox still exists; none otherwise.
   */
  readonly validateSshToken: (
    token: string
  ) => Effect.Effect<Option.Option<{ readonly sandboxId: string; readonly user: string }>>
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/** 32 letters and digits (Daytona: a nanoid without `_` and `-`, so the token is safe on a command line). */
const newSshToken = () => Array.from(randomBytes(32), (byte) => ALPHABET[byte % ALPHABET.length]).join("")

/**
 * Makes the SSH access part over the store's lookups.
 *
 * @since 0.1.0
 */
export const makeSshAccess = (deps: {
  readonly find: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  readonly lookupById: (id: string) => Option.Option<SandboxRecord>
  readonly now: Effect.Effect<Date>
}): SshAccess => {
  const grants = new Map<string, SshGrant>()

  const revokeFor = (sandboxId: string, token?: string) => {
    for (const [key, grant] of grants) {
      if (grant.sandboxId === sandboxId && (token === undefined || key === token)) grants.delete(key)
    }
  }

  return {
    createSshAccess: (idOrName, expiresInMinutes) =>
      Effect.gen(function* () {
        const sandbox = yield* deps.find(idOrName)
        const at = yield* deps.now
        for (const [key, grant] of grants) if (grant.expiresAt.getTime() < at.getTime()) grants.delete(key)
        revokeFor(sandbox.id)
        const grant: SshGrant = {
          id: randomUUID(),
          sandboxId: sandbox.id,
          token: newSshToken(),
          expiresAt: new Date(at.getTime() + expiresInMinutes * 60_000),
          createdAt: at,
          updatedAt: at
        }
        grants.set(grant.token, grant)
        return grant
      }),
    revokeSshAccess: (idOrName, token) =>
      Effect.map(deps.find(idOrName), (sandbox) => {
        revokeFor(sandbox.id, token)
        return sandbox
      }),
    validateSshToken: (token) =>
      Effect.map(deps.now, (at) => {
        const grant = grants.get(token)
        if (grant === undefined || grant.expiresAt.getTime() < at.getTime()) return Option.none()
        return Option.map(deps.lookupById(grant.sandboxId), (sandbox) => ({
          sandboxId: sandbox.id,
          user: sandbox.user
        }))
      })
  }
}

/**
 * The SSH command Daytona's `SshAccessDto.fromSshAccess` builds from its gateway's host and port.
 *
 * @since 0.2.0
 */
export const sshCommand = (token: string, host: string, port: number | string): string =>
  String(port) === "22" ? `ssh ${token}@${host}` : `ssh -p ${port} ${token}@${host}`
