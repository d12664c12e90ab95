/**
 * `npm run chaos -- --trials N --seed S [--concurrency C] [--trial K] [--verbose]`: runs the chaos
 * trials and prints, on stdout, a line per failing trial and last the summary line
 * `trials=N leaked=L defects=D …`; progress goes to stderr. Exits 1 when L or D is not 0, 2 on bad usage.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Either, Exit } from "effect"
import * as Chaos from "./Chaos.js"
import { describePlan } from "./Plan.js"

const USAGE = "usage: npm run chaos -- --trials N --seed S [--concurrency C] [--trial K] [--verbose]"

interface Args {
  readonly trials: number
  readonly seed: string
  readonly concurrency: number
  readonly only: number | undefined
  readonly verbose: boolean
}

const positive = (flag: string, text: string | undefined, min: number): Either.Either<number, string> =>
  text !== undefined && /^\d+$/.test(text) && Number(text) >= min
    ? Either.right(Number(text))
    : Either.left(`${flag} needs a whole number ≥ ${min}, got ${JSON.stringify(text ?? "")}`)

/**
 * Parses the command line.
 *
 * @since 0.1.0
 */
export const parseArgs = (argv: ReadonlyArray<string>): Either.Either<Args, string> => {
  const values = new Map<string, string>()
  let verbose = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--verbose") {
      verbose = true
      continue
    }
    const [flag, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined]
    if (!["--trials", "--seed", "--concurrency", "--trial"].includes(flag!)) {
      return Either.left(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`)
    }
    const value = inline ?? argv[++i]
    if (value === undefined) return Either.left(`${flag} needs a value\n${USAGE}`)
    values.set(flag!, value)
  }
  const seed = values.get("--seed") ?? "1"
  if (seed.trim() === "") return Either.left(`--seed must not be empty\n${USAGE}`)
  return Either.all({
    trials: positive("--trials", values.get("--trials") ?? "100", 1),
    seed: Either.right(seed),
    concurrency: positive("--concurrency", values.get("--concurrency") ?? "4", 1),
    only: values.has("--trial") ? positive("--trial", values.get("--trial"), 0) : Either.right(undefined),
    verbose: Either.right(verbose)
  })
}

const main = Effect.gen(function* () {
  const parsed = parseArgs(process.argv.slice(2))
  if (Either.isLeft(parsed)) {
    yield* Console.error(parsed.left)
    return 2
  }
  const args = parsed.right
  const summary = yield* Chaos.run({
    seed: args.seed,
    trials: args.trials,
    concurrency: args.concurrency,
    only: args.only,
    onTrial: (result, done, total) =>
      Effect.gen(function* () {
        const bad = result.leaks.length > 0 || result.defects.length > 0
        if (bad || args.verbose || done % 25 === 0 || done === total) {
          yield* Console.error(
            `[chaos] ${done}/${total} trial ${result.plan.index}: ${result.outcome}` +
              `${result.error === undefined ? "" : ` (${result.error})`} closed=${result.closed} in ${result.millis} ms` +
              (bad ? " — FAILED" : "")
          )
        }
        if (args.verbose && (bad || args.only !== undefined)) {
          yield* Console.error(`    ${describePlan(result.plan)}`)
          for (const line of result.logs) yield* Console.error(`    ${line}`)
        }
      })
  })
  for (const line of Chaos.reportLines(summary)) yield* Console.log(line)
  return summary.leaked > 0 || summary.defects > 0 ? 1 : 0
})

NodeRuntime.runMain(main, {
  disableErrorReporting: false,
  teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 1)
})
