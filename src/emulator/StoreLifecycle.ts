/**
 * The lifecycle operations of the emulator's sandboxes, as Daytona's `SandboxService` decides them
 * (`apps/api/src/sandbox/services/sandbox.service.ts`) and its sandbox manager carries them out: the checks
 * and their exact answers (409 while a state change is in progress, 400 for an errored or unfit state), the
 * soft delete that frees the name at once, ephemeral sandboxes deleted on stop, recover checking recoverability
 * first, and the 30-second wait of create, start and recover.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option } from "effect"
import { HttpFailure } from "./Dto.js"
import type { HoldState, SandboxRecord } from "./Dto.js"
import { isErrored, isPending } from "./StoreCore.js"
import type { Core } from "./StoreCore.js"

/**
 * The lifecycle part of the store.
 *
 * @since 0.1.0
 */
export interface Lifecycle {
  /** Starts a stopped or archived sandbox; waits (at most 30 s) until started, except from `archived`. */
  readonly start: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Asks for a stop (an ephemeral sandbox is deleted instead); answers at once, still `started`. */
  readonly stop: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Soft-deletes: the name is freed at once (`DESTROYED_<name>_<ms>`), the sandbox goes `destroying`. */
  readonly remove: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Recovers a recoverable error, then starts (unless `skipStart`) and waits as start does. */
  readonly recover: (
    idOrName: string,
    options?: { readonly skipStart?: boolean | undefined }
  ) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Archives a stopped sandbox. */
  readonly archive: (idOrName: string) => Effect.Effect<SandboxRecord, HttpFailure>
  /** Changes settings of a sandbox (labels, intervals, public); `f` checks them first. */
  readonly update: (
    idOrName: string,
    f: (record: SandboxRecord) => Effect.Effect<SandboxRecord, HttpFailure>
  ) => Effect.Effect<SandboxRecord, HttpFailure>
  readonly setState: (
    id: string,
    state: string,
    options?: { readonly errorReason?: string | undefined; readonly recoverable?: boolean | undefined }
  ) => Effect.Effect<void, HttpFailure>
  readonly hold: (target: string, state: HoldState, duration: Duration.DurationInput) => Effect.Effect<void>
  readonly resetPreviewToken: (id: string) => Effect.Effect<void, HttpFailure>
  /** Moves to `via`, then to `target` after `delay` (at once when the delay is zero). */
  readonly transition: (id: string, via: string, target: string, delay: Duration.Duration) => Effect.Effect<void>
  /** The start of a freshly inserted sandbox (`creating` → `started`, or the pending create hold). */
  readonly startCreated: (id: string) => Effect.Effect<void>
  /** What the auto-stop job does: stop, or delete an ephemeral sandbox. */
  readonly stopNow: (id: string) => Effect.Effect<void>
  /** The soft delete, without the checks (auto-delete job). */
  readonly destroy: (id: string) => Effect.Effect<Option.Option<SandboxRecord>>
  /** `stopped` → `archiving` → `archived`, without the checks (auto-archive job). */
  readonly archiveNow: (id: string) => Effect.Effect<Option.Option<SandboxRecord>>
}

const inProgress = () => new HttpFailure({ status: 409, detail: "Sandbox state change in progress" })
const sandboxError = (detail: string) => new HttpFailure({ status: 400, detail })
const settledState = (state: HoldState) => (state === "stopping" ? "stopped" : "started")
/** The desired state that goes with a settled state (Daytona's `getExpectedDesiredStateForState`). */
const expectedDesired: Record<string, string> = {
  started: "started",
  stopped: "stopped",
  archived: "archived",
  destroyed: "destroyed",
  paused: "paused"
}

/**
 * Whether a sandbox is ephemeral (deleted when it stops).
 *
 * @since 0.1.0
 */
export const isEphemeral = (record: SandboxRecord): boolean => record.autoDeleteInterval === 0

/**
 * Makes the lifecycle operations over the store's internals.
 *
 * @since 0.1.0
 */
export const makeLifecycle = (core: Core): Lifecycle => {
  const { change, enter, find, runs } = core
  let nextCreateHold: Option.Option<{ readonly state: HoldState; readonly duration: Duration.DurationInput }> =
    Option.none()

  const transition: Lifecycle["transition"] = (id, via, target, delay) =>
    Duration.isZero(delay)
      ? Effect.zipRight(core.cancelTransition(id), Effect.asVoid(enter(id, target)))
      : Effect.zipRight(Effect.asVoid(enter(id, via)), core.schedule(id, delay, enter(id, target)))

  const startCreated = (id: string) =>
    Effect.gen(function* () {
      const hold = nextCreateHold
      nextCreateHold = Option.none()
      if (Option.isSome(hold)) {
        yield* enter(id, hold.value.state)
        return yield* core.schedule(id, hold.value.duration, enter(id, settledState(hold.value.state)))
      }
      yield* transition(id, "creating", "started", yield* core.latency("create"))
    })

  const stopTransition = (id: string) =>
    Effect.gen(function* () {
      yield* enter(id, "stopping")
      const delay = yield* core.latency("stop")
      yield* core.schedule(
        id,
        "0 millis",
        runs
          .close(id)
          .pipe(
            Effect.zipRight(Effect.sleep(delay)),
            Effect.zipRight(change(id, (r) => ({ ...r, state: "stopped", errorReason: undefined, recoverable: false })))
          )
      )
    })

  const destroy = (id: string) =>
    Effect.gen(function* () {
      const updated = yield* change(id, (r, at) => ({
        ...r,
        name: `DESTROYED_${r.name}_${at.getTime()}`,
        desiredState: "destroyed"
      }))
      if (Option.isNone(updated)) return updated
      yield* enter(id, "destroying")
      const delay = yield* core.latency("delete")
      yield* core.schedule(
        id,
        "0 millis",
        runs.close(id).pipe(Effect.zipRight(Effect.sleep(delay)), Effect.zipRight(core.destroyNow(id)))
      )
      return updated
    })

  const stopNow = (id: string) =>
    Effect.suspend(() => {
      const record = core.records.get(id)
      if (record === undefined) return Effect.void
      if (isEphemeral(record)) return Effect.asVoid(destroy(id))
      return Effect.zipRight(
        change(id, (r) => ({ ...r, desiredState: "stopped" })),
        stopTransition(id)
      )
    })

  const startFrom = (record: SandboxRecord, latencyKey: "start" | "recover") =>
    Effect.gen(function* () {
      const updated = yield* change(record.id, (r) => ({
        ...r,
        desiredState: "started",
        previewToken: r.state === "paused" ? r.previewToken : core.newToken()
      }))
      const reply = Option.getOrElse(updated, () => record)
      const delay = yield* core.latency(latencyKey)
      const restoring = record.state === "archived" || record.state === "archiving"
      yield* transition(record.id, restoring ? "restoring" : "starting", "started", delay)
      // The API answers an archived sandbox at once (it restores in the background); otherwise it waits.
      if (["archived", "restoring", "started"].includes(reply.state)) return reply
      return yield* core.awaitStarted(record.id, core.options.startWait ?? "30 seconds")
    })

  const start = (idOrName: string) =>
    Effect.gen(function* () {
      const record = yield* find(idOrName)
      if (record.state === "started" && record.desiredState === "started") return record
      if (isErrored(record)) return yield* sandboxError("Sandbox is in an errored state")
      if (record.state !== record.desiredState) {
        // A stopped sandbox on its way to `archived` may still be started.
        const archiving =
          record.desiredState === "archived" && (record.state === "stopped" || record.state === "archiving")
        if (!archiving) return yield* inProgress()
      }
      if (!["stopped", "archived", "archiving", "paused"].includes(record.state)) {
        return yield* sandboxError("Sandbox is not in valid state")
      }
      if (isPending(record)) return yield* inProgress()
      return yield* startFrom(record, "start")
    })

  const stop = (idOrName: string) =>
    Effect.gen(function* () {
      const record = yield* find(idOrName)
      if (isErrored(record)) return yield* sandboxError("Sandbox is in an errored state")
      if (record.state !== record.desiredState) return yield* inProgress()
      if (record.state !== "started" && record.state !== "paused") {
        return yield* sandboxError("Sandbox is not in a stoppable state")
      }
      if (isEphemeral(record)) return Option.getOrElse(yield* destroy(record.id), () => record)
      const updated = yield* change(record.id, (r) => ({ ...r, desiredState: "stopped" }))
      yield* stopTransition(record.id)
      // Answered as the API does: still `started`, with `desiredState: stopped`.
      return Option.getOrElse(updated, () => record)
    })

  const remove = (idOrName: string) =>
    Effect.gen(function* () {
      const record = yield* find(idOrName)
      if (isPending(record) && record.state !== "pending_build") return yield* inProgress()
      return Option.getOrElse(yield* destroy(record.id), () => record)
    })

  const recover: Lifecycle["recover"] = (idOrName, options) =>
    Effect.gen(function* () {
      const record = yield* find(idOrName)
      if (!record.recoverable)
        return yield* new HttpFailure({ status: 400, detail: "Sandbox is not in a recoverable state" })
      if (record.state !== "error") {
        return yield* new HttpFailure({ status: 400, detail: "Sandbox must be in error state to recover" })
      }
      yield* core.cancelTransition(record.id)
      const recovered = yield* change(record.id, (r) => ({
        ...r,
        state: "stopped",
        desiredState: "stopped",
        errorReason: undefined,
        recoverable: false
      }))
      if (options?.skipStart === true || Option.isNone(recovered)) return Option.getOrElse(recovered, () => record)
      return yield* startFrom(recovered.value, "recover")
    })

  const archiveNow = (id: string) =>
    Effect.gen(function* () {
      const updated = yield* change(id, (r) => ({ ...r, state: "archiving", desiredState: "archived" }))
      const delay = yield* core.latency("archive")
      yield* core.schedule(id, delay, enter(id, "archived"))
      return updated
    })

  const archive = (idOrName: string) =>
    Effect.gen(function* () {
      const record = yield* find(idOrName)
      if (isErrored(record)) return yield* sandboxError("Sandbox is in an errored state")
      if (record.state !== record.desiredState) return yield* inProgress()
      if (record.state !== "stopped") return yield* sandboxError("Sandbox is not stopped")
      if (isEphemeral(record)) return yield* sandboxError("Ephemeral sandboxes cannot be archived")
      return Option.getOrElse(yield* archiveNow(record.id), () => record)
    })

  const update: Lifecycle["update"] = (idOrName, f) =>
    Effect.gen(function* () {
      const record = yield* find(idOrName)
      const next = yield* f(record)
      const updated = yield* change(record.id, () => next)
      return Option.getOrElse(updated, () => next)
    })

  const setState: Lifecycle["setState"] = (id, state, opts) =>
    Effect.gen(function* () {
      const record = yield* find(id)
      yield* core.cancelTransition(record.id)
      if (state === "destroyed") return yield* core.destroyNow(record.id)
      if (state !== "started") yield* runs.close(record.id)
      yield* change(record.id, (r) => ({
        ...r,
        state,
        desiredState: expectedDesired[state] ?? r.desiredState,
        errorReason: opts?.errorReason ?? (state === "error" ? "Injected error" : undefined),
        recoverable: opts?.recoverable ?? false
      }))
    })

  const hold: Lifecycle["hold"] = (target, state, duration) =>
    Effect.gen(function* () {
      if (target === "next-create") {
        nextCreateHold = Option.some({ state, duration })
        return
      }
      const record = Option.getOrUndefined(core.lookup(target))
      if (record === undefined) return
      const id = record.id
      yield* change(id, (r) => ({ ...r, state, desiredState: settledState(state) }))
      // Any hold leaves `started`, so the current run ends (a new one begins when the hold settles).
      yield* core.schedule(
        id,
        "0 millis",
        runs.close(id).pipe(Effect.zipRight(Effect.sleep(duration)), Effect.zipRight(enter(id, settledState(state))))
      )
    })

  const resetPreviewToken = (id: string) =>
    Effect.zipRight(find(id), Effect.asVoid(change(id, (r) => ({ ...r, previewToken: core.newToken() }))))

  return {
    start: (idOrName) => Effect.uninterruptible(start(idOrName)),
    stop: (idOrName) => Effect.uninterruptible(stop(idOrName)),
    remove: (idOrName) => Effect.uninterruptible(remove(idOrName)),
    recover: (idOrName, options) => Effect.uninterruptible(recover(idOrName, options)),
    archive: (idOrName) => Effect.uninterruptible(archive(idOrName)),
    update,
    setState,
    hold,
    resetPreviewToken,
    transition,
    startCreated,
    stopNow,
    destroy,
    archiveNow
  }
}
