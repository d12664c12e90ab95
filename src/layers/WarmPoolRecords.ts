/**
 * Warm pools in the live client: our record of Daytona's `WarmPool` DTO, and the one fact that tells a warm-pool claim
 * from a fresh sandbox — the state Daytona answered the create request with.
 *
 * Daytona's API (`sandbox.controller.ts` `createSandbox`, daytonaio/daytona v0.190.0) answers a create served from a
 * warm pool with the claimed sandbox, already `started`; a fresh one it answers after waiting (at most 30 s) for it to
 * start, but with the record it made at the insert — `creating`. The SDK hides that answer (its `create` waits until
 * `started` whenever the answer says otherwise), so {@link watchCreateAnswers} reads it where it passes: a response
 * interceptor on the SDK's own axios instance of its sandbox API.
 *
 * @since 0.2.0
 */
import { Option, Predicate, Redacted } from "effect"
import type { WarmPool } from "../services/DaytonaClient.js"

const dateOf = (value: unknown): Option.Option<Date> => {
  const date = value instanceof Date ? value : typeof value === "string" ? new Date(value) : undefined
  return date === undefined || Number.isNaN(date.getTime()) ? Option.none() : Option.some(date)
}

const numberOf = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

/**
 * A `WarmPool` DTO as our {@link WarmPool} (env values `Redacted`). An answer without an id or a snapshot is a
 * `TypeError`, which the live client's funnel reports as an answer it could not read.
 *
 * @since 0.2.0
 */
export const toWarmPool = (dto: unknown): WarmPool => {
  const fields = (Predicate.isRecord(dto) ? dto : {}) as Record<string, unknown>
  if (!Predicate.isString(fields.id) || !Predicate.isString(fields.snapshot)) {
    throw new TypeError("the warm pool in Daytona's answer has no id or snapshot")
  }
  const env = Predicate.isRecord(fields.env) ? fields.env : {}
  return Object.freeze({
    id: fields.id,
    organizationId: String(fields.organizationId ?? ""),
    snapshot: fields.snapshot,
    target: String(fields.target ?? ""),
    pool: numberOf(fields.pool),
    currentSize: numberOf(fields.currentSize),
    cpu: numberOf(fields.cpu),
    memoryGiB: numberOf(fields.mem),
    diskGiB: numberOf(fields.disk),
    osUser: String(fields.osUser ?? ""),
    env: Object.freeze(
      Object.fromEntries(Object.entries(env).map(([key, value]) => [key, Redacted.make(String(value))]))
    ),
    errorReason: Option.liftPredicate(
      fields.errorReason,
      (reason): reason is string => Predicate.isString(reason) && reason !== ""
    ),
    createdAt: dateOf(fields.createdAt),
    updatedAt: dateOf(fields.updatedAt)
  })
}

/**
 * The states Daytona answered create requests with, by sandbox id.
 *
 * @since 0.2.0
 */
export interface CreateAnswers {
  /** Whether the hook is in place (the SDK's shape was as expected). */
  readonly watching: boolean
  /** The state the create of sandbox `id` was answered with, once (it is forgotten when read). */
  readonly take: (id: string) => Option.Option<string>
}

/** The most answers kept unread (a create whose caller went away leaves its answer behind). */
const MAX_UNREAD = 1_000

interface Interceptable {
  readonly sandboxApi?: {
    readonly axios?: {
      readonly interceptors?: {
        readonly response?: { readonly use?: (onFulfilled: (response: unknown) => unknown) => unknown }
      }
    }
  }
}

/** `POST …/sandbox` (the create), whatever the base path. */
const isCreate = (config: Record<string, unknown>): boolean =>
  String(config.method ?? "").toLowerCase() === "post" &&
  /\/sandbox\/?$/.test(String(config.url ?? "").split("?")[0] ?? "")

/**
 * Installs the hook on an SDK `Daytona` client: every answer to a create is recorded (its id and state) as it passes
 * through the SDK's axios instance. Nothing else is read or changed; when the client has no such instance (another SDK
 * version), `watching` is false and every `take` is none.
 *
 * @since 0.2.0
 */
export const watchCreateAnswers = (daytona: unknown): CreateAnswers => {
  const answers = new Map<string, string>()
  const use = (daytona as Interceptable | undefined)?.sandboxApi?.axios?.interceptors?.response?.use
  if (typeof use !== "function") return { watching: false, take: () => Option.none() }
  const interceptors = (daytona as Required<Interceptable>).sandboxApi.axios!.interceptors!.response!
  use.call(interceptors, (response: unknown) => {
    const fields = Predicate.isRecord(response) ? response : {}
    const config = Predicate.isRecord(fields.config) ? fields.config : {}
    const data = Predicate.isRecord(fields.data) ? fields.data : {}
    if (isCreate(config) && Predicate.isString(data.id) && Predicate.isString(data.state)) {
      if (answers.size >= MAX_UNREAD) answers.delete(answers.keys().next().value!)
      answers.set(data.id, data.state)
    }
    return response
  })
  return {
    watching: true,
    take: (id) => {
      const state = answers.get(id)
      answers.delete(id)
      return Option.fromNullable(state)
    }
  }
}

/**
 * Whether a create was served from a warm pool, from the state it was answered with: see {@link WarmPoolRecords}.
 *
 * @since 0.2.0
 */
export const claimedFromAnswer = (answer: Option.Option<string>): boolean | undefined =>
  Option.match(answer, { onNone: () => undefined, onSome: (state) => state === "started" })
