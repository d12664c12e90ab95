/**
 * What the CLI prints: results on stdout (one JSON document with `--json`), and the progress of a
 * runtime on stderr — a live status line on a terminal (phase, elapsed time, retry attempt), plain
 * lines otherwise.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Console,
  Context,
  Deferred,
  Duration,
  Effect,
  Fiber,
  Option,
  Ref,
  Schedule,
  Stream
} from "effect"
import type { Scope } from "effect"
import { describeEvent } from "../services/RuntimeEvents.js"
import type { RuntimeEvent } from "../services/RuntimeEvents.js"
import * as Errors from "./Errors.js"

/**
 * Prints one JSON document, on one line, on stdout.
 *
 * @since 0.1.0
 */
export const printJson = (value: unknown): Effect.Effect<void> => Console.log(JSON.stringify(value))

/**
 * Prints a line for people on stderr (stdout is kept for results).
 *
 * @since 0.1.0
 */
export const note = (line: string): Effect.Effect<void> => Console.error(line)

/** Whether stderr is a terminal that can redraw a status line. */
const stderrIsTty = (): boolean => process.stderr.isTTY === true && process.env.TERM !== "dumb"

/** Raw writes for the redrawn status line (Console always ends a line). */
const writeStderr = (text: string) =>
  Effect.sync(() => {
    process.stderr.write(text)
  })

const CLEAR_LINE = "\r\x1b[2K"
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

interface State {
  readonly phase: string
  readonly retry: Option.Option<{ readonly policy: string; readonly attempt: number }>
  readonly frame: number
  readonly sawEvent: boolean
  /** The status line is drawn until the runtime is ready (then the command's own output follows). */
  readonly live: boolean
}

const seconds = (millis: number) => `${(millis / 1000).toFixed(1)}s`

/** Events worth a line of their own on a terminal (the rest only move the status line). */
const isMilestone = (event: RuntimeEvent): boolean => event._tag !== "StatusChanged" && event._tag !== "Retrying"

/** In plain mode a wait that retries every second prints its 1st, 2nd, 5th, 10th, 20th, … attempt. */
const worthPrinting = (attempt: number) => attempt <= 2 || attempt === 5 || attempt % 10 === 0

/**
 * The progress display of one runtime.
 *
 * @since 0.1.0
 */
export interface Progress {
  /** Waits (at most 1 s) until the `Ready` event is shown, so that what follows is printed after it. */
  readonly shownReady: Effect.Effect<void>
}

/**
 * Shows a runtime's events on stderr until its `Closed` event, from a subscription taken before the
 * runtime is acquired. Runs in the scope; when the scope closes it lets the renderer print the events
 * already published (up to the `Closed` event, at most 2 s), then stops it and clears the status line.
 *
 * @since 0.1.0
 */
export const showProgress = (
  events: Stream.Stream<RuntimeEvent>,
  options: { readonly tty?: boolean | undefined } = {}
): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.gen(function* () {
    const readySeen = yield* Deferred.make<void>()
    const tty = options.tty ?? stderrIsTty()
    const start = yield* Clock.currentTimeMillis
    const state = yield* Ref.make<State>({
      phase: "starting",
      retry: Option.none(),
      frame: 0,
      sawEvent: false,
      live: true
    })
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => seconds(now - start))

    const statusLine = Effect.gen(function* () {
      const s = yield* Ref.updateAndGet(state, (s) => ({ ...s, frame: s.frame + 1 }))
      if (!s.live) return ""
      const retry = Option.match(s.retry, {
        onNone: () => "",
        onSome: (r) => ` · retry ${r.attempt} (${r.policy})`
      })
      return `${CLEAR_LINE}${SPINNER[s.frame % SPINNER.length]} ${s.phase} · ${yield* elapsed}${retry}`
    })

    const onEvent = (event: RuntimeEvent) =>
      Effect.gen(function* () {
        yield* Ref.update(state, (s) => ({
          ...s,
          sawEvent: true,
          live: s.live && event._tag !== "Ready" && event._tag !== "Closed",
          phase:
            event._tag === "StatusChanged"
              ? `${event.status}${event.detail === undefined ? "" : `: ${event.detail}`}`
              : s.phase,
          retry:
            event._tag === "Retrying"
              ? Option.some({ policy: event.policy, attempt: event.attempt })
              : event._tag === "StatusChanged"
                ? Option.none()
                : s.retry
        }))
        const line = `[${yield* elapsed}] ${describeEvent(event)}`
        if (!tty) {
          if (event._tag !== "Retrying" || worthPrinting(event.attempt)) yield* note(line)
        } else if (isMilestone(event)) {
          yield* writeStderr(`${CLEAR_LINE}${line}\n`)
        }
        if (event._tag === "Ready") yield* Deferred.succeed(readySeen, undefined)
      })

    const renderer = yield* events.pipe(
      Stream.takeUntil((event) => event._tag === "Closed"),
      Stream.runForEach(onEvent),
      Effect.forkScoped
    )
    const ticker = tty
      ? Option.some(
          yield* Effect.flatMap(statusLine, (line) => (line === "" ? Effect.void : writeStderr(line))).pipe(
            Effect.repeat(Schedule.spaced(Duration.millis(100))),
            Effect.forkScoped
          )
        )
      : Option.none<Fiber.RuntimeFiber<unknown>>()

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        // Once a runtime has published anything, its Closed event follows: let the renderer reach it.
        if ((yield* Ref.get(state)).sawEvent) {
          yield* Fiber.join(renderer).pipe(Effect.timeout(Duration.seconds(2)), Effect.ignore)
        }
        yield* Fiber.interrupt(renderer)
        if (Option.isSome(ticker)) {
          yield* Fiber.interrupt(ticker.value)
          yield* writeStderr(CLEAR_LINE)
        }
      })
    )
    return { shownReady: Deferred.await(readySeen).pipe(Effect.timeout(Duration.seconds(1)), Effect.ignore) }
  })

/**
 * The exit code a command asks for (0 unless it sets one), read by the entry once the command ends.
 *
 * @since 0.1.0
 */
export class ExitCode extends Context.Tag("effect-daytona/cli/ExitCode")<ExitCode, Ref.Ref<number>>() {}

/**
 * Sets the process's exit code.
 *
 * @since 0.1.0
 */
export const setExitCode = (code: number): Effect.Effect<void, never, ExitCode> =>
  Effect.flatMap(ExitCode, (ref) => Ref.set(ref, code))

/**
 * Runs a command's effect and reports its failure: two lines on stderr (what happened, what to do), the
 * cause with `--verbose`, a JSON document on stdout with `--json`, and the exit code (2 for usage and
 * configuration errors, 1 otherwise). An interruption is passed on, so the entry exits 130/143.
 *
 * @since 0.1.0
 */
export const reportFailures =
  (flags: { readonly json: boolean; readonly verbose: boolean }) =>
  <R>(effect: Effect.Effect<void, unknown, R>): Effect.Effect<void, never, R | ExitCode> =>
    Effect.catchAllCause(effect, (cause) =>
      Effect.gen(function* () {
        const failure = Errors.fromCause(cause)
        if (Option.isSome(failure)) {
          yield* Console.error(Errors.render(failure.value, { verbose: flags.verbose, cause }))
          if (flags.json) yield* printJson(Errors.toJson(failure.value))
          yield* setExitCode(failure.value.exitCode)
        }
        if (Cause.isInterrupted(cause)) return yield* Effect.interrupt
      })
    )
