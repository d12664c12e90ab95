/**
 * The emulator's sandboxes: records, the state machine of Daytona's API (`state`, `desiredState` and the
 * `pending` rule of its entity), the events the Socket.IO gateway forwards, and the "run" of a started sandbox —
 * a scope that owns everything running in it (processes, action servers) and closes when it leaves `started`.
 *
 * The lifecycle operations are in `StoreLifecycle.ts`; the periodic jobs (auto-stop, auto-archive, auto-delete,
 * warm pools) in `Jobs.ts`.
 *
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { Clock, Deferred, Duration, Effect, Exit, FiberMap, Option, Redacted, Ref } from "effect"
import type { Scope } from "effect"
import { randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import { HttpFailure } from "./Dto.js"
import type { CreateInput, Latencies, SandboxRecord } from "./Dto.js"
import { makeRuns } from "./Runs.js"
import type { SandboxRun } from "./Runs.js"
import { makeSshAccess } from "./SshAccess.js"
import type { SshAccess } from "./SshAccess.js"
import { freshRecord, isErrored, registerCore } from "./StoreCore.js"
import type { Core, StoreEvent, StoreOptions } from "./StoreCore.js"
import { makeLifecycle } from "./StoreLifecycle.js"
import type { Lifecycle } from "./StoreLifecycle.js"
import { allocateLoopbackPort } from "./System.js"

export { coreOf, freshRecord, isErrored, isPending } from "./StoreCore.js"
export type { Core, StoreEvent, StoreOptions } from "./StoreCore.js"

/**
 * The sandbox store.
 *
 * @since 0.1.0
 */
export interface Store extends Lifecycle, SshAccess {
  /** Inserts a sandbox in `creating` and starts it; waits (at most 30 s) until it is started, as the API does. */
  readonly create: (input: CreateInput) => Effect.Effect<SandboxRecord, HttpFailure>
  /** A sandbox of the organization by id or name (404 when destroyed, being destroyed in error, or unknown). */
  readonly get: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Every sandbox of the organization not yet destroyed, newest first. */
  readonly list: Effect.Effect<ReadonlyArray<SandboxRecord>>
  /** Records activity (resets the auto-stop, auto-archive and auto-delete clocks). */
  readonly touch: (id: string) => Effect.Effect<void>
  /** The host port of a sandbox port, allocated on first use. */
  readonly hostPort: (id: string, port: number) => Effect.Effect<number, HttpFailure>
  /**
   * Marks a host port as handed out (a preview listener's); false when it was handed out before, so no port ever
   * serves two sandboxes while the emulator runs.
   */
  readonly reservePort: (port: number) => boolean
  /** The current run, when the sandbox is started. */
  readonly run: (id: string) => Effect.Effect<Option.Option<SandboxRun>>
  /** Calls the listener (synchronously) for every event; returns the unsubscribe function. */
  readonly subscribe: (listener: (event: StoreEvent) => void) => () => void
  readonly setLatencies: (latencies: Partial<Latencies>) => Effect.Effect<void>
}

const notFound = (idOrName: string) =>
  new HttpFailure({ status: 404, detail: `Sandbox with ID or name ${idOrName} not found` })

/** Daytona's preview token: a 32-character lower-case nanoid, renewed on every start. */
const newToken = () => Redacted.make(randomBytes(24).toString("base64url").slice(0, 32).toLowerCase())

/**
 * Makes the store. Every transition, run and waiter belongs to the calling scope.
 *
 * @since 0.1.0
 */
export const makeStore = (options: StoreOptions): Effect.Effect<Store, never, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const records = new Map<string, SandboxRecord>()
    // Every host port handed out (sandbox ports and preview listeners), never handed out twice.
    const handedOut = new Set<number>()
    const latencies = yield* Ref.make(options.latencies)
    const transitions = yield* FiberMap.make<string>()
    const runs = yield* makeRuns
    const listeners = new Set<(event: StoreEvent) => void>()
    const waiters = new Map<string, Set<(record: SandboxRecord) => void>>()

    const emit = (event: StoreEvent) => {
      for (const listener of listeners) {
        try {
          listener(event)
        } catch {
          // A listener's failure is its own.
        }
      }
      const forId = waiters.get(event.record.id)
      if (forId !== undefined) for (const waiter of [...forId]) waiter(event.record)
    }

    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))
    const visible = (record: SandboxRecord) =>
      record.warmPoolId === undefined &&
      record.state !== "destroyed" &&
      !(isErrored(record) && record.desiredState === "destroyed")
    const lookup = (idOrName: string): Option.Option<SandboxRecord> => {
      const byId = records.get(idOrName)
      if (byId !== undefined && visible(byId)) return Option.some(byId)
      for (const record of records.values()) if (record.name === idOrName && visible(record)) return Option.some(record)
      return Option.none()
    }
    const find = (idOrName: string) =>
      Effect.suspend(() =>
        Option.match(lookup(idOrName), { onNone: () => Effect.fail(notFound(idOrName)), onSome: Effect.succeed })
      )

    const change: Core["change"] = (id, f) =>
      Effect.gen(function* () {
        const at = yield* now
        const before = records.get(id)
        if (before === undefined) return Option.none()
        const changed = f(before, at)
        // Every state change (and a claim from a warm pool) is activity, as Daytona's repository records it.
        const moved = changed.state !== before.state || changed.warmPoolId !== before.warmPoolId
        const next: SandboxRecord = { ...changed, updatedAt: at, ...(moved ? { lastActivityAt: at } : {}) }
        records.set(id, next)
        if (next.state !== before.state) {
          emit({ _tag: "StateUpdated", record: next, oldState: before.state, newState: next.state })
        }
        if (next.desiredState !== before.desiredState) {
          emit({
            _tag: "DesiredStateUpdated",
            record: next,
            oldDesiredState: before.desiredState,
            newDesiredState: next.desiredState
          })
        }
        if (next.state === "started") yield* runs.open(id)
        return Option.some(next)
      })
    const enter = (id: string, state: string) =>
      change(id, (record) => ({
        ...record,
        state,
        ...(state === "started" ? { errorReason: undefined, recoverable: false } : {})
      }))

    const nameTaken = (name: string, except?: string) => {
      for (const record of records.values()) {
        if (record.id !== except && record.name === name && record.warmPoolId === undefined) return true
      }
      return false
    }
    const insert = (record: SandboxRecord) =>
      Effect.suspend(() => {
        if (record.warmPoolId === undefined && nameTaken(record.name)) {
          return Effect.fail(
            new HttpFailure({ status: 409, detail: `Sandbox with name ${record.name} already exists` })
          )
        }
        records.set(record.id, record)
        if (record.warmPoolId === undefined) emit({ _tag: "Created", record })
        return Effect.void
      })

    const destroyNow = (id: string) =>
      Effect.gen(function* () {
        yield* runs.close(id)
        yield* enter(id, "destroyed")
        const record = records.get(id)
        records.delete(id)
        waiters.delete(id)
        if (record !== undefined) yield* Effect.ignore(fs.remove(record.dir, { recursive: true, force: true }))
      })

    const schedule: Core["schedule"] = (id, delay, then) =>
      FiberMap.run(transitions, id, Effect.zipRight(Effect.sleep(delay), then)).pipe(Effect.asVoid)
    const latency = (key: keyof Latencies) =>
      Effect.map(Ref.get(latencies), (all) => Duration.decode(all[key] ?? all.stop))

    const awaitStarted: Core["awaitStarted"] = (id, limit) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<SandboxRecord, HttpFailure>()
        const settle = (record: SandboxRecord) => {
          if (record.state === "started" || record.state === "destroyed") {
            Deferred.unsafeDone(done, Exit.succeed(record))
          } else if (isErrored(record)) {
            Deferred.unsafeDone(
              done,
              Exit.fail(new HttpFailure({ status: 400, detail: `Sandbox failed to start: ${record.errorReason}` }))
            )
          }
        }
        const forId = waiters.get(id) ?? new Set()
        waiters.set(id, forId)
        forId.add(settle)
        const current = records.get(id)
        if (current === undefined) {
          forId.delete(settle)
          return yield* notFound(id)
        }
        settle(current)
        // Like the API's controller: after the limit, answer with the sandbox as it is. The wait itself can be
        // interrupted (the state change before it cannot).
        const settled = yield* Deferred.await(done).pipe(
          Effect.timeoutTo({ duration: limit, onTimeout: () => Option.none(), onSuccess: Option.some }),
          Effect.ensuring(Effect.sync(() => forId.delete(settle))),
          Effect.interruptible
        )
        return Option.getOrElse(settled, () => records.get(id) ?? current)
      })

    const prepareDir = (id: string) => {
      const dir = NodePath.join(options.dataDir, "sandboxes", id)
      return fs.makeDirectory(dir, { recursive: true }).pipe(
        Effect.as(dir),
        Effect.mapError(
          (error) => new HttpFailure({ status: 500, detail: `Cannot create the sandbox folder: ${error.message}` })
        )
      )
    }

    const core: Core = {
      options,
      records,
      runs,
      now,
      lookup,
      find,
      change,
      enter,
      insert,
      nameTaken,
      destroyNow,
      schedule,
      cancelTransition: (id) => FiberMap.remove(transitions, id),
      latency,
      awaitStarted,
      newToken,
      prepareDir,
      announce: emit
    }
    const lifecycle = makeLifecycle(core)

    const create = (input: CreateInput) =>
      Effect.gen(function* () {
        const at = yield* now
        const record = yield* freshRecord(core, input, at)
        const id = record.id
        const dir = record.dir
        yield* insert(record).pipe(
          Effect.tapError(() => Effect.ignore(fs.remove(dir, { recursive: true, force: true })))
        )
        if (input.buildInfo !== undefined) {
          // A declarative build: the API answers at once and the client waits for `started`.
          yield* enter(id, "building_snapshot")
          yield* lifecycle.transition(id, "starting", "started", yield* latency("create"))
          return Option.getOrElse(Option.fromNullable(records.get(id)), () => record)
        }
        yield* lifecycle.startCreated(id)
        yield* awaitStarted(id, options.startWait ?? "30 seconds")
        // Daytona's controller waits (at most 30 s, failing when the sandbox lands in an error state), then answers
        // with the DTO it made at the insert — `unknown` shown as `creating` — not with the started sandbox: only a
        // warm-pool claim is answered `started` (`sandbox.controller.ts` `createSandbox`).
        return { ...record, state: "creating" }
      })

    const touch = (id: string) =>
      Effect.suspend(() => {
        const record = records.get(id)
        if (record === undefined) return Effect.void
        return Effect.map(now, (at) => {
          records.set(id, { ...record, lastActivityAt: at })
        })
      })

    const reservePort = (port: number) => {
      if (handedOut.has(port)) return false
      handedOut.add(port)
      return true
    }
    const freshPort = () =>
      allocateLoopbackPort.pipe(
        Effect.repeat({ until: (candidate) => !handedOut.has(candidate), times: 100 }),
        Effect.filterOrFail(
          (candidate) => !handedOut.has(candidate),
          () => new Error("every port the kernel offered was handed out before")
        ),
        Effect.tap((port) => Effect.sync(() => handedOut.add(port))),
        Effect.mapError((error) => new HttpFailure({ status: 500, detail: `No free loopback port: ${error.message}` }))
      )

    const hostPort = (id: string, port: number) =>
      Effect.gen(function* () {
        const known = (yield* find(id)).hostPorts.get(port)
        if (known !== undefined) return known
        const fresh = yield* freshPort()
        const updated = yield* change(id, (r) =>
          r.hostPorts.has(port) ? r : { ...r, hostPorts: new Map(r.hostPorts).set(port, fresh) }
        )
        return Option.match(updated, { onNone: () => fresh, onSome: (r) => r.hostPorts.get(port) ?? fresh })
      })

    const run = (id: string) =>
      Effect.sync((): Option.Option<SandboxRun> => {
        const record = records.get(id)
        const current = runs.current(id)
        return record !== undefined && record.state === "started" && Option.isSome(current)
          ? Option.some({ ...current.value, sandbox: record })
          : Option.none()
      })

    const list = Effect.sync(() =>
      [...records.values()]
        .filter(visible)
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
    )

    const ssh = makeSshAccess({ find, lookupById: (id) => Option.fromNullable(records.get(id)), now })

    // State changes run to the end even when the client goes away mid-request, as the real API does.
    const store: Store = {
      ...lifecycle,
      ...ssh,
      create: (input) => Effect.uninterruptible(create(input)),
      get: find,
      list,
      touch,
      hostPort,
      reservePort,
      run,
      subscribe: (listener) => {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
      setLatencies: (patch) => Ref.update(latencies, (current) => ({ ...current, ...patch }))
    }
    registerCore(store, core)
    return store
  })
