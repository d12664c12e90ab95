/**
 * The `DaytonaClient` over `@daytonaio/sdk` — the only module of the project that uses the SDK.
 *
 * - The SDK is loaded lazily, when the layer is built, so importing the package root (or running
 *   `--help`) never loads it.
 * - The client runs in the SDK's default mode: it opens a Socket.IO connection to Daytona's event
 *   gateway (`{apiUrl}/socket.io/`, WebSocket only) when it is built, and its state waits end on the
 *   `sandbox.state.updated` event, with a `GET /sandbox/{id}` every second as a safety net. Where the
 *   gateway cannot be reached (a proxy that refuses WebSocket upgrades), the waits fall back to polling
 *   and the SDK's own switch `DAYTONA_USE_DEPRECATED_POLLING=true` turns the socket off. The SDK client is
 *   disposed when the layer's scope closes, and its socket and reconnect timers with it: a process never
 *   stays alive because of them.
 * - Every SDK call goes through one funnel: a span `DaytonaClient.<method>`, a timeout a little longer
 *   than the SDK's own (so the SDK reports first), SDK errors mapped to `DaytonaApiError`
 *   (`SdkErrors.fromSdkError`, which keeps only a sanitized summary as the cause), any other throwable
 *   a defect, and `Retry.rateLimited` (a 429 waits its `Retry-After`, then one more try).
 * - SDK sandboxes from create/get/list are cached by id, so start/stop/delete/previews/sessions do not
 *   fetch them again; a miss calls `daytona.get(id)`.
 *
 * @since 0.1.0
 */
import type * as Sdk from "@daytonaio/sdk"
import { Clock, Duration, Effect, identity, Layer, Option, Redacted } from "effect"
import type { Scope } from "effect"
import * as Retry from "../policies/Retry.js"
import {
  ACQUIRE_LABEL,
  AmbiguousSandbox,
  checkSshExpiry,
  DaytonaApiError,
  DaytonaClient,
  SID_LABEL
} from "../services/DaytonaClient.js"
import type { DaytonaClientService, Sandbox } from "../services/DaytonaClient.js"
import { DaytonaConfig } from "../services/DaytonaConfig.js"
import { fromSdkError, sanitizeDefect } from "./SdkErrors.js"
import { toSshAccess, toSshValidation } from "./SshAccessRecords.js"
import { claimedFromAnswer, toWarmPool, watchCreateAnswers } from "./WarmPoolRecords.js"

/**
 * The time limits of the live client.
 *
 * @since 0.1.0
 */
export const Timeouts = {
  /** The SDK's per-request timeout (`requestTimeoutMs`) for calls that set none of their own. */
  request: Duration.seconds(30),
  /** create/start/stop/recover/delete and the state waits (the SDK's own default). */
  lifecycle: Duration.seconds(60),
  /** Added to the SDK's timeout to make ours, so the SDK reports first. */
  margin: Duration.seconds(5),
  /** Listing, all pages together. */
  list: Duration.minutes(2),
  /** Disposing the SDK client when the scope closes. */
  dispose: Duration.seconds(5)
} as const

type Method = keyof DaytonaClientService

const optionalDate = (value: string | undefined): Option.Option<Date> => {
  if (value === undefined) return Option.none()
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? Option.none() : Option.some(date)
}

/**
 * Our immutable record of an SDK sandbox; an unknown state is kept as it came.
 *
 * @since 0.1.0
 */
export const toRecord = (sandbox: Sdk.Sandbox): Sandbox =>
  Object.freeze({
    id: sandbox.id,
    name: sandbox.name ?? sandbox.id,
    // Kept as it came, as text (a body with a number or an object there must not break what reads it).
    state: sandbox.state === undefined || sandbox.state === null ? "unknown" : String(sandbox.state),
    ...(typeof sandbox.desiredState === "string" ? { desiredState: sandbox.desiredState } : {}),
    labels: Object.freeze({ ...sandbox.labels }),
    env: Object.freeze(
      Object.fromEntries(Object.entries(sandbox.env ?? {}).map(([key, value]) => [key, Redacted.make(value)]))
    ),
    public: sandbox.public === true,
    target: sandbox.target ?? "",
    snapshot: Option.fromNullable(sandbox.snapshot),
    errorReason: Option.fromNullable(sandbox.errorReason),
    recoverable: sandbox.recoverable === true,
    autoStopInterval: Option.fromNullable(sandbox.autoStopInterval),
    createdAt: optionalDate(sandbox.createdAt),
    lastActivityAt: optionalDate(sandbox.lastActivityAt),
    ...(typeof sandbox.cpu === "number" && typeof sandbox.memory === "number" && typeof sandbox.disk === "number"
      ? { resources: { cpu: sandbox.cpu, memoryGiB: sandbox.memory, diskGiB: sandbox.disk } }
      : {})
  })

/**
 * A session command's combined output without the daemon's stream markers (`\x01\x01\x01` before stdout,
 * `\x02\x02\x02` before stderr), which its raw `output` carries.
 */
const withoutStreamMarkers = (output: string): string => output.replace(/\u0001\u0001\u0001|\u0002\u0002\u0002/g, "")

const seconds = (duration: Duration.Duration): number => Duration.toMillis(duration) / 1000

/**
 * Whether a throwable that is not an SDK error comes from an answer the SDK could not read: a body
 * that is not JSON or lacks a field makes the SDK (and its generated API client) throw `TypeError`,
 * `SyntaxError` or `RequiredError` instead of a `DaytonaError`.
 */
const isUnreadableAnswer = (error: unknown): error is Error =>
  error instanceof TypeError ||
  error instanceof SyntaxError ||
  (error instanceof Error && error.name === "RequiredError")

const unreadableAnswer = (
  operation: string,
  sandboxId: string | undefined,
  error: Error,
  secrets: ReadonlyArray<string>
): DaytonaApiError => {
  const clean = sanitizeDefect(error, secrets) as Error
  return new DaytonaApiError({
    reason: "Unknown",
    operation,
    sandboxId,
    detail: `Daytona's answer could not be read (${clean.name}: ${clean.message.slice(0, 200)})`,
    cause: { name: clean.name, message: clean.message }
  })
}

/**
 * Builds the client service; the SDK client lives as long as the scope.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<DaytonaClientService, never, DaytonaConfig | Scope.Scope> = Effect.gen(function* () {
  const config = yield* DaytonaConfig
  const sdk = yield* Effect.promise(() => import("@daytonaio/sdk"))
  const apiKey = Redacted.value(config.apiKey)
  const secrets = [apiKey]
  const daytona = yield* Effect.acquireRelease(
    Effect.sync(
      () =>
        new sdk.Daytona({
          apiKey,
          apiUrl: config.apiUrl,
          target: config.target,
          requestTimeoutMs: Duration.toMillis(Timeouts.request)
        })
    ),
    (client) =>
      Effect.tryPromise(() => client[Symbol.asyncDispose]()).pipe(
        Effect.timeout(Timeouts.dispose),
        Effect.catchAll(() => Effect.logWarning("The Daytona SDK client did not dispose cleanly"))
      )
  )

  // What Daytona answered each create with: `started` only for a warm-pool claim (see WarmPoolRecords).
  const createAnswers = watchCreateAnswers(daytona)
  if (!createAnswers.watching) {
    yield* Effect.logDebug("the SDK's create answers cannot be read: whether a create was claimed stays unknown")
  }

  const cache = new Map<string, Sdk.Sandbox>()
  const remember = (sandbox: Sdk.Sandbox): Sdk.Sandbox => {
    if (typeof sandbox.id !== "string") throw new TypeError("the sandbox in Daytona's answer has no id")
    cache.set(sandbox.id, sandbox)
    return sandbox
  }
  const sandboxFor = async (id: string): Promise<Sdk.Sandbox> => cache.get(id) ?? remember(await daytona.get(id))
  /** The SDK sandbox with fresh data: a cached one is refreshed, a missing one fetched. */
  const freshSandbox = async (id: string): Promise<Sdk.Sandbox> => {
    const cached = cache.get(id)
    if (cached === undefined) return remember(await daytona.get(id))
    await cached.refreshData()
    return cached
  }

  /** The funnel every SDK call goes through. */
  const call = <A>(
    method: Method,
    sandboxId: string | undefined,
    sdkTimeout: Duration.Duration,
    run: (signal: AbortSignal) => Promise<A>,
    retryRateLimited = true,
    /** Secrets of this call besides the API key (an SSH token in a query string), kept out of every error. */
    callSecrets: ReadonlyArray<string> = []
  ): Effect.Effect<A, DaytonaApiError> => {
    const operation = `DaytonaClient.${method}`
    const limit = Duration.sum(sdkTimeout, Timeouts.margin)
    const hidden = callSecrets.length === 0 ? secrets : [...secrets, ...callSecrets]
    return Effect.tryPromise({ try: (signal) => run(signal), catch: identity }).pipe(
      Effect.catchAll((error) =>
        error instanceof sdk.DaytonaError
          ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.fail(fromSdkError(error, { operation, sandboxId, now, secrets: hidden }))
            )
          : isUnreadableAnswer(error)
            ? Effect.fail(unreadableAnswer(operation, sandboxId, error, hidden))
            : Effect.die(sanitizeDefect(error, hidden))
      ),
      Effect.timeoutFail({
        duration: limit,
        onTimeout: () =>
          new DaytonaApiError({
            reason: "Timeout",
            operation,
            sandboxId,
            detail: `no answer from Daytona within ${Duration.format(limit)}`
          })
      }),
      // After a failure the cached SDK sandbox may hold a half-applied answer (a garbage body overwrites its
      // fields, its id included): forget it, so the next call reads the sandbox afresh.
      Effect.tapError(() =>
        Effect.sync(() => {
          if (sandboxId !== undefined) cache.delete(sandboxId)
        })
      ),
      retryRateLimited ? Effect.retry(Retry.rateLimited) : identity,
      // A stack trace taken here would always point at this funnel; capturing it cost ≈ 45 µs per call.
      Effect.withSpan(operation, {
        attributes: sandboxId === undefined ? {} : { "daytona.sandbox.id": sandboxId },
        captureStackTrace: false
      })
    )
  }

  const listWith = (method: Method, labels: Readonly<Record<string, string>>) =>
    call(method, undefined, Timeouts.list, async (signal) => {
      const found: Array<Sandbox> = []
      for await (const sandbox of daytona.list({ labels: { ...labels } })) {
        if (signal.aborted) break
        found.push(toRecord(remember(sandbox)))
      }
      return found
    })

  const lifecycleSeconds = seconds(Timeouts.lifecycle)

  const waitUntilStarted = (id: string) =>
    call("waitUntilStarted", id, Timeouts.lifecycle, async () => {
      const sandbox = await freshSandbox(id)
      await sandbox.waitUntilStarted(lifecycleSeconds)
      return toRecord(sandbox)
    })

  return DaytonaClient.of({
    list: (labels) => listWith("list", labels),

    findBySid: (sid) =>
      listWith("findBySid", { [SID_LABEL]: sid }).pipe(
        Effect.flatMap((all) => {
          const live = all.filter((sandbox) => sandbox.state !== "destroyed" && sandbox.state !== "destroying")
          if (live.length === 0) return Effect.succeed(Option.none<Sandbox>())
          if (live.length === 1) return Effect.succeed(Option.some(live[0]!))
          return Effect.fail(new AmbiguousSandbox({ sid, sandboxIds: live.map((sandbox) => sandbox.id) }))
        })
      ),

    create: (params) => {
      const timeout = Duration.decode(params.timeout ?? Timeouts.lifecycle)
      const once = call(
        "create",
        undefined,
        timeout,
        async () => {
          const sandbox = await daytona.create(
            {
              language: params.language ?? "python",
              envVars: { ...params.envVars },
              // The SDK adds `code-toolbox-language` to the object it is given: hand it a copy.
              labels: { ...params.labels },
              public: params.public,
              autoStopInterval: params.autoStopInterval,
              ...(params.name === undefined ? {} : { name: params.name }),
              ...(params.snapshot === undefined ? {} : { snapshot: params.snapshot })
            },
            { timeout: seconds(timeout) }
          )
          const claimed = claimedFromAnswer(createAnswers.take(sandbox.id))
          return claimed === undefined
            ? toRecord(remember(sandbox))
            : { ...toRecord(remember(sandbox)), claimedFromWarmPool: claimed }
        },
        false
      )
      // A 429 may come from the SDK's state poll after the sandbox was allocated: when the request carries a
      // label unique to it, the retry adopts that sandbox (waiting until it is started) instead of making a second.
      const acquireId = params.labels[ACQUIRE_LABEL]
      const adoptOrCreate =
        acquireId === undefined
          ? once
          : Effect.flatMap(listWith("create", { [ACQUIRE_LABEL]: acquireId }), (found) => {
              const live = found.find((s) => s.state !== "destroyed" && s.state !== "destroying")
              return live === undefined ? once : waitUntilStarted(live.id)
            })
      return Effect.suspend(() => {
        let first = true
        return Effect.suspend(() => {
          const attempt = first ? once : adoptOrCreate
          first = false
          return attempt
        }).pipe(Effect.retry(Retry.rateLimited))
      })
    },

    get: (idOrName) =>
      call("get", idOrName, Timeouts.request, async () => toRecord(remember(await daytona.get(idOrName)))),

    start: (id) =>
      call("start", id, Timeouts.lifecycle, async () => {
        const sandbox = await sandboxFor(id)
        await sandbox.start(lifecycleSeconds)
        return toRecord(sandbox)
      }),

    recover: (id) =>
      call("recover", id, Timeouts.lifecycle, async () => {
        const sandbox = await sandboxFor(id)
        await sandbox.recover(lifecycleSeconds)
        return toRecord(sandbox)
      }),

    stop: (id) =>
      call("stop", id, Timeouts.lifecycle, async () => {
        const sandbox = await sandboxFor(id)
        await sandbox.stop(lifecycleSeconds)
        // A stopped sandbox's object is not kept: a later start or attach reads it again anyway, and a process
        // that runs thousands of runtimes would otherwise hold thousands of them.
        cache.delete(id)
      }),

    delete: (id) =>
      call("delete", id, Timeouts.lifecycle, async () => {
        const sandbox = await sandboxFor(id)
        await sandbox.delete(lifecycleSeconds)
        cache.delete(id)
      }),

    waitUntilStarted,

    waitUntilStopped: (id) =>
      call("waitUntilStopped", id, Timeouts.lifecycle, async () => {
        let sandbox: Sdk.Sandbox
        try {
          sandbox = await freshSandbox(id)
        } catch (error) {
          // Gone counts as stopped, as in the SDK's own stop wait.
          if (error instanceof sdk.DaytonaNotFoundError) {
            cache.delete(id)
            return
          }
          throw error
        }
        await sandbox.waitUntilStopped(lifecycleSeconds)
      }),

    setLabels: (id, labels) =>
      call("setLabels", id, Timeouts.request, async () => {
        await (await sandboxFor(id)).setLabels({ ...labels })
      }),

    refreshActivity: (id) =>
      call("refreshActivity", id, Timeouts.request, async () => {
        const sandbox = await sandboxFor(id)
        await sandbox.refreshActivity()
      }),

    previewLink: (id, port) =>
      call("previewLink", id, Timeouts.request, async () => {
        const link = await (await sandboxFor(id)).getPreviewLink(port)
        if (typeof link?.url !== "string" || typeof link.token !== "string") {
          throw new TypeError("the preview link in Daytona's answer has no url or token")
        }
        return { url: link.url, token: Redacted.make(link.token) }
      }),

    signedPreviewUrl: (id, port, expiresInSeconds) =>
      call("signedPreviewUrl", id, Timeouts.request, async () => {
        const signed = await (await sandboxFor(id)).getSignedPreviewUrl(port, expiresInSeconds)
        if (typeof signed?.url !== "string") {
          throw new TypeError("the signed preview URL in Daytona's answer has no url")
        }
        return { url: Redacted.make(signed.url), expiresInSeconds }
      }),

    createSession: (id, sessionId) =>
      call("createSession", id, Timeouts.request, async () => {
        await (await sandboxFor(id)).process.createSession(sessionId)
      }),

    executeSessionCommand: (id, sessionId, command, options) => {
      const timeout = options?.timeout === undefined ? undefined : Duration.decode(options.timeout)
      const timeoutSeconds = timeout === undefined || Duration.isZero(timeout) ? undefined : seconds(timeout)
      return call("executeSessionCommand", id, timeoutSeconds === undefined ? Timeouts.request : timeout!, async () => {
        const result = await (
          await sandboxFor(id)
        ).process.executeSessionCommand(sessionId, { command, runAsync: options?.runAsync === true }, timeoutSeconds)
        if (typeof result?.cmdId !== "string") {
          throw new TypeError("the command in Daytona's answer has no cmdId")
        }
        return {
          cmdId: result.cmdId,
          exitCode: Option.fromNullable(result.exitCode),
          output: withoutStreamMarkers(result.output ?? "")
        }
      })
    },

    sessionCommandLogs: (id, sessionId, cmdId) =>
      call("sessionCommandLogs", id, Timeouts.request, async () => {
        const logs = await (await sandboxFor(id)).process.getSessionCommandLogs(sessionId, cmdId)
        return { output: withoutStreamMarkers(logs.output ?? ""), stdout: logs.stdout ?? "", stderr: logs.stderr ?? "" }
      }),

    createSshAccess: (id, expiresInMinutes) =>
      Effect.zipRight(
        checkSshExpiry(id, expiresInMinutes),
        call("createSshAccess", id, Timeouts.request, async () =>
          toSshAccess(await (await sandboxFor(id)).createSshAccess(expiresInMinutes))
        )
      ),

    revokeSshAccess: (id, token) => {
      const secret = token === undefined ? [] : [Redacted.value(token)]
      return call(
        "revokeSshAccess",
        id,
        Timeouts.request,
        // The SDK's type asks for a token, but passes `undefined` on: "every token of the sandbox".
        async () => (await sandboxFor(id)).revokeSshAccess(secret[0] as string),
        true,
        secret
      )
    },

    validateSshAccess: (id, token) =>
      call(
        "validateSshAccess",
        id,
        Timeouts.request,
        async () => toSshValidation(await (await sandboxFor(id)).validateSshAccess(Redacted.value(token))),
        true,
        [Redacted.value(token)]
      ),

    listWarmPools: call("listWarmPools", undefined, Timeouts.request, async () =>
      (await daytona.warmPool.list()).map(toWarmPool)
    ),

    createWarmPool: (params) =>
      call("createWarmPool", undefined, Timeouts.request, async () =>
        toWarmPool(
          await daytona.warmPool.create({
            snapshot: params.snapshot,
            pool: params.pool,
            ...(params.target === undefined ? {} : { target: params.target })
          })
        )
      ),

    updateWarmPool: (id, pool) =>
      call("updateWarmPool", undefined, Timeouts.request, async () =>
        toWarmPool(await daytona.warmPool.update(id, { pool }))
      ),

    deleteWarmPool: (id) =>
      call("deleteWarmPool", undefined, Timeouts.request, async () => {
        await daytona.warmPool.delete(id)
      })
  })
})

/**
 * The live `DaytonaClient`, built from `DaytonaConfig`; the SDK client is disposed with the layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<DaytonaClient, never, DaytonaConfig> = Layer.scoped(DaytonaClient, make)
