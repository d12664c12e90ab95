/**
 * The plans of chaos trials: a small seeded PRNG and the generator that draws, for trial `index` of
 * seed `seed`, a fault mix, a close policy, a few actions and an interruption time. A plan depends only
 * on `(seed, index)`, so any trial can be replayed alone (`--trial K`).
 *
 * @since 0.1.0
 */
import type { OnClose } from "../src/programs/Options.js"

/**
 * A PRNG: `next()` gives a float in [0, 1).
 *
 * @since 0.1.0
 */
export interface Prng {
  readonly next: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  readonly chance: (p: number) => boolean
}

/** 32-bit FNV-1a of a string. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/**
 * mulberry32 seeded from the text of `seed` and `index`: the same pair always gives the same stream.
 *
 * @since 0.1.0
 */
export const makePrng = (seed: string, index: number): Prng => {
  let state = hash(`${seed}/${index}`) || 0x9e3779b9
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    pick: (items) => items[int(0, items.length - 1)]!,
    chance: (p) => next() < p
  }
}

/** API routes a status, 429 or latency fault may hit. */
export const API_ROUTES = [
  "sandbox.create",
  "sandbox.get",
  "sandbox.list",
  "sandbox.start",
  "sandbox.previewUrl",
  "toolbox.createSession",
  "toolbox.exec"
] as const

/**
 * One injected fault of a trial.
 *
 * @since 0.1.0
 */
export type FaultSpec =
  | {
      readonly kind: "api-5xx"
      readonly route: (typeof API_ROUTES)[number]
      readonly status: number
      readonly times: number
    }
  | { readonly kind: "rate-limit"; readonly route: (typeof API_ROUTES)[number]; readonly times: number }
  | {
      readonly kind: "latency"
      readonly route: (typeof API_ROUTES)[number]
      readonly millis: number
      readonly times: number
    }
  | { readonly kind: "malformed"; readonly route: "sandbox.get" | "sandbox.list" | "sandbox.previewUrl" }
  | { readonly kind: "action-502"; readonly via: "burst" | "inject"; readonly times: number }
  | { readonly kind: "boot-delay"; readonly millis: number }
  | { readonly kind: "crash"; readonly route: "action.execute" | "action.listFiles" }
  | { readonly kind: "stuck-starting"; readonly millis: number }
  | { readonly kind: "allocate-then-fail"; readonly status: number }
  | { readonly kind: "close-fails"; readonly route: "sandbox.stop" | "sandbox.delete"; readonly times: number }
  /**
   * Something else changes the sandbox while the runtime holds it (after its actions, before its close), so the
   * close meets Daytona's refusals: stopped (400 on stop), deleted (409 on a delete while the first runs, else 404),
   * errored (400 "in an errored state"), or restarting (409 while it is starting).
   */
  | { readonly kind: "meddle"; readonly what: Meddling }

/**
 * What happens to a held sandbox behind the runtime's back.
 *
 * @since 0.2.0
 */
export type Meddling = "stopped" | "deleted" | "errored" | "restarting"

/**
 * The action a trial sends once the runtime is ready.
 *
 * @since 0.1.0
 */
export type TrialAction = "run" | "write-read" | "list"

/**
 * Everything one trial does.
 *
 * @since 0.1.0
 */
export interface TrialPlan {
  readonly seed: string
  readonly index: number
  readonly sid: string
  readonly previewMode: "proxy" | "direct"
  readonly attach: boolean
  /** Passed as the `onClose` option; `undefined` = derived. */
  readonly onClose: OnClose | undefined
  /** `DAYTONA_DELETE_ON_CLOSE` for this trial. */
  readonly deleteOnClose: boolean
  /** What the close policy resolves to. */
  readonly policy: OnClose
  /** A sandbox of the SID that exists before the trial (attach trials only). */
  readonly existing: "none" | "stopped" | "starting"
  readonly faults: ReadonlyArray<FaultSpec>
  readonly actions: ReadonlyArray<TrialAction>
  /** Milliseconds after the start at which the trial is interrupted; `undefined` = never. */
  readonly interruptAt: number | undefined
  /**
   * The runtime comes from a runtime pool of this size (`DaytonaRuntime.pool`, made by the trial and closed with it)
   * instead of `acquire`; `undefined` = `acquire`. Never for attach trials (a pool hands out fresh runtimes).
   */
  readonly poolSize: number | undefined
}

/**
 * Draws one fault. A crash is drawn only with direct previews: behind the proxy a dead server answers 502,
 * which `Retry.actionRequest` retries for 4 + 8 + 16 s by design, longer than a trial should take (the
 * fault matrix covers it).
 */
const drawFault = (rng: Prng, previewMode: "proxy" | "direct"): FaultSpec => {
  switch (rng.int(0, 10)) {
    case 0:
      return { kind: "api-5xx", route: rng.pick(API_ROUTES), status: rng.pick([500, 502, 503]), times: rng.int(1, 2) }
    case 1:
      return { kind: "rate-limit", route: rng.pick(API_ROUTES), times: rng.int(1, 2) }
    case 2:
      return { kind: "latency", route: rng.pick(API_ROUTES), millis: rng.int(50, 400), times: rng.int(1, 3) }
    case 3:
      return { kind: "action-502", via: rng.pick(["burst", "inject"] as const), times: rng.int(1, 2) }
    case 4:
      return { kind: "boot-delay", millis: rng.int(300, 1500) }
    case 5:
      return previewMode === "direct"
        ? { kind: "crash", route: rng.pick(["action.execute", "action.listFiles"] as const) }
        : { kind: "action-502", via: "inject", times: rng.int(1, 2) }
    case 6:
      return { kind: "stuck-starting", millis: rng.int(200, 1500) }
    case 7:
      return { kind: "allocate-then-fail", status: rng.pick([500, 503]) }
    case 8:
      return { kind: "close-fails", route: rng.pick(["sandbox.stop", "sandbox.delete"] as const), times: rng.int(1, 2) }
    case 9:
      return { kind: "meddle", what: rng.pick<Meddling>(["stopped", "deleted", "errored", "restarting"]) }
    default:
      return { kind: "malformed", route: rng.pick(["sandbox.get", "sandbox.list", "sandbox.previewUrl"] as const) }
  }
}

/**
 * The plan of trial `index` of `seed`.
 *
 * @since 0.1.0
 */
export const planTrial = (seed: string, index: number): TrialPlan => {
  const rng = makePrng(seed, index)
  const attach = rng.chance(0.35)
  const onClose = rng.pick<OnClose | undefined>([
    undefined,
    undefined,
    "stop",
    "delete",
    ...(attach ? [] : ["keep" as const])
  ])
  const deleteOnClose = rng.chance(0.3)
  const policy: OnClose = onClose ?? (attach ? "keep" : deleteOnClose ? "delete" : "stop")
  const existing = attach ? rng.pick(["none", "none", "stopped", "starting"] as const) : "none"
  const previewMode = rng.chance(0.5) ? "proxy" : "direct"
  const faultCount = rng.pick([0, 1, 1, 2, 2, 3])
  const faults = Array.from({ length: faultCount }, () => drawFault(rng, previewMode))
  const actions = Array.from({ length: rng.int(1, 3) }, () => rng.pick<TrialAction>(["run", "write-read", "list"]))
  const interruptAt = rng.chance(0.35) ? rng.int(0, 3000) : undefined
  // Drawn last, so the other fields of a trial are those of the plans before pool trials existed.
  const poolSize = !attach && rng.chance(0.3) ? rng.int(1, 2) : undefined
  return {
    seed,
    index,
    sid: `chaos-${hash(seed).toString(16)}-${index}`,
    previewMode,
    attach,
    onClose,
    deleteOnClose,
    policy,
    existing,
    faults,
    actions,
    interruptAt,
    poolSize
  }
}

/**
 * A one-line description of a fault.
 *
 * @since 0.1.0
 */
export const describeFault = (fault: FaultSpec): string => {
  switch (fault.kind) {
    case "api-5xx":
      return `${fault.route}:${fault.status}x${fault.times}`
    case "rate-limit":
      return `${fault.route}:429x${fault.times}`
    case "latency":
      return `${fault.route}:+${fault.millis}msx${fault.times}`
    case "malformed":
      return `${fault.route}:malformed`
    case "action-502":
      return `action-502(${fault.via})x${fault.times}`
    case "boot-delay":
      return `boot-delay:${fault.millis}ms`
    case "crash":
      return `${fault.route}:crash`
    case "stuck-starting":
      return `stuck-starting:${fault.millis}ms`
    case "allocate-then-fail":
      return `sandbox.create:allocate-then-${fault.status}`
    case "close-fails":
      return `${fault.route}:503x${fault.times}`
    case "meddle":
      return `meddle:${fault.what}`
  }
}

/**
 * A one-line description of a plan (everything needed to recognise the trial).
 *
 * @since 0.1.0
 */
export const describePlan = (plan: TrialPlan): string =>
  [
    `seed=${plan.seed}`,
    `trial=${plan.index}`,
    `sid=${plan.sid}`,
    `preview=${plan.previewMode}`,
    `attach=${plan.attach}`,
    `existing=${plan.existing}`,
    `onClose=${plan.onClose ?? "derived"}`,
    `deleteOnClose=${plan.deleteOnClose}`,
    `policy=${plan.policy}`,
    `faults=[${plan.faults.map(describeFault).join(",")}]`,
    `actions=[${plan.actions.join(",")}]`,
    `interrupt=${plan.interruptAt === undefined ? "none" : `${plan.interruptAt}ms`}`,
    `pool=${plan.poolSize ?? "none"}`
  ].join(" ")
