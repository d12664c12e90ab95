/**
 * `doctor`: checks how the local emulator would isolate sandbox processes (bubblewrap), the configuration (the key
 * shown redacted), whether the API answers and how fast,
 * whether it accepts the key, whether sandboxes of a SID are broken, and — with `--connect` — a whole
 * runtime (create, start the action server, run a command, delete). Each failed check comes with a fix.
 * Exit 0 when every check passes, 2 when the configuration is invalid, 1 otherwise.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Clock, ConfigError, Console, Context, Duration, Effect, Either, Exit, Layer, Option, Redacted } from "effect"
import { existsSync } from "node:fs"
import * as NodePath from "node:path"
import * as Isolation from "../emulator/Isolation.js"
import { DaytonaClient, SID_LABEL } from "../services/DaytonaClient.js"
import type { DaytonaClientService } from "../services/DaytonaClient.js"
import { DaytonaConfig } from "../services/DaytonaConfig.js"
import type { DaytonaSettings } from "../services/DaytonaConfig.js"
import * as Env from "./Env.js"
import * as Errors from "./Errors.js"
import * as Output from "./Output.js"
import * as Reaper from "../programs/Reaper.js"
import { withRuntime } from "./Session.js"

/**
 * The result of one check.
 *
 * @since 0.1.0
 */
export interface Check {
  readonly name: string
  readonly status: "ok" | "fail" | "warn" | "skip"
  readonly detail: string
  readonly fix?: string | undefined
  readonly latencyMs?: number | undefined
}

/**
 * The flags of `doctor`.
 *
 * @since 0.1.0
 */
export interface DoctorFlags extends Env.CommonFlags {
  /** Also run a whole runtime: create a sandbox, start its server, run a command, delete it. */
  readonly connect: boolean
}

const KEYS_URL = "https://app.daytona.io/dashboard/keys"
const BROKEN = new Set(["error", "build_failed"])

const skip = (name: string, why: string): Check => ({ name, status: "skip", detail: why })

const describeSettings = (settings: DaytonaSettings): string =>
  [
    `key set (${Redacted.value(settings.apiKey).length} chars)`,
    `API ${settings.apiUrl}`,
    `target ${settings.target}`,
    settings.public ? "public previews" : "private previews",
    settings.deleteOnClose ? "close deletes" : "close stops",
    settings.disableAutoStop ? "auto-stop off" : `auto-stop ${settings.autoStopIntervalMinutes} min`
  ].join(", ")

const configCheck = (error: unknown): Check => {
  const failure = Errors.classify(error)
  return { name: "configuration", status: "fail", detail: failure.what, fix: failure.fix }
}

/** Reaches the API with a list that matches nothing: its latency, and whether the key is accepted. */
const apiChecks = (client: DaytonaClientService, settings: DaytonaSettings) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const probe = yield* Effect.either(client.list({ [SID_LABEL]: `effect-daytona-doctor-probe-${start}` }))
    const latencyMs = (yield* Clock.currentTimeMillis) - start
    if (Either.isRight(probe)) {
      return [
        {
          name: "API reachable",
          status: latencyMs > 3_000 ? "warn" : "ok",
          detail: `${settings.apiUrl} answered in ${latencyMs} ms`,
          fix:
            latencyMs > 3_000 ? "The API is slow from here: check the network, a proxy, or DAYTONA_TARGET" : undefined,
          latencyMs
        },
        { name: "authentication", status: "ok", detail: "the API key is accepted" }
      ] satisfies ReadonlyArray<Check>
    }
    const error = probe.left
    // Unknown without a status: something answered, but not as the Daytona API does (see `Errors.classify`).
    if (error.reason === "Unknown" && error.status === undefined) {
      return [
        {
          name: "API reachable",
          status: "fail",
          detail: `${settings.apiUrl} answered, but not as the Daytona API does: ${error.detail}`,
          fix: "Point DAYTONA_API_URL at the API itself (unset it for https://app.daytona.io/api), not at the dashboard, a proxy or a sign-in page",
          latencyMs
        },
        skip("authentication", "the answer could not be read")
      ] satisfies ReadonlyArray<Check>
    }
    if (error.status === undefined) {
      return [
        {
          name: "API reachable",
          status: "fail",
          detail: `${settings.apiUrl} did not answer: ${error.detail}`,
          fix: "Check DAYTONA_API_URL (unset it for https://app.daytona.io/api), your network and any proxy"
        },
        skip("authentication", "the API did not answer")
      ] satisfies ReadonlyArray<Check>
    }
    const reached: Check = {
      name: "API reachable",
      status: "ok",
      detail: `${settings.apiUrl} answered HTTP ${error.status} in ${latencyMs} ms`,
      latencyMs
    }
    const auth: Check =
      error.reason === "Unauthorized"
        ? {
            name: "authentication",
            status: "fail",
            detail: `the API key was rejected (HTTP ${error.status})`,
            fix: `Create a new key at ${KEYS_URL} and export DAYTONA_API_KEY=<key>`
          }
        : error.reason === "Forbidden"
          ? {
              name: "authentication",
              status: "fail",
              detail: `the key may not list sandboxes (HTTP ${error.status})`,
              fix: `Give the key the sandbox permissions (or create one that has them) at ${KEYS_URL}`
            }
          : error.reason === "RateLimited"
            ? {
                name: "authentication",
                status: "fail",
                detail: "Daytona is throttling this key (HTTP 429)",
                fix: "Wait a minute; if it keeps happening, lower DAYTONA_MAX_CONCURRENT_CREATES or raise your limits"
              }
            : { name: "authentication", status: "fail", detail: error.message, fix: Errors.classify(error).fix }
    return [reached, auth] satisfies ReadonlyArray<Check>
  })

/** Sandboxes of a SID that are broken (creation failing) or left running by a crashed process. */
const sandboxChecks = (client: DaytonaClientService) =>
  Effect.gen(function* () {
    const listed = yield* Effect.either(client.list({}))
    if (Either.isLeft(listed)) {
      return [
        { name: "sandboxes", status: "fail", detail: listed.left.message, fix: Errors.classify(listed.left).fix }
      ] satisfies ReadonlyArray<Check>
    }
    const broken = listed.right.filter((s) => s.labels[SID_LABEL] !== undefined && BROKEN.has(s.state))
    const brokenCheck: Check =
      broken.length === 0
        ? {
            name: "sandboxes",
            status: "ok",
            detail: `${listed.right.length} sandbox(es), none in error or build_failed`
          }
        : {
            name: "sandboxes",
            status: "fail",
            detail: broken
              .map((s) => {
                const reason = Option.match(s.errorReason, { onNone: () => "", onSome: (r) => `: ${r}` })
                return `${s.id} (sid ${s.labels[SID_LABEL]}) is ${s.state}${reason}`
              })
              .join("; "),
            fix:
              "Sandbox creation is failing: check your quota and resource limits (CPU, memory, disk, 429s) in the Daytona " +
              "dashboard and that the snapshot exists; then delete them with effect-daytona delete --sid <sid>"
          }
    // Abandoned: no lease renewal for an hour (2 h in error), the reaper's plan with a short TTL.
    const left = Reaper.plan(listed.right, yield* Clock.currentTimeMillis, {
      ...Reaper.Defaults,
      ttl: Duration.hours(1)
    }).filter(Reaper.isReaped)
    const leftCheck: Check =
      left.length === 0
        ? { name: "left running", status: "ok", detail: "no running sandbox of effect-daytona is abandoned" }
        : {
            name: "left running",
            status: "warn",
            detail: `${left.length} running sandbox(es) of effect-daytona have had no lease renewal for over an hour`,
            fix: "Their holders are gone: stop them with effect-daytona reap --ttl 1h --apply"
          }
    return [brokenCheck, leftCheck]
  })

/** A whole runtime: create, start the action server, wait until it answers, run a command, delete. */
const connectCheck = (flags: DoctorFlags) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(
      withRuntime(
        { ...flags, sid: Option.some("effect-daytona-doctor"), attach: false },
        (runtime) => runtime.run("echo ok"),
        { onClose: "delete" }
      )
    )
    const seconds = (((yield* Clock.currentTimeMillis) - start) / 1000).toFixed(1)
    if (Exit.isSuccess(exit) && exit.value._tag === "Completed" && exit.value.exitCode === 0) {
      return { name: "runtime", status: "ok", detail: `a sandbox answered a command ${seconds} s after the request` }
    }
    const failure = Exit.isSuccess(exit)
      ? {
          what:
            exit.value._tag === "Completed"
              ? `the test command exited with ${exit.value.exitCode}`
              : `the test command did not complete: ${exit.value.reason}`,
          fix: "Check the snapshot's shell"
        }
      : Option.getOrElse(Errors.fromCause(exit.cause), () => ({ what: "interrupted", fix: "Run it again" }))
    return { name: "runtime", status: "fail", detail: failure.what, fix: failure.fix }
  }).pipe(Effect.map((check): Check => check as Check))

/** Whether a program is on `PATH` (or is an existing path). */
const onPath = (program: string): boolean =>
  program.includes("/")
    ? existsSync(program)
    : (process.env.PATH ?? "").split(":").some((dir) => dir !== "" && existsSync(NodePath.join(dir, program)))

/**
 * How the local emulator would isolate sandbox processes. Only the emulator needs bubblewrap, so its absence fails
 * the check only with `--emulator` (without `--unsafe-host-processes`).
 */
const isolationCheck = (flags: DoctorFlags) =>
  Effect.gen(function* () {
    const found = yield* Isolation.detect.pipe(Effect.provide(NodeContext.layer))
    if (Option.isSome(found)) {
      return {
        name: "isolation",
        status: "ok",
        detail: `bubblewrap works (${found.value}): the local emulator runs sandbox commands in their own namespaces as uid 1000`
      } satisfies Check
    }
    const program = process.env.BWRAP ?? "bwrap"
    const why = onPath(program)
      ? `bubblewrap (${program}) is installed but cannot create namespaces here (user namespaces disabled?)`
      : "bubblewrap (bwrap) is not installed"
    const unsafe = flags.unsafeHostProcesses === true
    return {
      name: "isolation",
      status: flags.emulator && !unsafe ? "fail" : "warn",
      detail: unsafe
        ? `${why}: with --unsafe-host-processes the emulator runs sandbox commands UNISOLATED, as your user on this machine's filesystem`
        : `${why}: the local emulator refuses to start (a real Daytona sandbox does not need it)`,
      fix:
        "Install it (Debian/Ubuntu: apt-get install bubblewrap; in a container, allow user namespaces), or run the " +
        "emulator with --unsafe-host-processes: sandbox commands then run as your own user on this machine's " +
        "filesystem, able to read and change what you can"
    } satisfies Check
  })

const render = (check: Check): string => {
  const label = { ok: "ok  ", fail: "FAIL", warn: "warn", skip: "skip" }[check.status]
  const head = `  ${label}  ${check.name.padEnd(16)}${check.detail}`
  return check.fix === undefined ? head : `${head}\n${" ".repeat(22)}fix: ${check.fix}`
}

/**
 * Runs `doctor`.
 *
 * @since 0.1.0
 */
export const doctor = (flags: DoctorFlags) =>
  Effect.gen(function* () {
    const config = yield* Effect.either(Layer.build(Env.configLayer(flags)))
    const checks: Array<Check> = []
    if (Either.isLeft(config)) {
      checks.push(
        ConfigError.isConfigError(config.left)
          ? configCheck(config.left)
          : { name: "configuration", status: "fail", detail: Errors.classify(config.left).what }
      )
      checks.push(skip("API reachable", "no valid configuration"), skip("authentication", "no valid configuration"))
    } else {
      const settings = Context.get(config.right, DaytonaConfig)
      checks.push({ name: "configuration", status: "ok", detail: describeSettings(settings) })
      const Live = yield* Effect.promise(() => import("../layers/DaytonaClientLive.js"))
      const client = Context.get(
        yield* Layer.build(Live.layer.pipe(Layer.provide(Layer.succeedContext(config.right)))),
        DaytonaClient
      )
      const api = yield* apiChecks(client, settings)
      checks.push(...api)
      if (api.every((check) => check.status !== "fail")) {
        checks.push(...(yield* sandboxChecks(client)))
        checks.push(
          flags.connect
            ? yield* connectCheck(flags)
            : skip("runtime", "run `effect-daytona doctor --connect` to try a whole runtime (up to 2 minutes)")
        )
      }
    }
    checks.push(yield* isolationCheck(flags))
    const failed = checks.filter((check) => check.status === "fail")
    const configFailed = Either.isLeft(config) && ConfigError.isConfigError(config.left)
    yield* Output.setExitCode(failed.length === 0 ? 0 : configFailed ? 2 : 1)
    if (flags.json) return yield* Output.printJson({ ok: failed.length === 0, checks })
    yield* Console.log(["effect-daytona doctor", ...checks.map(render)].join("\n"))
    yield* Console.log(
      failed.length === 0 ? "All checks passed." : `${failed.length} check(s) failed: apply the fixes above.`
    )
  }).pipe(Effect.scoped)
