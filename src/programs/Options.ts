/**
 * The per-runtime options, their defaults and their validation, and the values derived from them
 * (the close policy, the sandbox name used for attach-or-create, the action server's start command).
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect } from "effect"
import type { DaytonaSettings } from "../services/DaytonaConfig.js"
import { type LiveLeasePolicy, processHolder } from "./Lease.js"

/**
 * What close does with the sandbox.
 *
 * @since 0.1.0
 */
export type OnClose = "stop" | "delete" | "keep"

/**
 * How the action execution server is started in the sandbox.
 *
 * - `openhands-image` (default): as OpenHands' `get_action_execution_server_startup_command` does on its runtime
 *   images, through the poetry environment: `/openhands/micromamba/bin/micromamba run -n openhands poetry run
 *   python -u -m openhands.runtime.action_execution_server …`.
 * - `python`: a plain `python -u -m openhands.runtime.action_execution_server …`, for images that install the
 *   server's dependencies in the system Python.
 *
 * @since 0.1.0
 */
export type ServerLauncher = "openhands-image" | "python"

/**
 * Options of one runtime. Everything is optional.
 *
 * @since 0.1.0
 */
export interface RuntimeOptions {
  /** The session id, stored as the sandbox label `OpenHands_SID` (default `default`). */
  readonly sid?: string | undefined
  /** Attach to the sandbox already carrying this SID, or create one (race-free) when there is none. */
  readonly attachToExisting?: boolean | undefined
  /** The snapshot (runtime image) to create the sandbox from. */
  readonly snapshot?: string | undefined
  /** The agent's workspace inside the sandbox (default `/workspace`). */
  readonly workspacePath?: string | undefined
  /** The action execution server's port (default 4444). */
  readonly sandboxPort?: number | undefined
  /** The VSCode server's port (default 4445). */
  readonly vscodePort?: number | undefined
  /**
   * Plugins passed to the action execution server (`--plugins …`; default none). OpenHands' CodeAct agent asks
   * for `agent_skills jupyter`, plus `vscode` when not headless.
   */
  readonly plugins?: ReadonlyArray<string> | undefined
  /** How the server is started (default `openhands-image`); `startCommand` overrides it. */
  readonly serverLauncher?: ServerLauncher | undefined
  /** Start the server's browser (default false: `--no-enable-browser`; Daytona's runtime has no browser). */
  readonly enableBrowser?: boolean | undefined
  /**
   * Extra environment variables for the sandbox (they win over the defaults). Once the server answers they are
   * also exported into its shell and `~/.bashrc`, names in upper case, as OpenHands does.
   */
  readonly envVars?: Readonly<Record<string, string>> | undefined
  /** `git config --global user.name` in the sandbox (default `openhands`, as OpenHands). */
  readonly gitUserName?: string | undefined
  /** `git config --global user.email` in the sandbox (default `openhands@all-hands.dev`, as OpenHands). */
  readonly gitUserEmail?: string | undefined
  /** Sets `DEBUG=true` in the sandbox. */
  readonly debug?: boolean | undefined
  /** What close does; derived from `attachToExisting` and `DAYTONA_DELETE_ON_CLOSE` when not given. */
  readonly onClose?: OnClose | undefined
  /** Replaces the whole command that starts the action execution server. */
  readonly startCommand?: string | undefined
  /**
   * Commands run through the action server once it first answers and the shell is set up (when this runtime
   * started it). Each must complete within 120 s (start long-running programs in the background).
   */
  readonly initialCommands?: ReadonlyArray<string> | undefined
  /** Host folder to mount: not supported on Daytona (a warning is logged, as the original does). */
  readonly workspaceBase?: string | undefined
  /**
   * How often, while the runtime is held, its lease is renewed and the sandbox's activity refreshed (default
   * 5 minutes).
   */
  readonly keepAliveInterval?: Duration.DurationInput | undefined
  /** How long the lease lasts after each renewal (default three keep-alive intervals). */
  readonly leaseTimeout?: Duration.DurationInput | undefined
  /**
   * When attaching to a sandbox whose lease another holder keeps renewing: `fail` (default, `LeaseHeld`), `share`
   * (use it beside that holder) or `take-over` (a new lease generation: the other holder is fenced).
   */
  readonly onLiveLease?: LiveLeasePolicy | undefined
  /** The holder id written into the lease (default: this process's, `host-pid-random`). */
  readonly holder?: string | undefined
  /** How long a signed VSCode URL of a private sandbox stays valid (default 1 hour). */
  readonly vscodeUrlTtl?: Duration.DurationInput | undefined
  /**
   * Share the runtime with the other acquires of the same SID in this process (default: `attachToExisting`): while
   * one holds it, another gets the same handle — the same sandbox, actions still one at a time — and the sandbox is
   * closed (by `onClose`) once the last of them releases it, after `shareIdleTime`. Their options must be the same
   * (else `SharedRuntimeConflict`). Needs the `SharedRuntimes` service, which `DaytonaRuntime.layer` provides;
   * without it every acquire has its own runtime.
   */
  readonly share?: boolean | undefined
  /** How long a shared runtime outlives its last user, so a user coming back soon finds it ready (default 0). */
  readonly shareIdleTime?: Duration.DurationInput | undefined
}

/**
 * Options with every default filled in.
 *
 * @since 0.1.0
 */
export interface ResolvedOptions {
  readonly sid: string
  readonly attachToExisting: boolean
  readonly snapshot: string | undefined
  readonly workspacePath: string
  readonly sandboxPort: number
  readonly vscodePort: number
  readonly plugins: ReadonlyArray<string>
  readonly serverLauncher: ServerLauncher
  readonly enableBrowser: boolean
  readonly envVars: Readonly<Record<string, string>>
  readonly gitUserName: string
  readonly gitUserEmail: string
  readonly debug: boolean
  readonly onClose: OnClose
  readonly startCommand: string | undefined
  readonly initialCommands: ReadonlyArray<string>
  readonly workspaceBase: string | undefined
  readonly keepAliveInterval: Duration.Duration
  readonly leaseTimeout: Duration.Duration
  readonly onLiveLease: LiveLeasePolicy
  readonly holder: string
  readonly vscodeUrlTtl: Duration.Duration
  readonly share: boolean
  readonly shareIdleTime: Duration.Duration
}

/**
 * An option is invalid; nothing was created.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRuntimeOptions extends Data.TaggedError("InvalidRuntimeOptions")<{
  readonly option: string
  readonly detail: string
}> {
  override get message(): string {
    return `Invalid runtime option ${this.option}: ${this.detail}`
  }
}

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65_535
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The close policy, derived in the original's order unless given: `keep` when attaching, `delete`
 * when `DAYTONA_DELETE_ON_CLOSE`, else `stop`.
 *
 * @since 0.1.0
 */
export const deriveOnClose = (options: RuntimeOptions, config: DaytonaSettings): OnClose =>
  options.onClose ?? (options.attachToExisting === true ? "keep" : config.deleteOnClose ? "delete" : "stop")

/**
 * Fills in the defaults and validates; an invalid option fails before anything is created.
 *
 * @since 0.1.0
 */
export const resolve = (
  options: RuntimeOptions,
  config: DaytonaSettings
): Effect.Effect<ResolvedOptions, InvalidRuntimeOptions> =>
  Effect.suspend(() => {
    const fail = (option: string, detail: string) => Effect.fail(new InvalidRuntimeOptions({ option, detail }))
    const sid = options.sid ?? "default"
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(sid)) {
      return fail("sid", "use 1–63 letters, digits, '.', '_' or '-', starting with a letter or digit")
    }
    const workspacePath = options.workspacePath ?? "/workspace"
    if (!workspacePath.startsWith("/") || /[\s'"`$\\;&|<>]/.test(workspacePath)) {
      return fail("workspacePath", "must be an absolute path without spaces or shell characters")
    }
    const sandboxPort = options.sandboxPort ?? 4444
    const vscodePort = options.vscodePort ?? 4445
    if (!isPort(sandboxPort)) return fail("sandboxPort", "must be a port number from 1 to 65535")
    if (!isPort(vscodePort)) return fail("vscodePort", "must be a port number from 1 to 65535")
    if (sandboxPort === vscodePort) return fail("vscodePort", "must differ from sandboxPort")
    const plugins = options.plugins ?? []
    const badPlugin = plugins.find((plugin) => !/^[A-Za-z0-9_.-]+$/.test(plugin))
    if (badPlugin !== undefined) return fail("plugins", `${JSON.stringify(badPlugin)} is not a plugin name`)
    const envVars = options.envVars ?? {}
    const badEnv = Object.keys(envVars).find((name) => !ENV_NAME.test(name))
    if (badEnv !== undefined) return fail("envVars", `${JSON.stringify(badEnv)} is not a variable name`)
    const serverLauncher = options.serverLauncher ?? "openhands-image"
    if (serverLauncher !== "openhands-image" && serverLauncher !== "python") {
      return fail("serverLauncher", `must be "openhands-image" or "python", got ${JSON.stringify(serverLauncher)}`)
    }
    const gitUserName = options.gitUserName ?? "openhands"
    const gitUserEmail = options.gitUserEmail ?? "openhands@all-hands.dev"
    for (const [option, value] of [
      ["gitUserName", gitUserName],
      ["gitUserEmail", gitUserEmail]
    ] as const) {
      if (value.trim() === "" || /[\r\n\0]/.test(value)) return fail(option, "must be one non-empty line")
    }
    if (options.startCommand !== undefined && options.startCommand.trim() === "") {
      return fail("startCommand", "must not be empty")
    }
    const keepAliveInterval = Duration.decode(options.keepAliveInterval ?? Duration.minutes(5))
    if (Duration.lessThan(keepAliveInterval, Duration.seconds(1))) {
      return fail("keepAliveInterval", "must be at least 1 second")
    }
    const leaseTimeout = Duration.decode(options.leaseTimeout ?? Duration.times(keepAliveInterval, 3))
    if (Duration.lessThanOrEqualTo(leaseTimeout, keepAliveInterval)) {
      return fail("leaseTimeout", "must be longer than keepAliveInterval (the lease would lapse between renewals)")
    }
    const onLiveLease = options.onLiveLease ?? "fail"
    if (onLiveLease !== "fail" && onLiveLease !== "share" && onLiveLease !== "take-over") {
      return fail("onLiveLease", `must be "fail", "share" or "take-over", got ${JSON.stringify(onLiveLease)}`)
    }
    const holder = options.holder ?? processHolder
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(holder)) {
      return fail("holder", "use 1–63 letters, digits, '.', '_' or '-', starting with a letter or digit")
    }
    const vscodeUrlTtl = Duration.decode(options.vscodeUrlTtl ?? Duration.hours(1))
    if (Duration.lessThan(vscodeUrlTtl, Duration.minutes(1))) return fail("vscodeUrlTtl", "must be at least 1 minute")
    const shareIdleTime = Duration.decode(options.shareIdleTime ?? Duration.zero)
    if (!Duration.isFinite(shareIdleTime)) return fail("shareIdleTime", "must be a finite duration")
    return Effect.succeed({
      sid,
      attachToExisting: options.attachToExisting ?? false,
      snapshot: options.snapshot,
      workspacePath,
      sandboxPort,
      vscodePort,
      plugins,
      serverLauncher,
      enableBrowser: options.enableBrowser ?? false,
      envVars,
      gitUserName,
      gitUserEmail,
      debug: options.debug ?? false,
      onClose: deriveOnClose(options, config),
      startCommand: options.startCommand,
      initialCommands: options.initialCommands ?? [],
      workspaceBase: options.workspaceBase,
      keepAliveInterval,
      leaseTimeout,
      onLiveLease,
      holder,
      vscodeUrlTtl,
      share: options.share ?? options.attachToExisting ?? false,
      shareIdleTime
    })
  })

/**
 * The sandbox name used when attach-or-create has to create: derived from the SID, so that a
 * concurrent create elsewhere gets 409 (names are unique per organization).
 *
 * @since 0.1.0
 */
export const sandboxNameFor = (sid: string): string => {
  const clean = sid.toLowerCase().replace(/[^a-z0-9-]/g, "-")
  // Distinct SIDs that clean up to the same text get distinct names.
  const suffix = clean === sid ? "" : `-${fnv1a(sid)}`
  return `openhands-${clean}`.slice(0, 63 - suffix.length) + suffix
}

const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, "0")
}

/**
 * The prefix of OpenHands' `get_action_execution_server_startup_command` (`DEFAULT_PYTHON_PREFIX`).
 *
 * @since 0.1.0
 */
export const OPENHANDS_PYTHON_PREFIX = "/openhands/micromamba/bin/micromamba run -n openhands poetry run"

/**
 * The command that starts the action execution server in the sandbox, as OpenHands builds it, after the
 * `export` of the server's environment ({@link serverEnv}): the sandbox itself is created without custom env
 * vars, so that Daytona can serve the create from a warm pool.
 *
 * @since 0.1.0
 */
export const startCommandFor = (options: ResolvedOptions, env: Readonly<Record<string, string>>): string => {
  const exports = `export ${Object.entries(env)
    .map(([name, value]) => shellWord(`${name}=${value}`))
    .join(" ")}`
  if (options.startCommand !== undefined) return `${exports} && ${options.startCommand}`
  const server = [
    ...(options.serverLauncher === "openhands-image" ? [OPENHANDS_PYTHON_PREFIX] : []),
    "python -u -m openhands.runtime.action_execution_server",
    String(options.sandboxPort),
    `--working-dir ${options.workspacePath}`,
    ...(options.plugins.length > 0 ? [`--plugins ${options.plugins.join(" ")}`] : []),
    "--username openhands",
    "--user-id 1000",
    ...(options.enableBrowser ? [] : ["--no-enable-browser"])
  ].join(" ")
  return `mkdir -p ${options.workspacePath} && cd /openhands/code && ${exports} && ${server}`
}

/** One word for bash: as it is when it holds nothing bash would read, else single-quoted. */
const shellWord = (text: string): string => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`)

/**
 * The action execution server's environment: OpenHands' defaults (`port`, `PYTHONUNBUFFERED`, `VSCODE_PORT`,
 * `DEBUG`), the session key, then the user's variables (which win, but never over the key).
 *
 * @since 0.2.0
 */
export const serverEnv = (options: ResolvedOptions, sessionApiKey: string): Record<string, string> => ({
  port: String(options.sandboxPort),
  PYTHONUNBUFFERED: "1",
  VSCODE_PORT: String(options.vscodePort),
  ...(options.debug ? { DEBUG: "true" } : {}),
  ...options.envVars,
  SESSION_API_KEY: sessionApiKey
})
