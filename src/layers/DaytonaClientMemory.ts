/**
 * An in-memory `DaytonaClient` with the semantics of the real API and the live layer, for fast unit
 * tests. Time comes from `Clock` and every wait is an `Effect.sleep`, so `TestClock` drives it.
 *
 * Ids are `sbx-1`, `sbx-2`, …; names are unique among sandboxes that are not destroyed (a taken name
 * fails with `Conflict`, 409). A transition takes its latency ({@link DefaultLatencies}): create goes
 * `creating` → `started`; start `stopped`/`archived`/`paused` → `starting` → `started` (and resets the
 * preview token); stop `started` → `stopping` → `stopped` (and ends the process sessions); recover (only
 * a recoverable `error`) → `starting` → `started`; delete → `destroying` → gone (at once with the
 * default latency 0). create/start/stop/recover then wait like the SDK in polling mode (every 100 ms
 * for 5 s, then up to 1 s apart) until the target state: `SandboxFailed` on `error`/`build_failed`,
 * `Timeout` after 60 s (create: its `timeout`). A start, stop or delete during another transition (a second
 * delete included) fails with `StateChangeInProgress` (409, "Sandbox state change in progress"); a stop of an
 * errored sandbox, or of one not started, with `Invalid` (400, Daytona's texts). Every call is recorded, then consumes a
 * failure queued by `failNext` (before touching any state), and is retried by `Retry.rateLimited`. SSH access works as
 * on Daytona (`DaytonaClientMemorySsh.ts`), warm pools too (`DaytonaClientMemoryWarmPools.ts`).
 *
 * Unlike the real API, a sandbox put in place with `seed` or `setState` stays in its state until
 * something moves it; `stickState` makes a timed transitional state.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import * as Retry from "../policies/Retry.js"
import { AmbiguousSandbox, DaytonaApiError, DaytonaClient, SID_LABEL } from "../services/DaytonaClient.js"
import type { DaytonaClientService } from "../services/DaytonaClient.js"
import { isFailed, makeStore, SETTLES_TO, TRANSITIONAL, Waits } from "./DaytonaClientMemoryStore.js"
import { makeSshAccess } from "./DaytonaClientMemorySsh.js"
import { makeWarmPools } from "./DaytonaClientMemoryWarmPools.js"
import type { ClientMethod, Entry, MemoryControl } from "./DaytonaClientMemoryStore.js"

/**
 * How long each transition takes.
 *
 * @since 0.1.0
 */
export interface MemoryLatencies {
  readonly create: Duration.DurationInput
  readonly start: Duration.DurationInput
  readonly stop: Duration.DurationInput
  readonly delete: Duration.DurationInput
  readonly recover: Duration.DurationInput
}

/**
 * The default latencies: create 2 s, start 1 s, stop 1 s, delete 0 (gone at once), recover 1 s.
 *
 * @since 0.1.0
 */
export const DefaultLatencies: MemoryLatencies = {
  create: "2 seconds",
  start: "1 second",
  stop: "1 second",
  delete: Duration.zero,
  recover: "1 second"
}

/**
 * Options of the in-memory client.
 *
 * @since 0.1.0
 */
export interface MemoryOptions {
  readonly latencies?: Partial<MemoryLatencies> | undefined
  /** The base of preview URLs (`${previewBase}/${id}/${port}`); no server is behind it. */
  readonly previewBase?: string | undefined
}

/** The default {@link MemoryOptions.previewBase}. */
export const DefaultPreviewBase = "http://127.0.0.1:4444-preview"

export { Waits } from "./DaytonaClientMemoryStore.js"

export type {
  ClientMethod,
  MemoryControl,
  RecordedCall,
  RecordedCommand,
  SeedSandbox
} from "./DaytonaClientMemoryStore.js"

/**
 * The control of the in-memory client, provided beside it by {@link layer}.
 *
 * @since 0.1.0
 * @category tags
 */
export class DaytonaClientMemoryControl extends Context.Tag("effect-daytona/DaytonaClientMemoryControl")<
  DaytonaClientMemoryControl,
  MemoryControl
>() {}

/**
 * Builds an in-memory client and its control.
 *
 * @since 0.1.0
 */
export const make = (
  options?: MemoryOptions
): Effect.Effect<{ readonly client: DaytonaClientService; readonly control: MemoryControl }> =>
  Effect.sync(() => {
    const latencies = { ...DefaultLatencies, ...options?.latencies }
    const toMs = (key: keyof MemoryLatencies) => Duration.toMillis(Duration.decode(latencies[key]))
    const previewBase = options?.previewBase ?? DefaultPreviewBase
    const store = makeStore({
      create: toMs("create"),
      start: toMs("start"),
      stop: toMs("stop"),
      delete: toMs("delete"),
      recover: toMs("recover")
    })
    const ms = (key: keyof MemoryLatencies) => store.latencyMs[key]
    const { entries, fail, find, now, toRecord } = store

    const inProgress = (method: ClientMethod, id: string) =>
      fail(method, "StateChangeInProgress", "Sandbox state change in progress", { status: 409, sandboxId: id })
    const waitStarted = (method: ClientMethod, id: string, bound: Duration.DurationInput = Waits.bound) =>
      Effect.flatMap(store.waitFor(method, id, "started", bound), (record) =>
        Option.isSome(record) ? Effect.succeed(record.value) : store.notFound(method, id)
      )
    const started = (method: ClientMethod, id: string) =>
      Effect.flatMap(find(method, id), (found) =>
        found.entry.state === "started"
          ? Effect.succeed(found)
          : fail(method, "Invalid", `Sandbox ${id} is not started (state ${found.entry.state})`, {
              status: 400,
              sandboxId: id
            })
      )

    /** Records the call, consumes a queued failure, runs `body`; retried on 429 like the live client. */
    const op = <A>(method: ClientMethod, sandboxId: string | undefined, body: Effect.Effect<A, DaytonaApiError>) =>
      Effect.suspend(() => {
        store.calls.push(sandboxId === undefined ? { method } : { method, sandboxId })
        const queued = store.failures.get(method)?.shift()
        return queued === undefined ? body : Effect.fail(queued)
      }).pipe(
        Effect.retry(Retry.rateLimited),
        Effect.withSpan(`DaytonaClient.${method}`, {
          attributes: sandboxId === undefined ? {} : { "daytona.sandbox.id": sandboxId }
        })
      )

    const matching = (labels: Readonly<Record<string, string>>) =>
      Effect.map(now, () =>
        [...entries.values()]
          .filter((e) => e.state !== "destroyed" && Object.entries(labels).every(([k, v]) => e.labels[k] === v))
          .map(toRecord)
      )

    const startFrom = (method: "start" | "recover", e: Entry, t: number, latencyMs: number) =>
      Effect.flatMap(store.randomToken("preview"), (token) => {
        e.state = "starting"
        e.pending = { state: "started", at: t + latencyMs }
        e.token = token
        e.lastActivityAt = t
        return waitStarted(method, e.id)
      })

    const warmPools = makeWarmPools(store, op)

    const client: DaytonaClientService = {
      list: (labels) => op("list", undefined, matching(labels)),

      findBySid: (sid) =>
        op("findBySid", undefined, matching({ [SID_LABEL]: sid })).pipe(
          Effect.flatMap((all) => {
            const live = all.filter((s) => s.state !== "destroyed" && s.state !== "destroying")
            if (live.length <= 1) return Effect.succeed(Option.fromNullable(live[0]))
            return Effect.fail(new AmbiguousSandbox({ sid, sandboxIds: live.map((s) => s.id) }))
          })
        ),

      create: (params) =>
        op(
          "create",
          undefined,
          Effect.gen(function* () {
            const t = yield* now
            const name = params.name
            const holder = name === undefined ? undefined : store.byIdOrName(name)
            if (holder !== undefined && holder.state !== "destroyed") {
              return yield* fail("create", "Conflict", `Sandbox with name ${name} already exists`, { status: 409 })
            }
            const id = store.nextId()
            const language = params.language ?? "python"
            const entry = store.newEntry(
              {
                id,
                name: name ?? id,
                state: "creating",
                labels: { ...params.labels, "code-toolbox-language": language },
                env: { ...params.envVars },
                public: params.public,
                snapshot: params.snapshot,
                autoStopInterval: params.autoStopInterval
              },
              t,
              yield* store.randomToken("preview")
            )
            const stick = store.state.nextCreateStick
            store.state.nextCreateStick = undefined
            const claimed = stick === undefined && warmPools.serves(params.snapshot, params.envVars)
            if (claimed) entry.state = "started"
            else if (stick === undefined) entry.pending = { state: "started", at: t + ms("create") }
            else {
              entry.state = stick.state
              entry.pending = { state: SETTLES_TO[stick.state] ?? "started", at: t + stick.ms }
            }
            const allocated = store.allocateFailures.shift()
            if (allocated !== undefined) return yield* Effect.fail(allocated)
            return {
              ...(yield* waitStarted("create", id, params.timeout ?? Waits.bound)),
              claimedFromWarmPool: claimed
            }
          })
        ),

      get: (idOrName) =>
        op(
          "get",
          idOrName,
          Effect.map(find("get", idOrName), ({ entry }) => toRecord(entry))
        ),

      start: (id) =>
        op(
          "start",
          id,
          Effect.flatMap(find("start", id), ({ entry: e, now: t }) => {
            if (e.state === "started") return Effect.succeed(toRecord(e))
            if (e.state === "stopped" || e.state === "archived" || e.state === "paused") {
              return startFrom("start", e, t, ms("start"))
            }
            if (isFailed(e.state)) return store.failed("start", e)
            if (TRANSITIONAL.has(e.state)) return inProgress("start", id)
            return fail("start", "Invalid", `Sandbox ${id} cannot be started from state ${e.state}`, {
              status: 400,
              sandboxId: id
            })
          })
        ),

      recover: (id) =>
        op(
          "recover",
          id,
          Effect.flatMap(find("recover", id), ({ entry: e, now: t }) => {
            if (e.state === "error" && e.recoverable) {
              e.errorReason = undefined
              e.recoverable = false
              return startFrom("recover", e, t, ms("recover"))
            }
            const why = e.state === "error" ? "is not recoverable" : `is not in error state (state ${e.state})`
            return fail("recover", "Invalid", `Sandbox ${id} ${why}`, { status: 400, sandboxId: id })
          })
        ),

      stop: (id) =>
        op(
          "stop",
          id,
          Effect.flatMap(find("stop", id), ({ entry: e, now: t }) => {
            // As Daytona answers: an errored sandbox, a change under way, then anything but started.
            if (isFailed(e.state)) {
              return fail("stop", "SandboxFailed", "Sandbox is in an errored state", { status: 400, sandboxId: id })
            }
            if (TRANSITIONAL.has(e.state)) return inProgress("stop", id)
            if (e.state !== "started") {
              return fail("stop", "Invalid", "Sandbox is not in a stoppable state", { status: 400, sandboxId: id })
            }
            e.state = "stopping"
            e.pending = { state: "stopped", at: t + ms("stop") }
            e.lastActivityAt = t
            e.sessions.clear()
            return Effect.asVoid(store.waitFor("stop", id, "stopped", Waits.bound))
          })
        ),

      delete: (id) =>
        op(
          "delete",
          id,
          Effect.flatMap(find("delete", id), ({ entry: e, now: t }) => {
            // As Daytona answers: no delete while a state change (a second delete included) is under way.
            if (TRANSITIONAL.has(e.state)) return inProgress("delete", id)
            if (ms("delete") <= 0) {
              entries.delete(e.id)
            } else {
              e.state = "destroying"
              e.pending = { state: "destroyed", at: t + ms("delete") }
            }
            return Effect.void
          })
        ),

      waitUntilStarted: (id) => op("waitUntilStarted", id, waitStarted("waitUntilStarted", id)),

      waitUntilStopped: (id) =>
        op("waitUntilStopped", id, Effect.asVoid(store.waitFor("waitUntilStopped", id, "stopped", Waits.bound))),

      setLabels: (id, labels) =>
        op(
          "setLabels",
          id,
          Effect.map(find("setLabels", id), ({ entry }) => {
            for (const key of Object.keys(entry.labels)) delete entry.labels[key]
            Object.assign(entry.labels, labels)
          })
        ),

      refreshActivity: (id) =>
        op(
          "refreshActivity",
          id,
          Effect.map(find("refreshActivity", id), ({ entry, now: t }) => {
            entry.lastActivityAt = t
          })
        ),

      previewLink: (id, port) =>
        op(
          "previewLink",
          id,
          Effect.map(find("previewLink", id), ({ entry }) => ({
            url: `${previewBase}/${entry.id}/${port}`,
            token: Redacted.make(entry.token)
          }))
        ),

      signedPreviewUrl: (id, port, expiresInSeconds) =>
        op(
          "signedPreviewUrl",
          id,
          Effect.flatMap(find("signedPreviewUrl", id), ({ entry }) =>
            Effect.map(store.randomToken("signed"), (signed) => ({
              url: Redacted.make(`${previewBase}/${entry.id}/${port}?token=${signed}`),
              expiresInSeconds
            }))
          )
        ),

      createSession: (id, sessionId) =>
        op(
          "createSession",
          id,
          Effect.flatMap(started("createSession", id), ({ entry }) => {
            if (entry.sessions.has(sessionId)) {
              return fail("createSession", "Conflict", `session ${sessionId} already exists`, {
                status: 409,
                sandboxId: id
              })
            }
            entry.sessions.add(sessionId)
            return Effect.void
          })
        ),

      executeSessionCommand: (id, sessionId, command, options) =>
        op(
          "executeSessionCommand",
          id,
          Effect.flatMap(started("executeSessionCommand", id), ({ entry }) => {
            if (!entry.sessions.has(sessionId)) {
              return fail("executeSessionCommand", "NotFound", "session not found", { status: 404, sandboxId: id })
            }
            const runAsync = options?.runAsync === true
            const cmdId = `cmd-${++store.state.commands}`
            store.commands.push({ sandboxId: entry.id, sessionId, command, runAsync })
            store.commandIds.set(cmdId, { sandboxId: entry.id, sessionId })
            return Effect.succeed({
              cmdId,
              exitCode: runAsync ? Option.none() : Option.some(0),
              output: runAsync ? "" : store.state.commandOutput
            })
          })
        ),

      sessionCommandLogs: (id, sessionId, cmdId) =>
        op(
          "sessionCommandLogs",
          id,
          Effect.flatMap(find("sessionCommandLogs", id), ({ entry }) => {
            const known = store.commandIds.get(cmdId)
            return known === undefined || known.sandboxId !== entry.id || known.sessionId !== sessionId
              ? fail("sessionCommandLogs", "NotFound", `command ${cmdId} not found`, { status: 404, sandboxId: id })
              : Effect.succeed({ output: store.state.commandOutput, stdout: store.state.commandOutput, stderr: "" })
          })
        ),

      ...makeSshAccess(store, op),
      ...warmPools.methods
    }

    return { client, control: store.control }
  })

/**
 * The in-memory `DaytonaClient` and its {@link DaytonaClientMemoryControl}.
 *
 * @since 0.1.0
 */
export const layer = (options?: MemoryOptions): Layer.Layer<DaytonaClient | DaytonaClientMemoryControl> =>
  Layer.effectContext(
    Effect.map(make(options), ({ client, control }) =>
      Context.make(DaytonaClient, client).pipe(Context.add(DaytonaClientMemoryControl, control))
    )
  )
