/**
 * The emulator's sandboxes: records, the state machine with its latencies, holds and auto-stop, and the
 * "run" of a started sandbox — a scope that owns everything running in it (processes, action servers) and
 * closes when the sandbox leaves `started`.
 *
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { Clock, Duration, Effect, FiberMap, Option, Redacted, Ref, Schedule } from "effect"
import type { Scope } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import * as NodePath from "node:path"
import { HttpFailure, newRecord } from "./Dto.js"
import type { CreateInput, HoldState, Latencies, SandboxRecord } from "./Dto.js"
import { makeRuns } from "./Runs.js"
import type { SandboxRun } from "./Runs.js"
import { allocateLoopbackPort } from "./System.js"

/**
 * The sandbox store.
 *
 * @since 0.1.0
 */
export interface Store {
  readonly create: (input: CreateInput) => Effect.Effect<SandboxRecord, HttpFailure>
  readonly get: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Every sandbox not yet destroyed, newest first. */
  readonly list: Effect.Effect<ReadonlyArray<SandboxRecord>>
  readonly start: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  readonly stop: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  readonly remove: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  readonly recover: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Records activity (resets the auto-stop timer). */
  readonly touch: (id: string) => Effect.Effect<void>
  /** The host port of a sandbox port, allocated on first use. */
  readonly hostPort: (id: string, port: number) => Effect.Effect<number, HttpFailure>
  /** The current run, when the sandbox is started. */
  readonly run: (id: string) => Effect.Effect<Option.Option<SandboxRun>>
  readonly setState: (
    id: string,
    state: string,
    options?: { readonly errorReason?: string | undefined; readonly recoverable?: boolean | undefined }
  ) => Effect.Effect<void, HttpFailure>
  readonly hold: (target: string, state: HoldState, duration: Duration.DurationInput) => Effect.Effect<void>
  readonly resetPreviewToken: (id: string) => Effect.Effect<void, HttpFailure>
  readonly setLatencies: (latencies: Partial<Latencies>) => Effect.Effect<void>
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
  /** 1 = real minutes for auto-stop; 0.001 makes one minute 60 ms. */
  readonly autoStopTimeScale: number
}

type Records = ReadonlyMap<string, SandboxRecord>

const without = (map: Records, id: string): Records => new Map([...map].filter(([key]) => key !== id))

const newToken = () => Redacted.make(randomBytes(16).toString("hex"))
const notFound = (idOrName: string) =>
  new HttpFailure({ status: 404, detail: `Sandbox with ID or name ${idOrName} not found` })
const inProgress = new HttpFailure({ status: 409, detail: "Sandbox state change in progress" })
const settledState = (state: HoldState) => (state === "stopping" ? "stopped" : "started")

/**
 * Makes the store. Every transition, run and the auto-stop loop belong to the calling scope.
 *
 * @since 0.1.0
 */
export const makeStore = (options: StoreOptions): Effect.Effect<Store, never, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const records = yield* Ref.make<Records>(new Map())
    // Every host port handed to a sandbox, never handed out twice: between its allocation and its server binding it
    // the port is free, and the kernel may offer it again to the next sandbox.
    const handedOut = new Set<number>()
    const latencies = yield* Ref.make(options.latencies)
    const transitions = yield* FiberMap.make<string>()
    const runs = yield* makeRuns
    let nextCreateHold: Option.Option<{ readonly state: HoldState; readonly duration: Duration.DurationInput }> =
      Option.none()

    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))
    const lookup = (idOrName: string) =>
      Effect.map(Ref.get(records), (map) =>
        Option.orElse(Option.fromNullable(map.get(idOrName)), () =>
          Option.fromNullable([...map.values()].find((record) => record.name === idOrName))
        )
      )
    const find = (idOrName: string) =>
      Effect.flatMap(
        lookup(idOrName),
        Option.match({ onNone: () => Effect.fail(notFound(idOrName)), onSome: Effect.succeed })
      )

    /** Applies a change; entering `started` opens a run, leaving it is the caller's job (closeRun). */
    const change = (id: string, f: (record: SandboxRecord, at: Date) => SandboxRecord) =>
      Effect.gen(function* () {
        const at = yield* now
        const updated = yield* Ref.modify(records, (map): [Option.Option<SandboxRecord>, Records] => {
          const record = map.get(id)
          if (record === undefined) return [Option.none(), map]
          const next = { ...f(record, at), updatedAt: at }
          return [Option.some(next), new Map(map).set(id, next)]
        })
        if (Option.isSome(updated) && updated.value.state === "started") yield* runs.open(id)
        return updated
      })
    const enter = (id: string, state: string) =>
      change(id, (record) => ({
        ...record,
        state,
        ...(state === "started" ? { errorReason: undefined, recoverable: false } : {})
      }))
    const destroy = (id: string) =>
      Effect.gen(function* () {
        yield* runs.close(id)
        const record = yield* Ref.modify(records, (map): [SandboxRecord | undefined, Records] => [
          map.get(id),
          without(map, id)
        ])
        if (record !== undefined) yield* Effect.ignore(fs.remove(record.dir, { recursive: true, force: true }))
      })
    /** Schedules `then` after `delay`, replacing any pending transition of the sandbox. */
    const schedule = (id: string, delay: Duration.DurationInput, then: Effect.Effect<unknown>) =>
      FiberMap.run(transitions, id, Effect.zipRight(Effect.sleep(delay), then)).pipe(Effect.asVoid)
    const latency = (key: keyof Latencies) => Effect.map(Ref.get(latencies), (all) => Duration.decode(all[key]))

    /** Moves to a transitional state, then to `target` after `delay` (at once when the delay is zero). */
    const transition = (id: string, via: string, target: string, delay: Duration.Duration) =>
      Duration.isZero(delay)
        ? Effect.zipRight(FiberMap.remove(transitions, id), enter(id, target))
        : Effect.zipRight(schedule(id, delay, enter(id, target)), enter(id, via))

    const create = (input: CreateInput) =>
      Effect.gen(function* () {
        const at = yield* now
        const id = randomUUID()
        const name = input.name ?? id
        const dir = NodePath.join(options.dataDir, "sandboxes", id)
        const hold = nextCreateHold
        nextCreateHold = Option.none()
        const record = newRecord(input, { id, name, dir, at, target: options.defaultTarget, token: newToken() })
        // Check and insert in one step, so concurrent creates of one name cannot both win.
        const inserted = yield* Ref.modify(records, (map): [boolean, Records] =>
          [...map.values()].some((other) => other.name === name) ? [false, map] : [true, new Map(map).set(id, record)]
        )
        if (!inserted) {
          nextCreateHold = hold
          return yield* new HttpFailure({ status: 409, detail: `Sandbox with name ${name} already exists` })
        }
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(
          Effect.tapError(() => Ref.update(records, (map) => without(map, id))),
          Effect.mapError(
            (error) => new HttpFailure({ status: 500, detail: `Cannot create the sandbox folder: ${error.message}` })
          )
        )
        if (Option.isSome(hold)) {
          yield* enter(id, hold.value.state)
          yield* schedule(id, hold.value.duration, enter(id, settledState(hold.value.state)))
        } else {
          yield* transition(id, "creating", "started", yield* latency("create"))
        }
        return yield* find(id)
      })

    const start = (idOrName: string) =>
      Effect.gen(function* () {
        const record = yield* find(idOrName)
        switch (record.state) {
          case "started":
            yield* touch(record.id)
            return yield* find(record.id)
          case "stopped":
          case "archived": {
            yield* change(record.id, (r, at) => ({
              ...r,
              desiredState: "started",
              previewToken: newToken(),
              lastActivityAt: at
            }))
            yield* transition(record.id, "starting", "started", yield* latency("start"))
            return yield* find(record.id)
          }
          case "error":
          case "build_failed":
            return yield* new HttpFailure({
              status: 400,
              detail: `Sandbox is in ${record.state} state${record.errorReason === undefined ? "" : ` (${record.errorReason})`}: recover it or delete it`
            })
          default:
            return yield* inProgress
        }
      })

    const stopNow = (id: string) =>
      Effect.gen(function* () {
        yield* change(id, (r) => ({ ...r, state: "stopping", desiredState: "stopped" }))
        const delay = yield* latency("stop")
        yield* FiberMap.run(
          transitions,
          id,
          runs
            .close(id)
            .pipe(
              Effect.zipRight(Effect.sleep(delay)),
              Effect.zipRight(
                change(id, (r) => ({ ...r, state: "stopped", errorReason: undefined, recoverable: false }))
              )
            )
        )
      })
    const stop = (idOrName: string) =>
      Effect.gen(function* () {
        const record = yield* find(idOrName)
        switch (record.state) {
          // As Daytona answers: only a started sandbox can be stopped.
          case "stopped":
          case "archived":
            return yield* new HttpFailure({ status: 400, detail: "Sandbox is not started" })
          case "started":
          case "error":
            yield* stopNow(record.id)
            return yield* find(record.id)
          default:
            return yield* inProgress
        }
      })

    const remove = (idOrName: string) =>
      Effect.gen(function* () {
        const record = yield* find(idOrName)
        if (record.state === "destroying") return record
        yield* change(record.id, (r) => ({ ...r, state: "destroying", desiredState: "destroyed" }))
        const delay = yield* latency("delete")
        yield* FiberMap.run(
          transitions,
          record.id,
          runs.close(record.id).pipe(Effect.zipRight(Effect.sleep(delay)), Effect.zipRight(destroy(record.id)))
        )
        return yield* find(record.id).pipe(Effect.orElseSucceed(() => ({ ...record, state: "destroyed" })))
      })

    const recover = (idOrName: string) =>
      Effect.gen(function* () {
        const record = yield* find(idOrName)
        if (record.state !== "error") {
          return yield* new HttpFailure({
            status: 400,
            detail: `Sandbox is not in an error state (state: ${record.state})`
          })
        }
        if (!record.recoverable) {
          return yield* new HttpFailure({
            status: 400,
            detail: `Sandbox error is not recoverable${record.errorReason === undefined ? "" : `: ${record.errorReason}`}`
          })
        }
        yield* change(record.id, (r, at) => ({
          ...r,
          desiredState: "started",
          errorReason: undefined,
          recoverable: false,
          previewToken: newToken(),
          lastActivityAt: at
        }))
        yield* transition(record.id, "starting", "started", yield* latency("recover"))
        return yield* find(record.id)
      })

    const touch = (id: string) => Effect.asVoid(change(id, (r, at) => ({ ...r, lastActivityAt: at })))

    const hostPort = (id: string, port: number) =>
      Effect.gen(function* () {
        const known = (yield* find(id)).hostPorts.get(port)
        if (known !== undefined) return known
        const fresh = yield* allocateLoopbackPort.pipe(
          Effect.repeat({ until: (candidate) => !handedOut.has(candidate), times: 100 }),
          Effect.filterOrFail(
            (candidate) => !handedOut.has(candidate),
            () => new Error("every port the kernel offered is already a sandbox's")
          ),
          Effect.mapError(
            (error) => new HttpFailure({ status: 500, detail: `No free loopback port: ${error.message}` })
          )
        )
        handedOut.add(fresh)
        const updated = yield* change(id, (r) =>
          r.hostPorts.has(port) ? r : { ...r, hostPorts: new Map(r.hostPorts).set(port, fresh) }
        )
        return Option.match(updated, { onNone: () => fresh, onSome: (r) => r.hostPorts.get(port) ?? fresh })
      })

    const run = (id: string) =>
      Effect.map(Ref.get(records), (map): Option.Option<SandboxRun> => {
        const record = map.get(id)
        const current = runs.current(id)
        return record !== undefined && record.state === "started" && Option.isSome(current)
          ? Option.some({ ...current.value, sandbox: record })
          : Option.none()
      })

    const setState: Store["setState"] = (id, state, opts) =>
      Effect.gen(function* () {
        yield* find(id)
        yield* FiberMap.remove(transitions, id)
        if (state === "destroyed") return yield* destroy(id)
        if (state !== "started") yield* runs.close(id)
        yield* change(id, (r) => ({
          ...r,
          state,
          errorReason: opts?.errorReason ?? (state === "error" ? "Injected error" : undefined),
          recoverable: opts?.recoverable ?? false
        }))
      })

    const hold: Store["hold"] = (target, state, duration) =>
      Effect.gen(function* () {
        if (target === "next-create") {
          nextCreateHold = Option.some({ state, duration })
          return
        }
        const record = yield* Effect.option(find(target))
        if (Option.isNone(record)) return
        const id = record.value.id
        yield* change(id, (r) => ({ ...r, state, desiredState: settledState(state) }))
        // Any hold leaves `started`, so the current run ends (a new one begins when the hold settles).
        yield* FiberMap.run(
          transitions,
          id,
          runs.close(id).pipe(Effect.zipRight(Effect.sleep(duration)), Effect.zipRight(enter(id, settledState(state))))
        )
      })

    const resetPreviewToken = (id: string) =>
      Effect.zipRight(find(id), Effect.asVoid(change(id, (r) => ({ ...r, previewToken: newToken() }))))

    // Auto-stop: a started sandbox idle for longer than its interval (scaled) is stopped.
    const minute = 60_000 * options.autoStopTimeScale
    const tick = Duration.millis(Math.min(1000, Math.max(20, minute / 4)))
    yield* Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      for (const record of (yield* Ref.get(records)).values()) {
        const idle = at - record.lastActivityAt.getTime()
        if (record.state === "started" && record.autoStopInterval > 0 && idle > record.autoStopInterval * minute) {
          yield* Effect.logDebug(`auto-stopping sandbox ${record.id} after ${idle} ms idle`)
          yield* stopNow(record.id)
        }
      }
    }).pipe(Effect.repeat(Schedule.spaced(tick)), Effect.forkScoped)

    // State changes run to the end even when the client goes away mid-request, as the real API does.
    return {
      create: (input) => Effect.uninterruptible(create(input)),
      get: find,
      list: Effect.map(Ref.get(records), (map) =>
        [...map.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      ),
      start: (idOrName) => Effect.uninterruptible(start(idOrName)),
      stop: (idOrName) => Effect.uninterruptible(stop(idOrName)),
      remove: (idOrName) => Effect.uninterruptible(remove(idOrName)),
      recover: (idOrName) => Effect.uninterruptible(recover(idOrName)),
      touch,
      hostPort,
      run,
      setState,
      hold,
      resetPreviewToken,
      setLatencies: (patch) => Ref.update(latencies, (current) => ({ ...current, ...patch }))
    }
  })
