/**
 * The internals of the emulator's store, shared by the lifecycle (`StoreLifecycle.ts`), the jobs and the warm
 * pools: the events it announces, the `pending` rule of Daytona's sandbox entity, and a fresh record.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Duration, Option, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { newRecord } from "./Dto.js"
import type { CreateInput, HttpFailure, Latencies, SandboxRecord } from "./Dto.js"
import type { Runs } from "./Runs.js"

/**
 * A change the API announces (as `sandbox.created`, `sandbox.state.updated`, `sandbox.desired-state.updated`).
 *
 * @since 0.1.0
 */
export type StoreEvent =
  | { readonly _tag: "Created"; readonly record: SandboxRecord }
  | {
      readonly _tag: "StateUpdated"
      readonly record: SandboxRecord
      readonly oldState: string
      readonly newState: string
    }
  | {
      readonly _tag: "DesiredStateUpdated"
      readonly record: SandboxRecord
      readonly oldDesiredState: string
      readonly newDesiredState: string
    }

/**
 * What the store is made with.
 *
 * @since 0.1.0
 */
export interface StoreOptions {
  /** Sandbox folders are created under `<dataDir>/sandboxes/`. */
  readonly dataDir: string
  readonly latencies: Latencies
  readonly defaultTarget: string
  /** 1 = real minutes for the interval jobs; 0.001 makes one minute 60 ms. */
  readonly autoStopTimeScale: number
  /** How long create, start and recover wait for `started` before answering (Daytona: 30 s). */
  readonly startWait?: Duration.DurationInput | undefined
}

/**
 * The internals shared by the lifecycle, the jobs and the warm pools. Records are kept in a plain mutable map:
 * every change is one synchronous step, so no interleaving can split it, and no change copies the map.
 *
 * @since 0.1.0
 */
export interface Core {
  readonly options: StoreOptions
  readonly records: Map<string, SandboxRecord>
  readonly runs: Runs
  readonly now: Effect.Effect<Date>
  /** The organization's sandbox by id or name (warm-pool members and destroyed ones are not). */
  readonly lookup: (idOrName: string) => Option.Option<SandboxRecord>
  readonly find: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Applies a change and announces it; entering `started` opens a run (closing it is the caller's job). */
  readonly change: (
    id: string,
    f: (record: SandboxRecord, at: Date) => SandboxRecord
  ) => Effect.Effect<Option.Option<SandboxRecord>>
  readonly enter: (id: string, state: string) => Effect.Effect<Option.Option<SandboxRecord>>
  /** Inserts a record (the name must be free among the organization's sandboxes). */
  readonly insert: (record: SandboxRecord) => Effect.Effect<void, HttpFailure>
  readonly nameTaken: (name: string, except?: string) => boolean
  /** Removes a sandbox for good: ends its run, deletes its folder, announces `destroyed`. */
  readonly destroyNow: (id: string) => Effect.Effect<void>
  /** Runs `then` after `delay`, replacing any pending transition of the sandbox. */
  readonly schedule: (id: string, delay: Duration.DurationInput, then: Effect.Effect<unknown>) => Effect.Effect<void>
  readonly cancelTransition: (id: string) => Effect.Effect<void>
  readonly latency: (key: keyof Latencies) => Effect.Effect<Duration.Duration>
  /** Waits (at most `limit`) until the sandbox is started; an error state fails as the API's create does. */
  readonly awaitStarted: (id: string, limit: Duration.DurationInput) => Effect.Effect<SandboxRecord, HttpFailure>
  readonly newToken: () => Redacted.Redacted<string>
  /** Creates the sandbox's host folder and returns it. */
  readonly prepareDir: (id: string) => Effect.Effect<string, HttpFailure>
  /** Announces an event the store did not derive from a change (a warm-pool claim is a `started` update). */
  readonly announce: (event: StoreEvent) => void
}

/** States in which a sandbox is never `pending` (Daytona's `enforceInvariants`). */
const ERRORED = new Set(["error", "build_failed"])

/**
 * Whether a state change is in progress (Daytona's `pending` flag): the state is not the desired one, except in
 * an error state or on the way to `archived`.
 *
 * @since 0.1.0
 */
export const isPending = (record: SandboxRecord): boolean =>
  !ERRORED.has(record.state) && record.desiredState !== "archived" && record.state !== record.desiredState

/**
 * Whether the sandbox is in an error state.
 *
 * @since 0.1.0
 */
export const isErrored = (record: SandboxRecord): boolean => ERRORED.has(record.state)

const storeCores = new WeakMap<object, Core>()

/**
 * Records the internals of a store (done by `makeStore`).
 *
 * @since 0.1.0
 */
export const registerCore = (store: object, core: Core): void => {
  storeCores.set(store, core)
}

/**
 * The internals of a store, for the modules that extend it (jobs, warm pools).
 *
 * @since 0.1.0
 */
export const coreOf = (store: object): Core => {
  const core = storeCores.get(store)
  if (core === undefined) throw new Error("not a store made by makeStore")
  return core
}

/**
 * A fresh record for a create, with its host folder made (the warm pools insert their own members with it).
 *
 * @since 0.1.0
 */
export const freshRecord = (
  core: Core,
  input: CreateInput,
  at: Date,
  extra: Partial<SandboxRecord> = {}
): Effect.Effect<SandboxRecord, HttpFailure> => {
  const id = randomUUID()
  return Effect.map(core.prepareDir(id), (dir) => ({
    ...newRecord(input, {
      id,
      name: input.name ?? id,
      dir,
      at,
      target: core.options.defaultTarget,
      token: core.newToken()
    }),
    ...extra
  }))
}
