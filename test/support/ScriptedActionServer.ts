/**
 * A scripted `ActionServer` for unit tests: `/alive` answers from a queue of outcomes (then a
 * default), actions from a handler; every call is recorded with its endpoint.
 */
import { Context, Effect, Layer, Option, Redacted, Ref } from "effect"
import {
  ActionServer,
  type Action,
  type ActionServerError,
  type Endpoint,
  Observation,
  runMetadata
} from "../../src/services/ActionServer.js"

/** A `run` observation of a command that completed, as the real server reports one. */
export const completed = (command: string, content: string, exitCode = 0): Observation =>
  Observation.Run({
    command,
    content,
    exitCode,
    metadata: runMetadata({
      exitCode,
      username: "openhands",
      hostname: "sandbox",
      workingDir: "/workspace",
      pyInterpreterPath: "/usr/bin/python",
      suffix: `\n[The command completed with exit code ${exitCode}.]`
    }),
    hidden: false
  })

/** A `run` observation of a command still running after its timeout (the real server's texts). */
export const stillRunning = (command: string, content: string, seconds = 1): Observation =>
  Observation.Run({
    command,
    content,
    exitCode: -1,
    metadata: runMetadata({
      suffix:
        `\n[The command timed out after ${seconds.toFixed(1)} seconds. You may wait longer to see additional output ` +
        "by sending empty command '', send other commands to interact with the current process, send keys " +
        '("C-c", "C-z", "C-d") to interrupt/kill the previous command before sending your new command, or use the ' +
        "timeout parameter in execute_bash for future commands.]"
    }),
    hidden: false
  })

export interface ScriptedCall {
  readonly method: "alive" | "execute" | "listFiles" | "vscodeToken" | "uploadFile" | "downloadFiles"
  readonly endpoint: Endpoint
  readonly action?: Action
}

export interface ScriptedControl {
  /** Outcomes of the next `/alive` calls, in order: `"ok"` or an error. */
  readonly queueAlive: (...outcomes: ReadonlyArray<"ok" | ActionServerError>) => Effect.Effect<void>
  /** What `/alive` answers once the queue is empty. */
  readonly setAliveDefault: (outcome: "ok" | ActionServerError) => Effect.Effect<void>
  /**
   * Outcomes of the next actions, in order; once empty, commands echo `ran: <command>` with exit 0. Hidden runs
   * (the runtime's shell setup) take theirs from `queueHidden` instead.
   */
  readonly queueExecute: (
    ...outcomes: ReadonlyArray<Effect.Effect<Observation, ActionServerError>>
  ) => Effect.Effect<void>
  /** Outcomes of the next hidden runs; once empty, they complete with exit code 0. */
  readonly queueHidden: (
    ...outcomes: ReadonlyArray<Effect.Effect<Observation, ActionServerError>>
  ) => Effect.Effect<void>
  readonly setVscodeToken: (token: string) => Effect.Effect<void>
  readonly calls: Effect.Effect<ReadonlyArray<ScriptedCall>>
}

export class ScriptedActionServerControl extends Context.Tag("test/ScriptedActionServerControl")<
  ScriptedActionServerControl,
  ScriptedControl
>() {}

const defaultObservation = (action: Action): Observation => {
  switch (action._tag) {
    case "Run":
      return completed(action.command, `ran: ${action.command}`)
    case "Read":
      return Observation.Read({ path: action.path, content: "", implSource: "default" })
    case "Write":
      return Observation.Write({ path: action.path, content: "" })
    default:
      return Observation.Error({ content: `scripted: no answer for ${action._tag}`, errorId: "" })
  }
}

export const make = Effect.gen(function* () {
  const aliveQueue = yield* Ref.make<ReadonlyArray<"ok" | ActionServerError>>([])
  const aliveDefault = yield* Ref.make<"ok" | ActionServerError>("ok")
  const executeQueue = yield* Ref.make<ReadonlyArray<Effect.Effect<Observation, ActionServerError>>>([])
  const hiddenQueue = yield* Ref.make<ReadonlyArray<Effect.Effect<Observation, ActionServerError>>>([])
  const vscodeToken = yield* Ref.make("vscode-token")
  const calls = yield* Ref.make<ReadonlyArray<ScriptedCall>>([])
  const record = (call: ScriptedCall) => Ref.update(calls, (all) => [...all, call])

  const next = <A>(queue: Ref.Ref<ReadonlyArray<A>>) =>
    Ref.modify(queue, (items): [Option.Option<A>, ReadonlyArray<A>] =>
      items.length === 0 ? [Option.none(), items] : [Option.some(items[0]!), items.slice(1)]
    )

  const server = ActionServer.of({
    alive: (endpoint) =>
      Effect.gen(function* () {
        yield* record({ method: "alive", endpoint })
        const outcome = Option.getOrElse(yield* next(aliveQueue), () => undefined) ?? (yield* Ref.get(aliveDefault))
        if (outcome !== "ok") return yield* Effect.fail(outcome)
      }),
    execute: (endpoint, action) =>
      Effect.gen(function* () {
        yield* record({ method: "execute", endpoint, action })
        const outcome = yield* next(action._tag === "Run" && action.hidden === true ? hiddenQueue : executeQueue)
        return yield* Option.getOrElse(outcome, () => Effect.succeed(defaultObservation(action)))
      }),
    listFiles: (endpoint) => Effect.as(record({ method: "listFiles", endpoint }), ["a.txt", "dir/"]),
    vscodeToken: (endpoint) =>
      Effect.zipRight(
        record({ method: "vscodeToken", endpoint }),
        Effect.map(Ref.get(vscodeToken), (token) => (token === "" ? Option.none() : Option.some(Redacted.make(token))))
      ),
    uploadFile: (endpoint) => record({ method: "uploadFile", endpoint }),
    downloadFiles: (endpoint) => Effect.as(record({ method: "downloadFiles", endpoint }), new Uint8Array([0x50, 0x4b]))
  })

  const control: ScriptedControl = {
    queueAlive: (...outcomes) => Ref.update(aliveQueue, (all) => [...all, ...outcomes]),
    setAliveDefault: (outcome) => Ref.set(aliveDefault, outcome),
    queueExecute: (...outcomes) => Ref.update(executeQueue, (all) => [...all, ...outcomes]),
    queueHidden: (...outcomes) => Ref.update(hiddenQueue, (all) => [...all, ...outcomes]),
    setVscodeToken: (token) => Ref.set(vscodeToken, token),
    calls: Ref.get(calls)
  }
  return { server, control }
})

export const layer: Layer.Layer<ActionServer | ScriptedActionServerControl> = Layer.unwrapEffect(
  Effect.map(make, ({ control, server }) =>
    Layer.merge(Layer.succeed(ActionServer, server), Layer.succeed(ScriptedActionServerControl, control))
  )
)
