/**
 * The default snapshot's action execution server: a session command that runs
 * `openhands.runtime.action_execution_server PORT [--working-dir DIR]` starts the built-in server for that
 * sandbox port, on the sandbox's host port for it, inside the sandbox's current run.
 *
 * - `in-process`: `ActionServerApp.serve` in this process; its log lines are the command's output, and
 *   `action.*` faults reach it through `nextFault`.
 * - `child`: `node ActionServerMain.js` as a real process of the session; it gets the boot delay, the 502 burst
 *   and the VSCode token, but no injected faults.
 * - an external command (`actionServerCommand`, e.g. the real OpenHands server's `serve`): `CMD <hostPort> <the
 *   launch's arguments after the port>`, with the sandbox's host workspace folder as `--working-dir`, the sandbox
 *   env (`SESSION_API_KEY` included), its output as the command's output; ended (process group) with the session.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Either, ExecutionStrategy, Option, Redacted, Ref, Scope } from "effect"
import * as NodePath from "node:path"
import * as Isolation from "./Isolation.js"
import type { RunningActionServer } from "./ActionServerApp.js"
import { inSandbox, serve } from "./ActionServerApp.js"
import { parseArgs } from "./ActionServerArgs.js"
import { HttpFailure } from "./Dto.js"
import type { ActionServerBehaviour } from "./Dto.js"
import type { FaultQueue } from "./Faults.js"
import type { SandboxRun } from "./Runs.js"
import type { Store } from "./Store.js"
import { appendOutput, commandEnv, finish, spawn } from "./Toolbox.js"
import type { ProcessHost, RunningCommand } from "./Toolbox.js"

/**
 * A parsed launch command.
 *
 * @since 0.1.0
 */
export interface ActionLaunch {
  /** The sandbox port the server listens on. */
  readonly port: number
  /** The working directory as the sandbox sees it. */
  readonly workingDir: string
  /** The words after the port, up to the end of that shell command (quotes removed). */
  readonly arguments: ReadonlyArray<string>
  /** What the command line `export`s before the launch (`export NAME=value …`): the server's environment. */
  readonly env: Readonly<Record<string, string>>
}

/**
 * How action servers are launched.
 *
 * @since 0.1.0
 */
export interface LauncherOptions {
  readonly mode: "in-process" | "child"
  readonly previewMode: "direct" | "proxy"
  readonly behaviour: Ref.Ref<ActionServerBehaviour>
  readonly faults: FaultQueue
  /** The compiled `ActionServerMain.js` (child mode). */
  readonly mainPath: Option.Option<string>
  /** The in-process servers running now. */
  readonly servers: Set<RunningActionServer>
  /** A command run instead of the built-in server (`CMD <hostPort> <arguments>`), e.g. the real server. */
  readonly command: Option.Option<string>
}

const LAUNCH = /openhands\.runtime\.action_execution_server\s+(\d{1,5})\b/
const WORKING_DIR = /--working-dir(?:=|\s+)(?:"([^"]*)"|'([^']*)'|(\S+))/

/**
 * Recognizes a launch command of the action execution server.
 *
 * @since 0.1.0
 */
export const parseLaunch = (command: string): Option.Option<ActionLaunch> => {
  const launch = LAUNCH.exec(command)
  if (launch === null) return Option.none()
  const port = Number(launch[1])
  if (port < 1 || port > 65535) return Option.none()
  const dir = WORKING_DIR.exec(command)
  return Option.some({
    port,
    workingDir: dir === null ? "/workspace" : (dir[1] ?? dir[2] ?? dir[3] ?? "/workspace"),
    arguments: shellWords(command.slice(launch.index + launch[0].length)),
    env: exportsBefore(command, launch.index)
  })
}

/**
 * The `--plugins` and `--username` of a launch, as the real server reads its arguments (none and `openhands` when
 * they cannot be read).
 *
 * @since 0.2.0
 */
export const launchFlags = (
  launch: ActionLaunch
): { readonly plugins: ReadonlyArray<string>; readonly username: string } =>
  Either.match(parseArgs([String(launch.port), ...withWorkingDir(launch.arguments, launch.workingDir)]), {
    onLeft: () => ({ plugins: [], username: "openhands" }),
    onRight: ({ plugins, username }) => ({ plugins, username })
  })

const EXPORT = /(?:^|[;&|]\s*|\n\s*)export\s+/g
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s

/** The `NAME=value` words of every `export` of the command line before `end`. */
const exportsBefore = (command: string, end: number): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const match of command.slice(0, end).matchAll(EXPORT)) {
    for (const word of shellWords(command.slice(match.index + match[0].length, end))) {
      const assignment = ASSIGNMENT.exec(word)
      if (assignment !== null) env[assignment[1]!] = assignment[2]!
    }
  }
  return env
}

/**
 * The words of a shell command line up to its first unquoted control operator (`;`, `&`, `|`, a newline, a
 * redirection or a comment), with quotes and backslashes removed as bash does. No expansion.
 *
 * @since 0.1.0
 */
export const shellWords = (text: string): ReadonlyArray<string> => {
  const words: Array<string> = []
  let word: string | undefined
  const add = (chars: string) => {
    word = (word ?? "") + chars
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === " " || c === "\t") {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (";&|\n<>()".includes(c) || (c === "#" && word === undefined)) {
      break
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1)
      add(text.slice(i + 1, end === -1 ? text.length : end))
      i = end === -1 ? text.length : end
    } else if (c === '"') {
      let j = i + 1
      let chars = ""
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) j++
        chars += text[j]
      }
      add(chars)
      i = j
    } else if (c === "\\" && i + 1 < text.length) {
      add(text[++i]!)
    } else {
      add(c)
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

/**
 * The launch's arguments with `--working-dir`'s value replaced by `hostDir` (added when there is none).
 *
 * @since 0.1.0
 */
export const withWorkingDir = (args: ReadonlyArray<string>, hostDir: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let found = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--working-dir") {
      out.push(arg, hostDir)
      i++
      found = true
    } else if (arg.startsWith("--working-dir=")) {
      out.push(`--working-dir=${hostDir}`)
      found = true
    } else {
      out.push(arg)
    }
  }
  return found ? out : [...out, "--working-dir", hostDir]
}

/** The package folder of the compiled entry `<root>/dist/emulator/ActionServerMain.js` (its node_modules beside). */
const packageRoot = (mainPath: string) => NodePath.resolve(NodePath.dirname(mainPath), "..", "..")

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/**
 * Starts the action server of a launch command in `parent` (a session's scope); `command` records it.
 *
 * @since 0.1.0
 */
export const launchActionServer = (
  options: LauncherOptions,
  host: ProcessHost,
  store: Store,
  run: SandboxRun,
  parent: Scope.Scope,
  command: RunningCommand,
  launch: ActionLaunch
): Effect.Effect<void, HttpFailure> =>
  Effect.gen(function* () {
    const sandbox = run.sandbox
    const hostPort = yield* store.hostPort(sandbox.id, launch.port)
    const behaviour = yield* Ref.get(options.behaviour)
    const workingDir = host.isolation.hostPath(sandbox, launch.workingDir)
    if (Option.isSome(options.command)) {
      // The launch command itself is not run: its arguments go to the external server, on the host port. The
      // external server is the emulator user's own program: it runs on the host (unisolated), in the sandbox's
      // folder, and ends with the session like any session command.
      const args = withWorkingDir(launch.arguments, workingDir)
      const script =
        `mkdir -p ${quote(workingDir)} && exec ${options.command.value} ${hostPort} ` + args.map(quote).join(" ")
      return yield* spawn(
        host,
        parent,
        { sandbox, script, cwd: "/", env: commandEnv(sandbox, launch.env), isolation: Isolation.host },
        command
      )
    }
    const previewToken =
      options.previewMode === "direct" && !sandbox.public
        ? Option.some(Redacted.value(sandbox.previewToken))
        : Option.none<string>()
    if (options.mode === "child") {
      if (Option.isNone(options.mainPath)) {
        return yield* new HttpFailure({
          status: 500,
          detail: "ActionServerMain.js is not available (run npm run build)"
        })
      }
      // The server runs inside the sandbox: it sees the sandbox's paths, and reads node and its own code read-only.
      const inside = host.isolation.mode === "bubblewrap"
      const serverDir = inside ? NodePath.posix.resolve(host.isolation.home(sandbox), launch.workingDir) : workingDir
      // The launch's own arguments (plugins, user, browser) go through; the port is the sandbox port's host port.
      const script =
        `mkdir -p ${quote(serverDir)} && exec ${quote(process.execPath)} ${quote(options.mainPath.value)}` +
        ` --port ${hostPort} ${withWorkingDir(launch.arguments, serverDir).map(quote).join(" ")}` +
        ` --boot-delay-ms ${Duration.toMillis(behaviour.bootDelay)} --bad-gateway-burst ${behaviour.badGatewayBurst}`
      const env = commandEnv(sandbox, {
        ...launch.env,
        VSCODE_CONNECTION_TOKEN: behaviour.vscodeToken,
        ...(Option.isSome(previewToken) ? { DAYTONA_PREVIEW_TOKEN: previewToken.value } : {})
      })
      const readOnly = inside ? [NodePath.dirname(process.execPath), packageRoot(options.mainPath.value)] : []
      return yield* spawn(host, parent, { sandbox, script, env, readOnly }, command)
    }
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    yield* Scope.addFinalizer(scope, finish(command, 143))
    const serverEnv = commandEnv(sandbox, launch.env)
    const sessionApiKey = Option.filter(Option.fromNullable(serverEnv["SESSION_API_KEY"]), (key) => key !== "")
    yield* serve({
      port: hostPort,
      ...inSandbox(host.isolation, sandbox, launch.workingDir),
      ...launchFlags(launch),
      env: serverEnv,
      sessionApiKey,
      previewToken,
      vscodeToken: behaviour.vscodeToken,
      bootDelay: behaviour.bootDelay,
      badGatewayBurst: behaviour.badGatewayBurst,
      nextFault: options.faults.nextActionFault,
      log: (line) => appendOutput(command, "stdout", `${line}\n`)
    }).pipe(
      Scope.extend(scope),
      Effect.matchEffect({
        onFailure: (error) =>
          Effect.zipRight(appendOutput(command, "stderr", `${error.message}\n`), finish(command, 1)),
        onSuccess: (server) =>
          Effect.gen(function* () {
            // One step: an interruption between the two (the sandbox deleted while its server came up) would leave
            // the server counted; on a scope closed meanwhile, the finalizer runs at once.
            yield* Effect.uninterruptible(
              Effect.suspend(() => {
                options.servers.add(server)
                return Scope.addFinalizer(
                  scope,
                  Effect.sync(() => options.servers.delete(server))
                )
              })
            )
            yield* server.awaitCrash
            options.servers.delete(server)
            yield* finish(command, 1)
          })
      }),
      // Forked from an uninterruptible region: the fiber itself must stay interruptible for the scope to end it.
      Effect.interruptible,
      Effect.forkIn(scope)
    )
  }).pipe(Effect.uninterruptible)
