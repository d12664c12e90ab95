/**
 * Support for the secret canary: a Console that records what the loggers print, the debug switches
 * as a ConfigProvider, every way a value can be shown (so a secret hiding in any of them is found), and a
 * harvester that collects the per-sandbox secrets (preview tokens, session keys) of a standalone emulator
 * while commands run against it.
 */
import { sessionKeyOf } from "../support/sessionKey.js"
import { assert } from "@effect/vitest"
import { Cause, ConfigProvider, Console, Effect } from "effect"
import { inspect } from "node:util"

/** The debug switches, all on, with a log format. */
export const debugEnv = (format: "pretty" | "json" | "logfmt"): Record<string, string> => ({
  LOG_LEVEL: "all",
  DEBUG: "true",
  DEBUG_RUNTIME: "true",
  LOG_ALL_EVENTS: "true",
  LOG_FORMAT: format
})

/** The debug switches as a ConfigProvider (for `Logging.layer` in process). */
export const debugProvider = (format: "pretty" | "json" | "logfmt") =>
  ConfigProvider.fromMap(new Map(Object.entries(debugEnv(format))))

const PRINTING = new Set(["log", "error", "warn", "info", "debug", "trace", "dir", "table"])

/**
 * Runs `effect` with a Console whose output (what every logger writes, through `Console.unsafe`) is
 * appended to `lines` instead of printed.
 */
export const capturingConsole = <A, E, R>(effect: Effect.Effect<A, E, R>, lines: Array<string>) =>
  Effect.flatMap(Effect.console, (current) => {
    const record = (...args: ReadonlyArray<unknown>) => {
      lines.push(args.map((arg) => (typeof arg === "string" ? arg : inspect(arg, { depth: 10 }))).join(" "))
    }
    const unsafe = new Proxy(current.unsafe, {
      get: (target, property, receiver) =>
        typeof property === "string" && PRINTING.has(property) ? record : Reflect.get(target, property, receiver)
    })
    const recorded: Console.Console = {
      ...current,
      unsafe,
      log: (...args) => Effect.sync(() => record(...args)),
      error: (...args) => Effect.sync(() => record(...args)),
      warn: (...args) => Effect.sync(() => record(...args)),
      info: (...args) => Effect.sync(() => record(...args)),
      debug: (...args) => Effect.sync(() => record(...args))
    }
    return Effect.withConsole(effect, recorded)
  })

/** Every way a value is commonly shown: String, JSON, util.inspect, its message, and as a pretty Cause. */
export const renderings = (value: unknown): ReadonlyArray<string> => {
  const shown = [String(value), inspect(value, { depth: 10 }), safeJson(value)]
  if (value instanceof Error || (typeof value === "object" && value !== null && "message" in value)) {
    shown.push(String((value as { message: unknown }).message))
    shown.push(Cause.pretty(Cause.fail(value), { renderErrorCause: true }))
  }
  return shown
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? ""
  } catch {
    return ""
  }
}

/** Counts the checks made, so the report can say how many there were. */
export class CanaryChecks {
  count = 0

  /** Asserts `text` holds none of `secrets` (each at least 8 characters, so a check means something). */
  none(label: string, text: string, secrets: ReadonlyArray<string>) {
    for (const secret of secrets) {
      assert.isAtLeast(secret.length, 8, `a real secret for ${label}`)
      this.count += 1
      if (text.includes(secret)) {
        const at = text.indexOf(secret)
        assert.fail(`${label} holds a secret: …${text.slice(Math.max(0, at - 80), at + secret.length + 20)}…`)
      }
    }
  }
}

/** A secret of a sandbox as the emulator's API answers it. */
interface SandboxSecrets {
  readonly sessionKeys: Set<string>
  readonly previewTokens: Set<string>
}

/**
 * Polls a standalone emulator every 150 ms while commands run: for every sandbox, its session key (from
 * its env) and its preview token (from its preview link), so that even sandboxes a command deletes are
 * covered.
 */
export const startHarvester = (apiUrl: string, apiKey: string) => {
  const secrets: SandboxSecrets = { sessionKeys: new Set(), previewTokens: new Set() }
  const headers = { authorization: `Bearer ${apiKey}` }
  let running = true
  const get = async (path: string): Promise<unknown> => {
    const response = await fetch(`${apiUrl}${path}`, { headers })
    return response.ok ? response.json() : undefined
  }
  const once = async () => {
    const list = (await get("/sandbox")) as { items?: ReadonlyArray<{ id: string }> } | undefined
    await Promise.all(
      (list?.items ?? []).map(async ({ id }) => {
        const [sandbox, preview] = (await Promise.all([
          get(`/sandbox/${id}`),
          get(`/sandbox/${id}/ports/4444/preview-url`)
        ])) as [{ env?: Record<string, string> } | undefined, { token?: string } | undefined]
        // Created without env vars: the key is derived from the API key and the sandbox id.
        const key = sandbox?.env?.SESSION_API_KEY ?? sessionKeyOf(apiKey, id)
        secrets.sessionKeys.add(key)
        if (preview?.token !== undefined && preview.token !== "") secrets.previewTokens.add(preview.token)
      })
    )
  }
  const loop = (async () => {
    while (running) {
      await once().catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
  })()
  return {
    secrets,
    /** One more pass, then stop. */
    stop: async () => {
      running = false
      await loop
      await once().catch(() => undefined)
    }
  }
}
