/**
 * The state behind the in-memory `DaytonaClient` (`DaytonaClientMemory.ts`): the sandboxes and their
 * timed transitions, the recorded calls and commands, the queued failures, the waits, and the
 * {@link MemoryControl} that tests use to arrange and inspect all of it.
 *
 * A transition is stored as a pending state with the time it is reached; every read first applies the
 * transitions whose time has come (by `Clock`), so `TestClock` alone moves sandboxes along.
 *
 * @since 0.1.0
 */
import { Clock, Data, Duration, Effect, Option, Random, Redacted, Schedule } from "effect"
import { DaytonaApiError } from "../services/DaytonaClient.js"
import type { DaytonaApiErrorReason, DaytonaClientService, Sandbox, SandboxState } from "../services/DaytonaClient.js"

/**
 * A method of the client.
 *
 * @since 0.1.0
 */
export type ClientMethod = keyof DaytonaClientService

/**
 * A sandbox put in place by a test.
 *
 * @since 0.1.0
 */
export interface SeedSandbox {
  readonly id?: string | undefined
  readonly name?: string | undefined
  readonly state: SandboxState
  readonly labels?: Record<string, string> | undefined
  readonly env?: Record<string, string> | undefined
  readonly public?: boolean | undefined
  readonly errorReason?: string | undefined
  readonly recoverable?: boolean | undefined
}

/**
 * A recorded call.
 *
 * @since 0.1.0
 */
export interface RecordedCall {
  readonly method: ClientMethod
  readonly sandboxId?: string
}

/**
 * A recorded session command.
 *
 * @since 0.1.0
 */
export interface RecordedCommand {
  readonly sandboxId: string
  readonly sessionId: string
  readonly command: string
  readonly runAsync: boolean
}

/**
 * What a test uses to arrange and inspect the in-memory client.
 *
 * @since 0.1.0
 */
export interface MemoryControl {
  /** The sandboxes that exist (not destroyed). */
  readonly sandboxes: Effect.Effect<ReadonlyArray<Sandbox>>
  /** Puts a sandbox in place, exactly in the given state (no transition runs on its own). */
  readonly seed: (sandbox: SeedSandbox) => Effect.Effect<Sandbox>
  /** Sets a sandbox's state now, cancelling any transition under way. */
  readonly setState: (
    id: string,
    state: SandboxState,
    options?: { readonly errorReason?: string; readonly recoverable?: boolean }
  ) => Effect.Effect<void>
  /** The next `times` (default 1) calls of `method` fail with `error`, before any effect on state. */
  readonly failNext: (method: ClientMethod, error: DaytonaApiError, times?: number) => Effect.Effect<void>
  /** The next create allocates the sandbox (it exists, labels and all) and then fails with `error`. */
  readonly allocateThenFail: (error: DaytonaApiError) => Effect.Effect<void>
  /**
   * Holds a sandbox (or the next created one) in `state` for `duration`; then a transitional state
   * settles (`starting`/`creating` → `started`, `stopping` → `stopped`, `destroying` → gone, …) and any
   * other returns to where the sandbox was (or was heading).
   */
  readonly stickState: (
    id: string | "next-create",
    state: SandboxState,
    duration: Duration.DurationInput
  ) => Effect.Effect<void>
  readonly calls: Effect.Effect<ReadonlyArray<RecordedCall>>
  readonly commands: Effect.Effect<ReadonlyArray<RecordedCommand>>
  /** What `sessionCommandLogs` (and a synchronous command) returns as output. */
  readonly setCommandOutput: (output: string) => Effect.Effect<void>
  /** The current preview token of a sandbox (a new one on every start). */
  readonly previewTokens: (id: string) => Effect.Effect<string>
}

/** How the waits poll (as the SDK does in polling mode), and how long they wait at most. */
export const Waits = {
  poll: Duration.millis(100),
  steady: Duration.seconds(5),
  maxPoll: Duration.seconds(1),
  bound: Duration.seconds(60)
} as const

/** A sandbox as the store keeps it (mutable, never handed out). */
export interface Entry {
  readonly id: string
  name: string
  state: SandboxState
  readonly labels: Record<string, string>
  readonly env: Record<string, string>
  readonly public: boolean
  readonly snapshot: string | undefined
  readonly autoStopInterval: number | undefined
  errorReason: string | undefined
  recoverable: boolean
  readonly createdAt: number
  lastActivityAt: number
  token: string
  /** The state the sandbox reaches at `at` (epoch millis) unless something changes it first. */
  pending: { readonly state: SandboxState; readonly at: number } | undefined
  readonly sessions: Set<string>
}

/** Where a transitional state settles when it is over. */
export const SETTLES_TO: Readonly<Record<string, SandboxState>> = {
  creating: "started",
  starting: "started",
  restoring: "started",
  resuming: "started",
  pending_build: "started",
  building_snapshot: "started",
  pulling_snapshot: "started",
  stopping: "stopped",
  archiving: "archived",
  pausing: "paused",
  destroying: "destroyed"
}

/** States during which Daytona refuses another state change. */
export const TRANSITIONAL: ReadonlySet<string> = new Set([
  ...Object.keys(SETTLES_TO),
  "resizing",
  "snapshotting",
  "forking"
])

/** `error` or `build_failed`. */
export const isFailed = (state: SandboxState): boolean => state === "error" || state === "build_failed"

class NotYet extends Data.TaggedError("NotYet") {}

/**
 * The SDK's polling cadence: every 100 ms for the first 5 s, then 10 % longer each time, at most 1 s
 * apart; it keeps going while the sandbox is not there yet (the caller bounds it).
 */
const pollSchedule = Schedule.intersect(Schedule.elapsed, Schedule.count).pipe(
  Schedule.addDelay(([elapsed, polls]) =>
    Duration.lessThan(elapsed, Waits.steady)
      ? Waits.poll
      : Duration.millis(Math.min(Duration.toMillis(Waits.maxPoll), Duration.toMillis(Waits.poll) * 1.1 ** (polls - 49)))
  ),
  Schedule.whileInput((error: DaytonaApiError | NotYet) => error._tag === "NotYet")
)

/** Builds the store for the given latencies (millis). */
export const makeStore = (latencyMs: Readonly<Record<"create" | "start" | "stop" | "delete" | "recover", number>>) => {
  const entries = new Map<string, Entry>()
  const failures = new Map<ClientMethod, Array<DaytonaApiError>>()
  const allocateFailures: Array<DaytonaApiError> = []
  const calls: Array<RecordedCall> = []
  const commands: Array<RecordedCommand> = []
  const commandIds = new Map<string, { readonly sandboxId: string; readonly sessionId: string }>()
  const state = {
    nextCreateStick: undefined as { readonly state: SandboxState; readonly ms: number } | undefined,
    commandOutput: "",
    sandboxes: 0,
    tokens: 0,
    commands: 0
  }

  const randomToken = (prefix: string): Effect.Effect<string> =>
    Effect.map(Random.next, (n) => `${prefix}-${++state.tokens}-${Math.floor(n * 2 ** 40).toString(16)}`)
  const nextId = () => `sbx-${++state.sandboxes}`

  /** The current time, after applying every transition whose time has come. */
  const now: Effect.Effect<number> = Effect.map(Clock.currentTimeMillis, (t) => {
    for (const entry of [...entries.values()]) {
      if (entry.pending !== undefined && t >= entry.pending.at) {
        entry.state = entry.pending.state
        entry.pending = undefined
        if (entry.state === "destroyed") entries.delete(entry.id)
      }
    }
    return t
  })

  const byIdOrName = (idOrName: string): Entry | undefined =>
    entries.get(idOrName) ?? [...entries.values()].find((e) => e.name === idOrName && e.state !== "destroyed")

  const toRecord = (e: Entry): Sandbox =>
    Object.freeze({
      id: e.id,
      name: e.name,
      state: e.state,
      labels: Object.freeze({ ...e.labels }),
      env: Object.freeze(Object.fromEntries(Object.entries(e.env).map(([k, v]) => [k, Redacted.make(v)]))),
      public: e.public,
      target: "eu",
      snapshot: Option.fromNullable(e.snapshot),
      errorReason: Option.fromNullable(e.errorReason),
      recoverable: e.recoverable,
      autoStopInterval: Option.fromNullable(e.autoStopInterval),
      createdAt: Option.some(new Date(e.createdAt)),
      lastActivityAt: Option.some(new Date(e.lastActivityAt)),
      resources: { cpu: 1, memoryGiB: 1, diskGiB: 3 }
    })

  const fail = (
    method: ClientMethod,
    reason: DaytonaApiErrorReason,
    detail: string,
    extra: { readonly status?: number; readonly sandboxId?: string } = {}
  ): Effect.Effect<never, DaytonaApiError> =>
    Effect.fail(new DaytonaApiError({ reason, operation: `DaytonaClient.${method}`, detail, ...extra }))
  const notFound = (method: ClientMethod, id: string) =>
    fail(method, "NotFound", `Sandbox with ID or name ${id} not found`, { status: 404, sandboxId: id })
  const failed = (method: ClientMethod, e: Entry) =>
    fail(
      method,
      "SandboxFailed",
      `Sandbox ${e.id} failed to start with status: ${e.state}, error reason: ${e.errorReason}`,
      {
        sandboxId: e.id
      }
    )

  /** An existing sandbox (not destroyed), else NotFound. */
  const find = (method: ClientMethod, id: string): Effect.Effect<{ entry: Entry; now: number }, DaytonaApiError> =>
    Effect.flatMap(now, (t) => {
      const entry = byIdOrName(id)
      return entry === undefined || entry.state === "destroyed"
        ? notFound(method, id)
        : Effect.succeed({ entry, now: t })
    })

  /**
   * Polls (with {@link pollSchedule}) until the sandbox reaches `target` (`stopped` also accepts gone:
   * none); `SandboxFailed` on `error`/`build_failed`; `Timeout` once `bound` has passed.
   */
  const waitFor = (
    method: ClientMethod,
    id: string,
    target: "started" | "stopped",
    bound: Duration.DurationInput
  ): Effect.Effect<Option.Option<Sandbox>, DaytonaApiError> => {
    const timedOut = () =>
      new DaytonaApiError({
        reason: "Timeout",
        operation: `DaytonaClient.${method}`,
        detail: `Sandbox ${id} did not become ${target} within ${Duration.format(Duration.decode(bound))}`,
        sandboxId: id
      })
    return Effect.flatMap(now, (): Effect.Effect<Option.Option<Sandbox>, DaytonaApiError | NotYet> => {
      const entry = entries.get(id)
      if (entry === undefined || entry.state === "destroyed") {
        return target === "stopped" ? Effect.succeed(Option.none()) : notFound(method, id)
      }
      if (entry.state === target) return Effect.succeed(Option.some(toRecord(entry)))
      if (isFailed(entry.state)) return failed(method, entry)
      return Effect.fail(new NotYet())
    }).pipe(
      Effect.retry(pollSchedule),
      Effect.catchTag("NotYet", () => Effect.fail(timedOut())),
      Effect.timeoutFail({ duration: bound, onTimeout: timedOut })
    )
  }

  const newEntry = (
    fields: Pick<Entry, "id" | "name" | "state" | "labels" | "env" | "public" | "snapshot" | "autoStopInterval">,
    t: number,
    token: string
  ): Entry => {
    const entry: Entry = {
      ...fields,
      errorReason: undefined,
      recoverable: false,
      createdAt: t,
      lastActivityAt: t,
      token,
      pending: undefined,
      sessions: new Set()
    }
    entries.set(entry.id, entry)
    return entry
  }

  const existing = (id: string) =>
    Effect.flatMap(now, (t) => {
      const entry = entries.get(id)
      return entry === undefined
        ? Effect.dieMessage(`no sandbox ${id} in the in-memory Daytona client`)
        : Effect.succeed({ entry, t })
    })

  const control: MemoryControl = {
    sandboxes: Effect.map(now, () => [...entries.values()].filter((e) => e.state !== "destroyed").map(toRecord)),
    seed: (seed) =>
      Effect.gen(function* () {
        const t = yield* now
        const numbered = seed.id === undefined ? null : /^sbx-(\d+)$/.exec(seed.id)
        if (numbered !== null) state.sandboxes = Math.max(state.sandboxes, Number(numbered[1]))
        const id = seed.id ?? nextId()
        const entry = newEntry(
          {
            id,
            name: seed.name ?? id,
            state: seed.state,
            labels: { ...seed.labels },
            env: { ...seed.env },
            public: seed.public ?? false,
            snapshot: undefined,
            autoStopInterval: undefined
          },
          t,
          yield* randomToken("preview")
        )
        entry.errorReason = seed.errorReason
        entry.recoverable = seed.recoverable ?? false
        return toRecord(entry)
      }),
    setState: (id, to, options) =>
      Effect.map(existing(id), ({ entry }) => {
        entry.state = to
        entry.pending = undefined
        entry.errorReason = options?.errorReason ?? (isFailed(to) ? entry.errorReason : undefined)
        entry.recoverable = options?.recoverable ?? (to === "error" ? entry.recoverable : false)
      }),
    failNext: (method, error, times = 1) =>
      Effect.sync(() => {
        const queue = failures.get(method) ?? []
        for (let i = 0; i < times; i++) queue.push(error)
        failures.set(method, queue)
      }),
    allocateThenFail: (error) => Effect.sync(() => void allocateFailures.push(error)),
    stickState: (id, to, duration) => {
      const holdMs = Duration.toMillis(Duration.decode(duration))
      if (id === "next-create") return Effect.sync(() => void (state.nextCreateStick = { state: to, ms: holdMs }))
      return Effect.map(existing(id), ({ entry, t }) => {
        const then = SETTLES_TO[to] ?? entry.pending?.state ?? entry.state
        entry.state = to
        entry.pending = { state: then, at: t + holdMs }
      })
    },
    calls: Effect.sync(() => [...calls]),
    commands: Effect.sync(() => [...commands]),
    setCommandOutput: (output) => Effect.sync(() => void (state.commandOutput = output)),
    previewTokens: (id) => Effect.map(existing(id), ({ entry }) => entry.token)
  }

  return {
    latencyMs,
    entries,
    failures,
    allocateFailures,
    calls,
    commands,
    commandIds,
    state,
    control,
    now,
    nextId,
    randomToken,
    byIdOrName,
    toRecord,
    fail,
    notFound,
    failed,
    find,
    waitFor,
    newEntry
  }
}

/** The store of one in-memory client. */
export type Store = ReturnType<typeof makeStore>
