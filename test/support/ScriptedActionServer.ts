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
  Observation
} from "../../src/services/ActionServer.js"

export interface ScriptedCall {
  readonly method: "alive" | "execute" | "listFiles" | "vscodeToken" | "uploadFile"
  readonly endpoint: Endpoint
  readonly action?: Action
}

export interface ScriptedControl {
  /** Outcomes of the next `/alive` calls, in order: `"ok"` or an error. */
  readonly queueAlive: (...outcomes: ReadonlyArray<"ok" | ActionServerError>) => Effect.Effect<void>
  /** What `/alive` answers once the queue is empty. */
  readonly setAliveDefault: (outcome: "ok" | ActionServerError) => Effect.Effect<void>
  /** Outcomes of the next actions, in order; once empty, commands echo `ran: <command>` with exit 0. */
  readonly queueExecute: (
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
      return Observation.Run({ command: action.command, content: `ran: ${action.command}`, exitCode: 0 })
    case "Read":
      return Observation.Read({ path: action.path, content: "" })
    case "Write":
      return Observation.Write({ path: action.path, content: "" })
  }
}

export const make = Effect.gen(function* () {
  const aliveQueue = yield* Ref.make<ReadonlyArray<"ok" | ActionServerError>>([])
  const aliveDefault = yield* Ref.make<"ok" | ActionServerError>("ok")
  const executeQueue = yield* Ref.make<ReadonlyArray<Effect.Effect<Observation, ActionServerError>>>([])
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
        const outcome = yield* next(executeQueue)
        return yield* Option.getOrElse(outcome, () => Effect.succeed(defaultObservation(action)))
      }),
    listFiles: (endpoint) => Effect.as(record({ method: "listFiles", endpoint }), ["a.txt", "dir/"]),
    vscodeToken: (endpoint) =>
      Effect.zipRight(
        record({ method: "vscodeToken", endpoint }),
        Effect.map(Ref.get(vscodeToken), (token) => (token === "" ? Option.none() : Option.some(Redacted.make(token))))
      ),
    uploadFile: (endpoint) => record({ method: "uploadFile", endpoint })
  })

  const control: ScriptedControl = {
    queueAlive: (...outcomes) => Ref.update(aliveQueue, (all) => [...all, ...outcomes]),
    setAliveDefault: (outcome) => Ref.set(aliveDefault, outcome),
    queueExecute: (...outcomes) => Ref.update(executeQueue, (all) => [...all, ...outcomes]),
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
