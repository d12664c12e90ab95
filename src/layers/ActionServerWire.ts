/**
 * The wire format of OpenHands' action execution server: how actions are encoded and how
 * observations are decoded (with `Schema`).
 *
 * @since 0.1.0
 */
import { Duration, Schema } from "effect"
import { type Action, Observation } from "../services/ActionServer.js"

/**
 * The timeout of an action: its own, or `fallback`.
 *
 * @since 0.1.0
 */
export const timeoutOf = (action: Action, fallback: Duration.Duration): Duration.Duration =>
  action._tag === "Run" && action.timeout !== undefined ? Duration.decode(action.timeout) : fallback

/**
 * The JSON OpenHands' `event_to_dict` produces for an action.
 *
 * @since 0.1.0
 */
export const encodeAction = (action: Action, timeout: Duration.Duration): Record<string, unknown> => {
  const seconds = Math.max(1, Math.ceil(Duration.toSeconds(timeout)))
  switch (action._tag) {
    case "Run":
      return {
        action: "run",
        args: { command: action.command, is_input: false, thought: "", blocking: true, timeout: seconds },
        timeout: seconds
      }
    case "Read":
      return { action: "read", args: { path: action.path, start: 0, end: -1, thought: "" }, timeout: seconds }
    case "Write":
      return {
        action: "write",
        args: { path: action.path, content: action.content, start: 0, end: -1, thought: "" },
        timeout: seconds
      }
  }
}

const RunWire = Schema.Struct({
  observation: Schema.Literal("run"),
  content: Schema.String,
  extras: Schema.Struct({
    command: Schema.String,
    metadata: Schema.Struct({ exit_code: Schema.Number })
  })
})

const PathWire = <Kind extends "read" | "write">(kind: Kind) =>
  Schema.Struct({
    observation: Schema.Literal(kind),
    content: Schema.String,
    extras: Schema.Struct({ path: Schema.String })
  })

const OtherWire = Schema.Struct({
  observation: Schema.String,
  content: Schema.String
})

/**
 * An observation as the server sends it; the specific shapes first, any other kind last.
 *
 * @since 0.1.0
 */
export const ObservationWire = Schema.Union(RunWire, PathWire("read"), PathWire("write"), OtherWire)

/**
 * The answer of `GET /vscode/connection_token`.
 *
 * @since 0.1.0
 */
export const VscodeTokenWire = Schema.Struct({
  token: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * Our {@link Observation} from the wire shape.
 *
 * @since 0.1.0
 */
export const toObservation = (wire: typeof ObservationWire.Type): Observation => {
  if ("extras" in wire && wire.observation === "run" && "command" in wire.extras) {
    return Observation.Run({
      command: wire.extras.command,
      content: wire.content,
      exitCode: wire.extras.metadata.exit_code
    })
  }
  if ("extras" in wire && wire.observation === "read" && "path" in wire.extras) {
    return Observation.Read({ path: wire.extras.path, content: wire.content })
  }
  if ("extras" in wire && wire.observation === "write" && "path" in wire.extras) {
    return Observation.Write({ path: wire.extras.path, content: wire.content })
  }
  if (wire.observation === "error") return Observation.Error({ content: wire.content })
  return Observation.Other({ observation: wire.observation, content: wire.content })
}
