/**
 * One chaos trial: prepare the emulator (an existing sandbox, the fault mix), run acquire → actions →
 * release under an optional interruption and a deadline, then judge what is left: no sandbox running
 * that the close policy says must not, no process left, no defect, and the events ending with `Closed`.
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Fiber, Option, Predicate, Schedule } from "effect"
import * as DaytonaRuntime from "../src/DaytonaRuntime.js"
import { Fault } from "../src/emulator/Emulator.js"
import type { EmulatorControlService, EmulatorSandbox } from "../src/emulator/Emulator.js"
import { Action } from "../src/services/ActionServer.js"
import { DaytonaClient, SID_LABEL } from "../src/services/DaytonaClient.js"
import { DaytonaConfig } from "../src/services/DaytonaConfig.js"
import { DEFAULT_BEHAVIOUR, LANE_LATENCIES, type LaneEnv, logLines } from "./Lane.js"
import type { FaultSpec, Meddling, TrialPlan } from "./Plan.js"

/** A trial still running this long after its start is interrupted (and counted as `deadline`). */
export const TRIAL_DEADLINE = Duration.seconds(20)
/** An interruption that has not finished this long after it was asked for is a hang (a defect). */
const INTERRUPT_LIMIT = Duration.seconds(60)

/**
 * How a trial ended.
 *
 * @since 0.1.0
 */
export type Outcome = "ready" | "failed" | "interrupted" | "deadline" | "hung"

/**
 * What a trial did and what the checks found.
 *
 * @since 0.1.0
 */
export interface TrialResult {
  readonly plan: TrialPlan
  readonly outcome: Outcome
  /** For `failed`: the error, e.g. `DaytonaApiError.Transient` or `HttpStatusError.401`. */
  readonly error: string | undefined
  /** The action of the `Closed` event, or `missing`. */
  readonly closed: string
  readonly leaks: ReadonlyArray<string>
  readonly defects: ReadonlyArray<string>
  readonly millis: number
  /** The runtime's log lines (at most 200). */
  readonly logs: ReadonlyArray<string>
}

/** The tags of the project's typed errors: anything else in a failure is a defect. */
const TYPED_ERRORS = new Set([
  "DaytonaApiError",
  "AmbiguousSandbox",
  "SandboxUnusable",
  "ActionServerNotReady",
  "ActionFailed",
  "InvalidRuntimeOptions",
  "RuntimePoolClosed",
  "ConnectionRefused",
  "HttpStatusError",
  "RequestTimeout",
  "TransportError",
  "DecodeError"
])

const RUNNING = new Set(["started", "starting", "creating", "restoring", "resuming"])
const TRANSITIONAL = new Set(["creating", "starting", "stopping", "destroying", "restoring", "resuming"])

/** A short label of a typed error: its tag and, where it has one, its reason, status or cause. */
export const errorLabel = (error: unknown): string => {
  if (!Predicate.hasProperty(error, "_tag")) return String(error)
  const tag = String(error._tag)
  if (Predicate.hasProperty(error, "reason") && typeof error.reason === "string") return `${tag}.${error.reason}`
  if (Predicate.hasProperty(error, "status") && typeof error.status === "number") return `${tag}.${error.status}`
  if (Predicate.hasProperty(error, "cause") && Predicate.hasProperty(error.cause, "_tag")) {
    return `${tag}.${String(error.cause._tag)}`
  }
  return tag
}

const apply = (control: EmulatorControlService, fault: FaultSpec): Effect.Effect<void> => {
  switch (fault.kind) {
    case "api-5xx":
      return control.inject(fault.route, Fault.Status({ status: fault.status }), fault.times)
    case "rate-limit":
      return control.inject(fault.route, Fault.Status({ status: 429, retryAfter: 1 }), fault.times)
    case "latency":
      return control.inject(fault.route, Fault.Latency({ duration: Duration.millis(fault.millis) }), fault.times)
    case "malformed":
      return control.inject(fault.route, Fault.Malformed())
    case "action-502":
      return fault.via === "burst"
        ? control.setActionServer({ badGatewayBurst: fault.times })
        : control.inject("action.alive", Fault.Status({ status: 502 }), fault.times)
    case "boot-delay":
      return control.setActionServer({ bootDelay: Duration.millis(fault.millis) })
    case "crash":
      return control.inject(fault.route, Fault.Crash())
    case "stuck-starting":
      return control.holdState("next-create", "starting", Duration.millis(fault.millis))
    case "allocate-then-fail":
      return control.inject("sandbox.create", Fault.AllocateThenFail({ status: fault.status }))
    case "close-fails":
      return control.inject(fault.route, Fault.Status({ status: 503 }), fault.times)
    case "meddle":
      // Done by the program once the runtime holds the sandbox.
      return Effect.void
  }
}

/** What a `meddle` fault does to the held sandbox, behind the runtime's back. */
const meddle = (control: EmulatorControlService, sandboxId: string, what: Meddling) =>
  Effect.gen(function* () {
    const client = yield* DaytonaClient
    switch (what) {
      case "stopped":
        return yield* client.stop(sandboxId)
      case "deleted":
        // Slow enough that a delete of the close meets this one under way (Daytona's 409).
        yield* control.setLatencies({ delete: "300 millis" })
        return yield* client.delete(sandboxId)
      case "errored":
        return yield* control.setSandboxState(sandboxId, "error", { errorReason: "chaos" })
      case "restarting":
        return yield* control.holdState(sandboxId, "starting", "600 millis")
    }
    // The meddling's own call may meet a fault injected for the runtime (a 503 on stop): then nothing was changed.
  }).pipe(Effect.ignore)

/** Undoes every fault a trial may have left unused. */
const reset = (control: EmulatorControlService) =>
  Effect.all(
    [
      control.clearFaults,
      control.setActionServer(DEFAULT_BEHAVIOUR),
      control.setLatencies(LANE_LATENCIES),
      // A pending hold of the next create would otherwise hit the next trial: replace it with one of 0 ms.
      control.holdState("next-create", "starting", Duration.zero)
    ],
    { discard: true }
  )

/** A sandbox of the SID made before the trial, left stopped or held in `starting`; its id. */
const prepareExisting = (plan: TrialPlan, control: EmulatorControlService) =>
  Effect.gen(function* () {
    if (plan.existing === "none") return undefined
    const client = yield* DaytonaClient
    const sandbox = yield* client.create({
      envVars: {},
      labels: { [SID_LABEL]: plan.sid },
      public: false,
      autoStopInterval: 60
    })
    if (plan.existing === "stopped") yield* client.stop(sandbox.id)
    else yield* control.holdState(sandbox.id, "starting", "800 millis")
    return sandbox.id
  }).pipe(Effect.orDie)

const check = (condition: boolean, message: string, into: Array<string>) => {
  if (!condition) into.push(message)
}

/** The runtime of a trial: by `acquire`, or handed out by a runtime pool the trial makes (and closes with it). */
const runtimeOf = (plan: TrialPlan) =>
  plan.poolSize === undefined
    ? DaytonaRuntime.acquire({ sid: plan.sid, attachToExisting: plan.attach, onClose: plan.onClose })
    : Effect.flatMap(DaytonaRuntime.pool({ size: plan.poolSize }), (pool) =>
        pool.acquire({ sid: plan.sid, onClose: plan.onClose })
      )

/** The trial's program: acquire, the actions (each result checked), any meddling, release. */
const program = (plan: TrialPlan, control: EmulatorControlService, defects: Array<string>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const runtime = yield* runtimeOf(plan)
      for (const [i, action] of plan.actions.entries()) {
        if (action === "run") {
          const result = yield* runtime.run(`echo chaos-${plan.index}-${i}`)
          check(
            result.exitCode === 0 && result.output.trim() === `chaos-${plan.index}-${i}`,
            `run returned ${JSON.stringify(result)}`,
            defects
          )
        } else if (action === "write-read") {
          const content = `trial ${plan.index} step ${i}`
          yield* runtime.execute(Action.Write({ path: `notes-${i}.txt`, content }))
          const read = yield* runtime.execute(Action.Read({ path: `notes-${i}.txt` }))
          // OpenHands' server writes the content as lines, each ending with a newline.
          check(
            read._tag === "Read" && read.content === `${content}\n`,
            `read returned ${JSON.stringify(read)}`,
            defects
          )
        } else {
          const files = yield* runtime.listFiles()
          check(Array.isArray(files), `listFiles returned ${JSON.stringify(files)}`, defects)
        }
      }
      for (const fault of plan.faults) {
        if (fault.kind === "meddle") yield* meddle(control, runtime.sandboxId, fault.what)
      }
    })
  )

/** Runs the program under the interruption and the deadline; the exit and how it ended. */
const supervise = <E, R>(plan: TrialPlan, effect: Effect.Effect<void, E, R>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    const limit = plan.interruptAt === undefined ? TRIAL_DEADLINE : Duration.millis(plan.interruptAt)
    const done = yield* Effect.timeoutOption(Fiber.await(fiber), limit)
    if (Option.isSome(done)) return { exit: done.value, by: "none" as const }
    const interrupted = yield* Effect.timeoutOption(Fiber.interrupt(fiber), INTERRUPT_LIMIT)
    if (Option.isNone(interrupted)) return { exit: undefined, by: "hung" as const }
    return { exit: interrupted.value, by: plan.interruptAt === undefined ? ("deadline" as const) : ("plan" as const) }
  })

/** Polls `effect` every 50 ms while `pending` holds, for at most `limit`; the last value. */
const pollWhile = <A>(effect: Effect.Effect<A>, pending: (a: A) => boolean, limit: Duration.DurationInput) =>
  Effect.repeat(
    effect,
    Schedule.spaced("50 millis").pipe(Schedule.upTo(limit), Schedule.whileInput(pending), Schedule.passthrough)
  )

/** The SID's sandboxes once none is in a transitional state (or after 5 s). */
const settled = (control: EmulatorControlService, sid: string) =>
  pollWhile(
    Effect.map(control.sandboxes, (all) => all.filter((s) => s.labels[SID_LABEL] === sid)),
    (list: ReadonlyArray<EmulatorSandbox>) => list.some((s) => TRANSITIONAL.has(s.state)),
    "5 seconds"
  )

/** `liveProcesses` once it is at most `expected` (or after 3 s). */
const processesDownTo = (control: EmulatorControlService, expected: number) =>
  pollWhile(control.liveProcesses, (n) => n > expected, "3 seconds")

/**
 * Runs one trial on a lane's emulator and judges it.
 *
 * @since 0.1.0
 */
export const runTrial = (plan: TrialPlan, env: LaneEnv): Effect.Effect<TrialResult> =>
  Effect.gen(function* () {
    const { control } = env
    const started = Date.now()
    const defects: Array<string> = []
    const leaks: Array<string> = []
    const existingId = yield* prepareExisting(plan, control)
    yield* Effect.forEach(plan.faults, (fault) => apply(control, fault), { discard: true })

    const config = yield* DaytonaConfig
    const { exit, by } = yield* supervise(
      plan,
      program(plan, control, defects).pipe(
        Effect.provideService(DaytonaConfig, { ...config, deleteOnClose: plan.deleteOnClose })
      )
    )
    yield* reset(control)

    let outcome: Outcome
    let error: string | undefined
    if (exit === undefined) {
      outcome = "hung"
      defects.push(`the interruption did not finish within ${Duration.format(INTERRUPT_LIMIT)}`)
    } else if (Exit.isSuccess(exit)) {
      outcome = by === "none" ? "ready" : by === "deadline" ? "deadline" : "interrupted"
    } else {
      const dies = Cause.defects(exit.cause)
      const failures = [...Cause.failures(exit.cause)]
      for (const die of dies)
        defects.push(`defect: ${Cause.pretty(Cause.die(die)).split("\n").slice(0, 3).join(" | ")}`)
      for (const failure of failures) {
        if (!(Predicate.hasProperty(failure, "_tag") && TYPED_ERRORS.has(String(failure._tag)))) {
          defects.push(`untyped failure: ${String(failure)}`)
        }
      }
      if (failures.length > 0 || dies.length > 0) {
        outcome = "failed"
        error = failures.length > 0 ? errorLabel(failures[0]) : "defect"
      } else {
        outcome = by === "deadline" ? "deadline" : "interrupted"
      }
    }

    // Events: a runtime that said anything ends with exactly one Closed.
    yield* Effect.sleep("10 millis")
    const events = env.events.get(plan.sid) ?? []
    env.events.delete(plan.sid)
    const closedEvents = events.filter((e) => e._tag === "Closed")
    const last = events.at(-1)
    const closed = last?._tag === "Closed" ? last.action : "missing"
    if (events.length > 0 && (last?._tag !== "Closed" || closedEvents.length !== 1)) {
      defects.push(`events end with ${last?._tag ?? "nothing"} (${closedEvents.length} Closed)`)
    }

    // Leaks: wait for transitions in flight, then judge by the close policy every sandbox the runtime answers
    // for: those made during the trial, and the existing one once the runtime started or closed it (when the
    // lookup failed, the existing sandbox is rightly left untouched).
    const sandboxes = yield* settled(control, plan.sid)
    const answerable = (id: string) =>
      id !== existingId ||
      events.some(
        (e) => (e._tag === "Closing" || e._tag === "SandboxStarted" || e._tag === "Closed") && e.sandboxId === id
      )
    if (plan.policy !== "keep") {
      for (const s of sandboxes) {
        if (RUNNING.has(s.state) && answerable(s.id)) {
          leaks.push(`sandbox ${s.id} is ${s.state} (policy ${plan.policy})`)
        }
      }
    }
    // A runtime pool's own sandboxes (`pooled-…`): once the trial (and so the pool) is over, none may run.
    const pooled =
      plan.poolSize === undefined
        ? []
        : yield* pollWhile(
            Effect.map(control.sandboxes, (all) => all.filter((s) => s.labels[SID_LABEL]?.startsWith("pooled-"))),
            (list: ReadonlyArray<EmulatorSandbox>) => list.some((s) => TRANSITIONAL.has(s.state)),
            "5 seconds"
          )
    for (const s of pooled) {
      if (RUNNING.has(s.state) && s.desiredState !== "destroyed") {
        leaks.push(`pooled sandbox ${s.id} is ${s.state} after the pool closed`)
      }
    }
    for (const sid of [...env.events.keys()]) if (sid.startsWith("pooled-")) env.events.delete(sid)
    for (const sid of [...logLines.keys()]) if (sid.startsWith("pooled-")) logLines.delete(sid)
    const startedCount = (yield* control.sandboxes).filter((s) => s.state === "started").length
    const live = yield* processesDownTo(control, startedCount)
    if (live > startedCount) leaks.push(`${live} processes for ${startedCount} started sandboxes`)

    // Clean up whatever the trial left (kept sandboxes too); then nothing may run in the emulator.
    yield* Effect.forEach([...sandboxes, ...pooled], (s) => Effect.ignore(control.setSandboxState(s.id, "destroyed")), {
      discard: true
    })
    const after = yield* processesDownTo(control, 0)
    if (after > 0) leaks.push(`${after} processes left after every sandbox of the trial was deleted`)

    const logs = logLines.get(plan.sid) ?? []
    logLines.delete(plan.sid)
    return { plan, outcome, error, closed, leaks, defects, millis: Date.now() - started, logs }
  }).pipe(Effect.provide(env.context))
