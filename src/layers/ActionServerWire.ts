/**
 * The one place where actions become the JSON of OpenHands' action execution server and its answers become
 * observations, with the `Schema`s of `OpenHandsWire`. The request body is what OpenHands'
 * `ActionExecutionClient.send_action_for_execution` sends: `{"action": event_to_dict(action)}`, with the hard
 * timeout at the top level of the event and OpenHands' defaults for every argument.
 *
 * @since 0.1.0
 */
import { Duration, Either, ParseResult, Schema } from "effect"
import { type Action, Observation, type RunMetadata } from "../services/ActionServer.js"
import * as OpenHandsWire from "../services/OpenHandsWire.js"

/**
 * OpenHands' `sandbox.timeout`: the hard timeout of an action that has none of its own.
 *
 * @since 0.1.0
 */
export const DEFAULT_ACTION_TIMEOUT = Duration.seconds(120)

/**
 * The hard timeout of an action: its own, or {@link DEFAULT_ACTION_TIMEOUT}.
 *
 * @since 0.1.0
 */
export const timeoutOf = (action: Action): Duration.Duration =>
  action.timeout === undefined ? DEFAULT_ACTION_TIMEOUT : Duration.decode(action.timeout)

/**
 * Whether a run blocks until its hard timeout (no return on the no-change timeout). As OpenHands'
 * `set_hard_timeout`: blocking when the caller gave a timeout, not blocking with the default one.
 *
 * @since 0.1.0
 */
export const blockingOf = (action: Extract<Action, { _tag: "Run" }>): boolean =>
  action.blocking ?? action.timeout !== undefined

/** Seconds as a JSON number; never 0, which the server would read as "no hard timeout". */
const secondsOf = (duration: Duration.Duration): number => Math.max(0.001, Duration.toMillis(duration) / 1000)

const risk = -1 as const

type ActionEvent = typeof OpenHandsWire.ActionEvent.Encoded

/**
 * `event_to_dict(action)`: the action as OpenHands serializes it (the `message` is OpenHands' own text).
 *
 * @since 0.1.0
 */
export const encodeAction = (action: Action): ActionEvent => {
  const timeout = secondsOf(timeoutOf(action))
  const thought = action.thought ?? ""
  switch (action._tag) {
    case "Run":
      return {
        message: `Running command: ${action.command}`,
        action: "run",
        args: {
          command: action.command,
          is_input: action.isInput ?? false,
          thought,
          blocking: blockingOf(action),
          is_static: action.isStatic ?? false,
          cwd: action.cwd ?? null,
          hidden: action.hidden ?? false,
          confirmation_state: "confirmed",
          security_risk: risk
        },
        timeout
      }
    case "RunIPython":
      return {
        message: `Running Python code interactively: ${action.code}`,
        action: "run_ipython",
        args: {
          code: action.code,
          thought,
          include_extra: action.includeExtra ?? true,
          confirmation_state: "confirmed",
          security_risk: risk,
          kernel_init_code: action.kernelInitCode ?? ""
        },
        timeout
      }
    case "Read":
      return {
        message: `Reading file: ${action.path}`,
        action: "read",
        args: {
          path: action.path,
          start: action.start ?? 0,
          end: action.end ?? -1,
          thought,
          security_risk: risk,
          impl_source: action.implSource ?? "default",
          view_range: action.viewRange === undefined ? null : [...action.viewRange]
        },
        timeout
      }
    case "Write":
      return {
        message: `Writing file: ${action.path}`,
        action: "write",
        args: {
          path: action.path,
          content: action.content,
          start: action.start ?? 0,
          end: action.end ?? -1,
          thought,
          security_risk: risk
        },
        timeout
      }
    case "Edit":
      return {
        message: "",
        action: "edit",
        args: {
          path: action.path,
          command: action.command,
          file_text: action.fileText ?? null,
          old_str: action.oldStr ?? null,
          new_str: action.newStr ?? null,
          insert_line: action.insertLine ?? null,
          content: "",
          start: 1,
          end: -1,
          thought,
          security_risk: risk,
          impl_source: "oh_aci"
        },
        timeout
      }
    case "Browse":
      return {
        message: `I am browsing the URL: ${action.url}`,
        action: "browse",
        args: { url: action.url, thought, security_risk: risk, return_axtree: action.returnAxtree ?? false },
        timeout
      }
    case "BrowseInteractive":
      return {
        message: `I am interacting with the browser:\n\`\`\`\n${action.browserActions}\n\`\`\``,
        action: "browse_interactive",
        args: {
          browser_actions: action.browserActions,
          thought,
          browsergym_send_msg_to_user: action.browsergymSendMsgToUser ?? "",
          security_risk: risk,
          return_axtree: action.returnAxtree ?? false
        },
        timeout
      }
  }
}

/**
 * The body of `POST /execute_action` for an action.
 *
 * @since 0.1.0
 */
export const executeActionBody = (action: Action): typeof OpenHandsWire.ExecuteActionRequest.Encoded => ({
  action: encodeAction(action)
})

const toMetadata = (wire: typeof OpenHandsWire.CmdOutputMetadata.Type): RunMetadata => ({
  exitCode: wire.exit_code,
  pid: wire.pid,
  username: wire.username,
  hostname: wire.hostname,
  workingDir: wire.working_dir,
  pyInterpreterPath: wire.py_interpreter_path,
  prefix: wire.prefix,
  suffix: wire.suffix
})

const fromKnown = (wire: typeof OpenHandsWire.KnownObservation.Type, raw: unknown): Observation => {
  switch (wire.observation) {
    case "run":
      return Observation.Run({
        command: wire.extras.command,
        content: wire.content,
        exitCode: wire.extras.metadata.exit_code,
        metadata: toMetadata(wire.extras.metadata),
        hidden: wire.extras.hidden
      })
    case "run_ipython":
      return Observation.RunIPython({
        code: wire.extras.code,
        content: wire.content,
        imageUrls: wire.extras.image_urls
      })
    case "read":
      return Observation.Read({ path: wire.extras.path, content: wire.content, implSource: wire.extras.impl_source })
    case "write":
      return Observation.Write({ path: wire.extras.path, content: wire.content })
    case "edit":
      return Observation.Edit({
        path: wire.extras.path,
        content: wire.content,
        prevExist: wire.extras.prev_exist,
        oldContent: wire.extras.old_content,
        newContent: wire.extras.new_content,
        implSource: wire.extras.impl_source,
        diff: wire.extras.diff
      })
    case "browse": {
      const extras = (raw as { readonly extras?: Readonly<Record<string, unknown>> }).extras ?? {}
      return Observation.Browse({
        url: wire.extras.url,
        content: wire.content,
        triggerByAction: wire.extras.trigger_by_action,
        error: wire.extras.error,
        extras
      })
    }
    case "download":
      return Observation.Download({ filePath: wire.extras.file_path, content: wire.content })
    case "error":
      return Observation.Error({ content: wire.content, errorId: wire.extras.error_id })
  }
}

const decodeAny = Schema.decodeUnknownEither(OpenHandsWire.AnyObservation)
const decodeKnown = Schema.decodeUnknownEither(OpenHandsWire.KnownObservation)

/**
 * An observation from the JSON body of `/execute_action`: a known kind with its shape becomes its typed
 * observation; any other kind, or a known kind that lacks what it needs (a `run` without its command), is `Other`
 * with the body kept as it came. Only a body that is not an observation at all (no string `observation`) is
 * refused, with the reason.
 *
 * @since 0.1.0
 */
export const decodeObservation = (body: unknown): Either.Either<Observation, string> =>
  Either.map(decodeAny(body), (any) => {
    const known = OpenHandsWire.knownObservationKinds.has(any.observation) ? decodeKnown(body) : undefined
    if (known !== undefined && Either.isRight(known)) return fromKnown(known.right, body)
    const content = typeof any.content === "string" ? any.content : ""
    return Observation.Other({ observation: any.observation, content, raw: body })
  }).pipe(Either.mapLeft((error) => ParseResult.TreeFormatter.formatErrorSync(error)))

/**
 * As OpenHands' client: the observation of a hidden run is hidden too.
 *
 * @since 0.1.0
 */
export const markHidden = (action: Action, observation: Observation): Observation =>
  action._tag === "Run" && action.hidden === true && observation._tag === "Run" && !observation.hidden
    ? Observation.Run({ ...observation, hidden: true })
    : observation
