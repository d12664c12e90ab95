/**
 * Our records of Daytona's SSH access answers (`SshAccessDto`, `SshAccessValidationDto`), read structurally: the dates
 * come as ISO text whatever the SDK's types say, and an answer without a field we need is a `TypeError`, which the
 * live client's funnel reports as an answer it could not read.
 *
 * @since 0.2.0
 */
import { Option, Predicate, Redacted } from "effect"
import type { SshAccess, SshAccessValidation } from "../services/DaytonaClient.js"

const dateOf = (value: unknown): Option.Option<Date> => {
  const date = value instanceof Date ? value : typeof value === "string" ? new Date(value) : undefined
  return date === undefined || Number.isNaN(date.getTime()) ? Option.none() : Option.some(date)
}

/**
 * An `SshAccessDto` as our {@link SshAccess} (the token and the command that holds it `Redacted`).
 *
 * @since 0.2.0
 */
export const toSshAccess = (dto: unknown): SshAccess => {
  const fields = (Predicate.isRecord(dto) ? dto : {}) as Record<string, unknown>
  const expiresAt = dateOf(fields.expiresAt)
  if (!Predicate.isString(fields.token) || !Predicate.isString(fields.sshCommand) || Option.isNone(expiresAt)) {
    throw new TypeError("the SSH access in Daytona's answer has no token, sshCommand or expiresAt")
  }
  return Object.freeze({
    id: String(fields.id ?? ""),
    sandboxId: String(fields.sandboxId ?? ""),
    token: Redacted.make(fields.token),
    sshCommand: Redacted.make(fields.sshCommand),
    expiresAt: expiresAt.value,
    createdAt: dateOf(fields.createdAt)
  })
}

/**
 * An `SshAccessValidationDto` as our {@link SshAccessValidation} (Daytona sends `sandboxId: null` when invalid).
 *
 * @since 0.2.0
 */
export const toSshValidation = (dto: unknown): SshAccessValidation => {
  const fields = (Predicate.isRecord(dto) ? dto : {}) as Record<string, unknown>
  if (!Predicate.isBoolean(fields.valid)) {
    throw new TypeError("the SSH access validation in Daytona's answer has no valid flag")
  }
  return { valid: fields.valid, sandboxId: Option.liftPredicate(fields.sandboxId, Predicate.isString) }
}
