/**
 * One-off execution as the daemon does it: `POST /process/execute` pipes the command into a new `bash` (stdout and
 * stderr into one buffer, no time limit unless the request gives one), `POST /process/code-run` does the same with
 * the daemon's runner line for the language (`python3 -u -`, `node -`, `npx ts-node`). Each call is one isolated
 * process inside the sandbox (its own pid namespace: what it leaves running ends with it).
 *
 * @since 0.2.0
 */
import { Command, CommandExecutor } from "@effect/platform"
import { Effect, Either, ExecutionStrategy, Exit, Fiber, Option, Scope, Stream } from "effect"
import { statSync } from "node:fs"
import type { HttpFailure } from "./Dto.js"
import { toCommand } from "./Isolation.js"
import { terminateGroup } from "./System.js"
import { commandEnv, signalExitCode } from "./Toolbox.js"
import type { ProcessHost } from "./Toolbox.js"
import { badRequest, daemonFailure } from "./ToolboxHttp.js"
import type { Target } from "./ToolboxHttp.js"

/**
 * The outcome of a one-off run: the daemon's `ExecuteResponse`.
 *
 * @since 0.2.0
 */
export interface RunResult {
  readonly exitCode: number
  readonly result: string
}

const VALID_ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Rejects environment variable names the daemon rejects.
 *
 * @since 0.2.0
 */
export const checkEnvKeys = (envs: Readonly<Record<string, string>> | undefined): Effect.Effect<void, HttpFailure> => {
  const bad = Object.keys(envs ?? {}).find((key) => !VALID_ENV_KEY.test(key))
  return bad === undefined ? Effect.void : Effect.fail(badRequest(`invalid environment variable name: '${bad}'`))
}

/**
 * Pipes `script` into a new `bash` inside the sandbox and waits for it; after `timeoutSeconds` (when given and
 * positive) the whole process group is killed and the daemon's 408 returned.
 *
 * @since 0.2.0
 */
export const runScript = (
  host: ProcessHost,
  target: Target,
  script: string,
  options: {
    readonly cwd?: string | undefined
    readonly envs?: Readonly<Record<string, string>> | undefined
    readonly timeoutSeconds?: number | undefined
  }
): Effect.Effect<RunResult, HttpFailure> =>
  Effect.gen(function* () {
    // A child of the sandbox's run: a stop in the middle ends the command too.
    const scope = yield* Scope.fork(target.run.scope, ExecutionStrategy.sequential)
    return yield* Effect.gen(function* () {
      // Built first: it also makes the sandbox's standard folders (`/tmp`, the home), which the check below needs.
      const process = host.isolation.command(target.sandbox, ["bash", "-c", "exec bash 2>&1"], {
        cwd: options.cwd === undefined || options.cwd === "" ? undefined : target.absolute(options.cwd),
        env: commandEnv(target.sandbox, options.envs)
      })
      if (options.cwd !== undefined && options.cwd !== "") {
        let isDir = false
        try {
          isDir = statSync(target.resolve(options.cwd)).isDirectory()
        } catch {
          isDir = false
        }
        if (!isDir) return { exitCode: -1, result: `chdir ${options.cwd}: no such file or directory` }
      }
      const started = yield* toCommand(process).pipe(
        Command.feed(script),
        Command.start,
        Scope.extend(scope),
        Effect.provideService(CommandExecutor.CommandExecutor, host.executor),
        Effect.either
      )
      if (Either.isLeft(started)) return { exitCode: -1, result: started.left.message }
      const proc = started.right
      host.groups.add(proc.pid)
      yield* Scope.addFinalizer(
        scope,
        terminateGroup(proc.pid, "0 millis").pipe(Effect.ensuring(Effect.sync(() => host.groups.delete(proc.pid))))
      )
      const chunks: Array<Uint8Array> = []
      const reader = yield* Effect.fork(
        Stream.runForEach(proc.stdout, (chunk) => Effect.sync(() => chunks.push(chunk))).pipe(Effect.ignore)
      )
      const waited = proc.exitCode.pipe(Effect.either)
      const seconds = options.timeoutSeconds
      const exit =
        seconds !== undefined && seconds > 0
          ? yield* Effect.timeoutOption(waited, `${seconds} seconds`)
          : Option.some(yield* waited)
      if (Option.isNone(exit)) {
        return yield* daemonFailure(408, "PROCESS_EXECUTION_TIMEOUT", "request timeout: command execution timeout")
      }
      // A background job may keep the pipe open: take what is there, then stop waiting.
      yield* Fiber.join(reader).pipe(Effect.timeoutOption("250 millis"))
      const result = Buffer.concat(chunks).toString("utf8")
      return Either.isRight(exit.value)
        ? { exitCode: exit.value.right, result }
        : { exitCode: signalExitCode(exit.value.left.message), result }
    }).pipe(
      Effect.interruptible,
      Effect.onExit((exit) => Scope.close(scope, Exit.asVoid(exit)))
    )
  }).pipe(Effect.uninterruptible)

/**
 * The daemon's runner line for a language, or its 400 for another language.
 *
 * @since 0.2.0
 */
export const codeRunScript = (
  language: string,
  code: string,
  argv: ReadonlyArray<string>
): Effect.Effect<string, HttpFailure> => {
  const args = argv.join(" ")
  const nodeCode = Buffer.from(`process.argv.splice(1, 1);\n${code}`).toString("base64")
  switch (language) {
    case "python":
      return Effect.succeed(`printf '%s' '${Buffer.from(code).toString("base64")}' | base64 -d | python3 -u - ${args}`)
    case "javascript":
      return Effect.succeed(`printf '%s' '${nodeCode}' | base64 -d | node - ${args}`)
    case "typescript":
      return Effect.succeed(
        [
          "_f=/tmp/dtn_$$.ts",
          `printf '%s' '${nodeCode}' | base64 -d > "$_f"`,
          `npm_config_loglevel=error npx ts-node -T --ignore-diagnostics 5107 -O '{"module":"CommonJS"}' "$_f" ${args}`,
          "_dtn_ec=$?",
          'rm -f "$_f"',
          "exit $_dtn_ec"
        ].join("; ")
      )
    default:
      return Effect.fail(badRequest(`unsupported language: ${language}`))
  }
}

const ARTIFACT = "dtn_artifact_k39fd2:"

/**
 * Removes the artifact lines from a code run's output and returns the charts they carry.
 *
 * @since 0.2.0
 */
export const parseArtifacts = (
  output: string
): { readonly result: string; readonly charts: ReadonlyArray<Record<string, unknown>> } => {
  const charts: Array<Record<string, unknown>> = []
  const kept: Array<string> = []
  for (const line of output.split("\n")) {
    if (!line.startsWith(ARTIFACT)) {
      kept.push(line)
      continue
    }
    try {
      const artifact = JSON.parse(line.slice(ARTIFACT.length).trim()) as { type?: unknown; value?: unknown }
      if (artifact.type === "chart" && typeof artifact.value === "object" && artifact.value !== null) {
        charts.push(artifact.value as Record<string, unknown>)
      }
    } catch {
      // not an artifact after all: dropped, as the daemon drops it
    }
  }
  return { result: kept.join("\n"), charts }
}
