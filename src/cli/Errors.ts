/**
 * How the CLI reports a failure: one line saying what happened, one saying what to do, an exit code
 * (2 for usage and configuration errors, 1 for the rest), and — with `--verbose` — the cause.
 *
 * This module classifies errors by their `_tag`, so it loads none of the modules that define them.
 *
 * @since 0.1.0
 */
import { Cause, ConfigError, Data, Option, Predicate } from "effect"
import type { DaytonaApiError } from "../services/DaytonaClient.js"

/**
 * A failure as the CLI reports it.
 *
 * @since 0.1.0
 */
export interface Failure {
  /** The error's tag (or `Defect`). */
  readonly tag: string
  /** What happened, one line. */
  readonly what: string
  /** What to do, one line. */
  readonly fix: string
  /** 2 for usage and configuration errors, 1 otherwise. */
  readonly exitCode: 1 | 2
  /** More text shown with `--verbose` (e.g. the last output of a server that did not come up). */
  readonly detail?: string | undefined
}

/**
 * No sandbox carries the SID label a command named.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoSandbox extends Data.TaggedError("NoSandbox")<{ readonly sid: string }> {
  override get message(): string {
    return `No sandbox carries the label OpenHands_SID=${this.sid}`
  }
}

/**
 * A command-line value the parser accepted but the command cannot use.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly what: string; readonly fix: string }> {
  override get message(): string {
    return `${this.what}: ${this.fix}`
  }
}

const KEYS_URL = "https://app.daytona.io/dashboard/keys"
const DOCTOR = "run `effect-daytona doctor`"

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ").trim()

const capitalize = (text: string): string => (text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1))

/**
 * Splits "what: how to fix it" at its last ": " (a value quoted in the first part may hold one; the
 * advice does not, and a URL's "://" is no split point).
 */
const splitAdvice = (message: string, fallbackFix: string): [string, string] => {
  const index = message.lastIndexOf(": ")
  return index < 0 ? [message, fallbackFix] : [message.slice(0, index), capitalize(message.slice(index + 2))]
}

const configLeaves = (error: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...configLeaves(error.left), ...configLeaves(error.right)]
    default:
      return [error.message]
  }
}

const configFailure = (error: ConfigError.ConfigError): Failure => {
  const parts = configLeaves(error).map((message) =>
    splitAdvice(oneLine(message), "see the README's configuration table")
  )
  return {
    tag: "ConfigError",
    what: `Invalid configuration: ${parts.map(([what]) => what).join("; ")}`,
    fix: parts.map(([, fix]) => fix).join("; "),
    exitCode: 2
  }
}

const apiFailure = (error: DaytonaApiError): Failure => {
  const status = error.status === undefined ? "" : ` (HTTP ${error.status})`
  const what = `${error.operation} failed${status}: ${oneLine(error.detail)}`
  const base = { tag: "DaytonaApiError", exitCode: 1 as const }
  switch (error.reason) {
    case "Unauthorized":
      return {
        ...base,
        what: `Daytona rejected the API key${status}`,
        fix: `Create a new key at ${KEYS_URL}, export DAYTONA_API_KEY=<key>, then ${DOCTOR}`
      }
    case "Forbidden":
      return {
        ...base,
        what,
        fix: "The key lacks a permission this call needs, or the organization hit a limit: check the key and your quota in the Daytona dashboard"
      }
    case "RateLimited":
      return {
        ...base,
        what,
        fix: "Daytona is throttling requests: wait a minute and try again, or lower DAYTONA_MAX_CONCURRENT_CREATES"
      }
    case "Transient":
    case "Timeout":
    case "Unknown":
      // Unknown without a status: Daytona answered, with something this client cannot read.
      if (error.reason === "Unknown" && error.status === undefined) {
        return {
          ...base,
          what,
          fix: `Check that DAYTONA_API_URL points at the Daytona API (not a proxy or a sign-in page), then ${DOCTOR}`
        }
      }
      return error.status === undefined
        ? {
            ...base,
            what: `Cannot reach the Daytona API: ${oneLine(error.detail)}`,
            fix: `Check DAYTONA_API_URL and your network, then ${DOCTOR}`
          }
        : { ...base, what, fix: `A temporary failure of Daytona: try again; if it persists, ${DOCTOR}` }
    case "SandboxFailed":
      return {
        ...base,
        what,
        fix: "Check your quota and resource limits in the Daytona dashboard and the snapshot; remove the broken sandbox with `effect-daytona delete --sid …`"
      }
    case "NotFound":
      return /WarmPool/.test(error.operation)
        ? {
            ...base,
            what,
            fix:
              "No such warm pool (see `effect-daytona pool list`); when every pool call answers 404, " +
              "the organization does not have warm pools: ask Daytona to enable them"
          }
        : { ...base, what, fix: "It does not exist any more: see `effect-daytona list`" }
    case "StateChangeInProgress":
      return { ...base, what, fix: "Another state change is under way: wait a few seconds and try again" }
    case "Conflict":
    case "Invalid":
      return { ...base, what, fix: `The request was refused: check the sandbox in the Daytona dashboard, or ${DOCTOR}` }
  }
}

const actionServerTags = ["ConnectionRefused", "HttpStatusError", "RequestTimeout", "TransportError", "DecodeError"]

/**
 * Classifies an expected error (a failure of the command's Effect).
 *
 * @since 0.1.0
 */
export const classify = (error: unknown): Failure => {
  if (ConfigError.isConfigError(error)) return configFailure(error)
  if (!Predicate.hasProperty(error, "_tag") || !Predicate.isString(error._tag)) return unexpected(error)
  const e = error as { readonly _tag: string; readonly message?: string } & Record<string, unknown>
  const message = oneLine(String(e.message ?? e._tag))
  switch (e._tag) {
    case "DaytonaApiError":
      return apiFailure(error as DaytonaApiError)
    case "InvalidRuntimeOptions":
      return {
        tag: e._tag,
        what: `Invalid ${String(e.option) === "sid" ? "--sid" : `option ${String(e.option)}`}`,
        fix: capitalize(String(e.detail)),
        exitCode: 2
      }
    case "UsageError":
      return { tag: e._tag, what: String(e.what), fix: String(e.fix), exitCode: 2 }
    case "NoSandbox":
      return { tag: e._tag, what: message, fix: "See the SIDs in use with `effect-daytona list`", exitCode: 1 }
    case "AmbiguousSandbox":
    case "SandboxUnusable": {
      const [what, fix] = splitAdvice(message, DOCTOR)
      return { tag: e._tag, what, fix, exitCode: 1 }
    }
    case "ActionServerNotReady": {
      const cause = e.cause as { readonly message?: string } | undefined
      const lastOutput = String(e.lastOutput ?? "").trim()
      return {
        tag: e._tag,
        what: `The action execution server in sandbox ${String(e.sandboxId)} did not come up: ${oneLine(String(cause?.message ?? "no answer"))}`,
        fix:
          "Check that the snapshot runs OpenHands' action execution server on port 4444 and that the sandbox is large enough " +
          `(it has 120 s to answer); ${DOCTOR}${lastOutput === "" ? "" : "; --verbose shows its last output"}`,
        exitCode: 1,
        detail: lastOutput === "" ? undefined : `The server's last output:\n${lastOutput}`
      }
    }
    case "ActionFailed":
      return { tag: e._tag, what: message, fix: "Check the command and the sandbox's workspace", exitCode: 1 }
    case "EmulatorError":
      if (Predicate.isTagged(e.cause, "IsolationUnavailable")) {
        return {
          tag: "IsolationUnavailable",
          what: "The emulator cannot isolate sandbox processes: bubblewrap (bwrap) is missing or cannot create namespaces",
          fix:
            "Install it (Debian/Ubuntu: apt-get install bubblewrap), or add --unsafe-host-processes to run sandbox " +
            "commands unisolated, as your own user on this machine's filesystem",
          exitCode: 2
        }
      }
      if (message.startsWith("actionServerCommand")) {
        return {
          tag: e._tag,
          what: `The emulator could not start: ${message}`,
          fix: "Give --action-server-command the path of the server command, e.g. ../shared/openhands-server/serve",
          exitCode: 2
        }
      }
      return {
        tag: e._tag,
        what: `The emulator could not start: ${message}`,
        fix: "Pick another --port or --ssh-port (0 picks any free one), or check the temporary folder's permissions",
        exitCode: 1
      }
    default:
      if (actionServerTags.includes(e._tag)) {
        return {
          tag: e._tag,
          what: `The action execution server failed: ${message}`,
          fix: `Try again; if it persists, run with --verbose and ${DOCTOR}`,
          exitCode: 1
        }
      }
      return { tag: e._tag, what: message, fix: `Run again with --verbose for the cause, or ${DOCTOR}`, exitCode: 1 }
  }
}

const unexpected = (defect: unknown): Failure => ({
  tag: "Defect",
  what: `Unexpected error: ${oneLine(defect instanceof Error ? defect.message : String(defect))}`,
  fix: "Run again with --verbose and report it with that output (remove any secret first)",
  exitCode: 1
})

/**
 * Classifies the cause of a failed command: its first failure, else its first defect. `None` when the
 * cause holds only interruptions.
 *
 * @since 0.1.0
 */
export const fromCause = (cause: Cause.Cause<unknown>): Option.Option<Failure> =>
  Option.match(Cause.failureOption(cause), {
    onSome: (error) => Option.some(classify(error)),
    onNone: () => Option.map(Cause.dieOption(cause), unexpected)
  })

/**
 * The lines printed on stderr for a failure; with `verbose`, the detail and the whole cause follow.
 *
 * @since 0.1.0
 */
export const render = (
  failure: Failure,
  options: { readonly verbose: boolean; readonly cause?: Cause.Cause<unknown> }
) => {
  const lines = [`error: ${failure.what}`, `  fix: ${failure.fix}`]
  if (options.verbose) {
    if (failure.detail !== undefined) lines.push(failure.detail)
    if (options.cause !== undefined) lines.push(`cause: ${Cause.pretty(options.cause, { renderErrorCause: true })}`)
  }
  return lines.join("\n")
}

/**
 * The JSON document printed on stdout for a failure under `--json`.
 *
 * @since 0.1.0
 */
export const toJson = (failure: Failure) => ({
  ok: false,
  error: { tag: failure.tag, message: failure.what, fix: failure.fix, exitCode: failure.exitCode }
})
