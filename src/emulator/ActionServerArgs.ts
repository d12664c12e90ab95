/**
 * The command line of the built-in action execution server: the real server's own arguments
 * (`PORT --working-dir DIR [--plugins P ...] [--username U] [--user-id N] [--enable-browser|--no-enable-browser]
 * [--browsergym-eval-env E]`) plus the emulator's `--boot-delay-ms` and `--bad-gateway-burst`.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as NodePathModule from "node:path"

/**
 * The command line of the child-process entry.
 *
 * @since 0.1.0
 */
export interface ChildArgs {
  readonly port: number
  readonly workingDir: string
  readonly bootDelayMs: number
  readonly badGatewayBurst: number
  readonly plugins: ReadonlyArray<string>
  readonly username: string
}

/** The usage line of the child-process entry. */
export const usage =
  "usage: ActionServerMain [--port] PORT --working-dir DIR [--plugins P ...] [--username U] [--user-id N] " +
  "[--boot-delay-ms N] [--bad-gateway-burst N]"

const VALUED = ["--port", "--working-dir", "--boot-delay-ms", "--bad-gateway-burst", "--username", "--user-id"]
const IGNORED_VALUED = ["--browsergym-eval-env"]
const SWITCHES = ["--enable-browser", "--no-enable-browser"]

const nonNegativeInt = (flag: string, text: string | undefined): Either.Either<number, string> =>
  text !== undefined && /^\d+$/.test(text) && Number.isSafeInteger(Number(text))
    ? Either.right(Number(text))
    : Either.left(`${flag} needs a non-negative integer, got ${JSON.stringify(text ?? "")}`)

/**
 * Parses the command line (`--flag=value` works too; a bare first number is the port, as in OpenHands' own).
 *
 * @since 0.1.0
 */
export const parseArgs = (argv: ReadonlyArray<string>): Either.Either<ChildArgs, string> => {
  const values = new Map<string, string>()
  const plugins: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (/^\d+$/.test(arg) && !values.has("--port")) {
      values.set("--port", arg)
      continue
    }
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined]
    if (SWITCHES.includes(flag!)) continue
    if (flag === "--plugins") {
      if (inline !== undefined) plugins.push(inline)
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) plugins.push(argv[++i]!)
      if (plugins.length === 0) return Either.left(`--plugins needs at least one plugin\n${usage}`)
      continue
    }
    if (!VALUED.includes(flag!) && !IGNORED_VALUED.includes(flag!)) {
      return Either.left(`unknown argument ${JSON.stringify(arg)}\n${usage}`)
    }
    const value = inline ?? argv[++i]
    if (value === undefined) return Either.left(`${flag} needs a value\n${usage}`)
    values.set(flag!, value)
  }
  const workingDir = values.get("--working-dir")
  if (workingDir === undefined || workingDir === "") return Either.left(`--working-dir is required\n${usage}`)
  if (!values.has("--port")) return Either.left(`--port is required\n${usage}`)
  return Either.all({
    port: Either.filterOrLeft(
      nonNegativeInt("--port", values.get("--port")),
      (port) => port <= 65535,
      (port) => `--port must be at most 65535, got ${port}`
    ),
    workingDir: Either.right(NodePathModule.resolve(workingDir)),
    bootDelayMs: nonNegativeInt("--boot-delay-ms", values.get("--boot-delay-ms") ?? "0"),
    badGatewayBurst: nonNegativeInt("--bad-gateway-burst", values.get("--bad-gateway-burst") ?? "0"),
    plugins: Either.right(plugins),
    username: Either.right(values.get("--username") ?? "openhands")
  })
}
