/**
 * What a runtime does in the server's shell once the action execution server it started first answers, as
 * OpenHands' base runtime does after connecting (`Runtime.setup_initial_env`): export the environment variables
 * into the shell and `~/.bashrc`, and `git config --global user.name/email`; each a non-blocking 120 s `run`,
 * here marked hidden. Before those, it takes `SESSION_API_KEY` out of the shell: the server's shell inherits the
 * key from the server process, where the agent could read it (`echo $SESSION_API_KEY`).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { runAction, type RunResult } from "./Commands.js"
import { ActionFailed } from "./Errors.js"
import type { ResolvedOptions } from "./Options.js"

/** Quotes a word for bash (single quotes; a `'` becomes `'\''`). */
export const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`

const SESSION_KEY = "SESSION_API_KEY"

/**
 * Takes the session key out of the server's shell: `unset` in `~/.bashrc` (for the shells the server starts
 * later), then the shell replaces itself with a bash started without the key, so that neither its variables nor
 * its `/proc/<pid>/environ` hold it. The server's own init (`alias git="git --no-pager"`) is done again by
 * {@link gitCommand}, as the new shell does not have it.
 *
 * @since 0.1.0
 */
export const hideSessionKeyCommand =
  `touch ~/.bashrc; grep -qx 'unset ${SESSION_KEY}' ~/.bashrc || echo 'unset ${SESSION_KEY}' >> ~/.bashrc; ` +
  `exec env -u ${SESSION_KEY} "\${BASH:-bash}"`

/**
 * The variables as OpenHands exports them: names in upper case, without the session key.
 *
 * @since 0.1.0
 */
export const exportedVariables = (
  envVars: Readonly<Record<string, string>>
): ReadonlyArray<readonly [string, string]> =>
  Object.entries(envVars)
    .map(([name, value]) => [name.toUpperCase(), value] as const)
    .filter(([name]) => name !== SESSION_KEY)

/**
 * `export NAME='value'; …` for the current shell.
 *
 * @since 0.1.0
 */
export const exportCommand = (variables: ReadonlyArray<readonly [string, string]>): string =>
  variables.map(([name, value]) => `export ${name}=${shellQuote(value)};`).join(" ")

/**
 * Adds each `export` line to `~/.bashrc` unless the variable is there already (as OpenHands does).
 *
 * @since 0.1.0
 */
export const bashrcCommand = (variables: ReadonlyArray<readonly [string, string]>): string =>
  variables
    .map(
      ([name, value]) =>
        `touch ~/.bashrc; grep -q ${shellQuote(`^export ${name}=`)} ~/.bashrc || ` +
        `echo ${shellQuote(`export ${name}=${shellQuote(value)}`)} >> ~/.bashrc;`
    )
    .join(" ")

/**
 * The server's `git` alias, then the git identity of the agent's commits.
 *
 * @since 0.1.0
 */
export const gitCommand = (name: string, email: string): string =>
  `alias git="git --no-pager"; git config --global user.name ${shellQuote(name)} && ` +
  `git config --global user.email ${shellQuote(email)}`

const step = <E>(run: (command: string) => Effect.Effect<RunResult, E>, what: string, command: string) =>
  Effect.flatMap(run(command), (result) =>
    result._tag === "Completed" && result.exitCode === 0
      ? Effect.void
      : Effect.fail(
          new ActionFailed({
            action: "setup",
            content: `${what} failed (${result._tag === "Completed" ? `exit code ${result.exitCode}` : result.reason}): ${result.output}`
          })
        )
  )

/**
 * Runs the setup through `execute` (the handle's, so one action at a time and 502s retried). The key and the
 * variables must be set up; a failing `git config` (no git in the image) is only logged, as OpenHands does.
 *
 * @since 0.1.0
 */
export const setupShell = <E>(
  options: ResolvedOptions,
  run: (command: string) => Effect.Effect<RunResult, E>
): Effect.Effect<void, E | ActionFailed> =>
  Effect.gen(function* () {
    yield* step(run, "removing SESSION_API_KEY from the shell", hideSessionKeyCommand)
    yield* setupVariables(options.envVars, run)
    yield* step(run, "git config", gitCommand(options.gitUserName, options.gitUserEmail)).pipe(
      Effect.catchIf(
        (error): error is ActionFailed => error instanceof ActionFailed,
        (error) => Effect.logWarning(error.content)
      )
    )
  }).pipe(Effect.withSpan("DaytonaRuntime.setupShell"))

/**
 * Exports variables into the server's shell and `~/.bashrc`, as OpenHands does (names in upper case, the session key
 * never); nothing for none.
 *
 * @since 0.2.0
 */
export const setupVariables = <E>(
  envVars: Readonly<Record<string, string>>,
  run: (command: string) => Effect.Effect<RunResult, E>
): Effect.Effect<void, E | ActionFailed> =>
  Effect.gen(function* () {
    const variables = exportedVariables(envVars)
    if (variables.length === 0) return
    yield* step(run, "exporting the environment variables", exportCommand(variables))
    yield* step(run, "adding the environment variables to ~/.bashrc", bashrcCommand(variables))
  })

/**
 * A hidden, non-blocking 120 s `run` (what OpenHands' `Runtime.run` sends for a setup command).
 *
 * @since 0.1.0
 */
export const setupAction = (command: string) => runAction(command, { hidden: true })
