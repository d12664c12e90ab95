/**
 * The events of OpenHands' action execution server as the built-in server reads and writes them: the action body
 * decoded the way `event_from_dict`/`action_from_dict` (`events/serialization/*.py`) do it, with the same refusals
 * and their texts, and the observations serialized as `event_to_dict` does (same keys, same order).
 *
 * @since 0.2.0
 */
import { PyDict, PyRaw, repr, typeName } from "./PyWire.js"

type Fields = ReadonlyArray<readonly [name: string, required: boolean]>

const opt = (...names: ReadonlyArray<string>): Fields => names.map((name) => [name, false] as const)
const req = (...names: ReadonlyArray<string>): Fields => names.map((name) => [name, true] as const)

/** Every action type, in `ACTION_TYPE_TO_CLASS` order: enum name, class and dataclass fields. */
const ACTIONS: ReadonlyArray<readonly [type: string, member: string, cls: string, fields: Fields]> = [
  ["null", "NULL", "NullAction", opt("action")],
  [
    "run",
    "RUN",
    "CmdRunAction",
    [
      ...req("command"),
      ...opt("is_input", "thought", "blocking", "is_static", "cwd", "hidden", "action", "confirmation_state"),
      ...opt("security_risk")
    ]
  ],
  [
    "run_ipython",
    "RUN_IPYTHON",
    "IPythonRunCellAction",
    [
      ...req("code"),
      ...opt("thought", "include_extra", "action", "confirmation_state", "security_risk", "kernel_init_code")
    ]
  ],
  [
    "browse",
    "BROWSE",
    "BrowseURLAction",
    [...req("url"), ...opt("thought", "action", "security_risk", "return_axtree")]
  ],
  [
    "browse_interactive",
    "BROWSE_INTERACTIVE",
    "BrowseInteractiveAction",
    [
      ...req("browser_actions"),
      ...opt("thought", "browsergym_send_msg_to_user", "action", "security_risk", "return_axtree")
    ]
  ],
  [
    "read",
    "READ",
    "FileReadAction",
    [...req("path"), ...opt("start", "end", "thought", "action", "security_risk", "impl_source", "view_range")]
  ],
  [
    "write",
    "WRITE",
    "FileWriteAction",
    [...req("path", "content"), ...opt("start", "end", "thought", "action", "security_risk")]
  ],
  [
    "edit",
    "EDIT",
    "FileEditAction",
    [
      ...req("path"),
      ...opt("command", "file_text", "old_str", "new_str", "insert_line", "content", "start", "end", "thought"),
      ...opt("action", "security_risk", "impl_source")
    ]
  ],
  ["think", "THINK", "AgentThinkAction", opt("thought", "action")],
  ["finish", "FINISH", "AgentFinishAction", opt("final_thought", "outputs", "thought", "action")],
  ["reject", "REJECT", "AgentRejectAction", opt("outputs", "thought", "action")],
  ["delegate", "DELEGATE", "AgentDelegateAction", [...req("agent", "inputs"), ...opt("thought", "action")]],
  ["recall", "RECALL", "RecallAction", [...req("recall_type"), ...opt("query", "thought", "action")]],
  [
    "change_agent_state",
    "CHANGE_AGENT_STATE",
    "ChangeAgentStateAction",
    [...req("agent_state"), ...opt("thought", "action")]
  ],
  [
    "message",
    "MESSAGE",
    "MessageAction",
    [...req("content"), ...opt("file_urls", "image_urls", "wait_for_response", "action", "security_risk")]
  ],
  [
    "system",
    "SYSTEM",
    "SystemMessageAction",
    [...req("content"), ...opt("tools", "openhands_version", "agent_class", "action")]
  ],
  [
    "condensation",
    "CONDENSATION",
    "CondensationAction",
    opt(
      "action",
      "forgotten_event_ids",
      "forgotten_events_start_id",
      "forgotten_events_end_id",
      "summary",
      "summary_offset"
    )
  ],
  ["condensation_request", "CONDENSATION_REQUEST", "CondensationRequestAction", opt("action")],
  ["call_tool_mcp", "MCP", "MCPAction", [...req("name"), ...opt("arguments", "thought", "action", "security_risk")]],
  ["task_tracking", "TASK_TRACKING", "TaskTrackingAction", opt("command", "task_list", "thought", "action")],
  ["loop_recovery", "LOOP_RECOVERY", "LoopRecoveryAction", opt("option", "action")]
]

const OBSERVATIONS: ReadonlyArray<
  readonly [type: string, member: string, cls: string, required: ReadonlyArray<string>]
> = [
  ["null", "NULL", "NullObservation", []],
  ["run", "RUN", "CmdOutputObservation", ["command"]],
  ["run_ipython", "RUN_IPYTHON", "IPythonRunCellObservation", ["code"]],
  ["browse", "BROWSE", "BrowserOutputObservation", ["url", "trigger_by_action"]],
  ["read", "READ", "FileReadObservation", ["path"]],
  ["write", "WRITE", "FileWriteObservation", ["path"]],
  ["edit", "EDIT", "FileEditObservation", []],
  ["delegate", "DELEGATE", "AgentDelegateObservation", ["outputs"]],
  ["success", "SUCCESS", "SuccessObservation", []],
  ["error", "ERROR", "ErrorObservation", []],
  ["agent_state_changed", "AGENT_STATE_CHANGED", "AgentStateChangedObservation", ["agent_state"]],
  ["user_rejected", "USER_REJECTED", "UserRejectObservation", []],
  ["condense", "CONDENSE", "AgentCondensationObservation", []],
  ["think", "THINK", "AgentThinkObservation", []],
  ["recall", "RECALL", "RecallObservation", ["recall_type"]],
  ["mcp", "MCP", "MCPObservation", []],
  ["download", "DOWNLOAD", "FileDownloadObservation", ["file_path"]],
  ["task_tracking", "TASK_TRACKING", "TaskTrackingObservation", []],
  ["loop_detection", "LOOP_DETECTION", "LoopDetectionObservation", []]
]

const keys = (enumName: string, entries: ReadonlyArray<readonly [string, string, ...Array<unknown>]>) =>
  `dict_keys([${entries.map(([type, member]) => `<${enumName}.${member}: '${type}'>`).join(", ")}])`

const SECURITY_RISKS: Record<string, string> = { "-1": "UNKNOWN", "0": "LOW", "1": "MEDIUM", "2": "HIGH" }
const EVENT_SOURCES = ["agent", "user", "environment"]

/**
 * An action the server accepted: its type, its arguments (after the real decoding's renames and removals) and the
 * top-level `timeout`, when the body has one.
 *
 * @since 0.2.0
 */
export interface DecodedAction {
  readonly type: string
  readonly args: PyDict
  readonly timeout: { readonly value: unknown } | undefined
}

const quoteList = (names: ReadonlyArray<string>) => {
  const quoted = names.map((name) => `'${name}'`)
  if (quoted.length <= 1) return quoted.join("")
  if (quoted.length === 2) return `${quoted[0]} and ${quoted[1]}`
  return `${quoted.slice(0, -1).join(", ")}, and ${quoted[quoted.length - 1]}`
}

/** The TypeError a dataclass `__init__` raises for these keyword arguments, if any. */
const initError = (cls: string, fields: Fields, args: PyDict): string | undefined => {
  const known = new Set(fields.map(([name]) => name))
  for (const key of args.map.keys()) {
    if (!known.has(key)) return `${cls}.__init__() got an unexpected keyword argument '${key}'`
  }
  const missing = fields.filter(([name, required]) => required && !args.has(name)).map(([name]) => name)
  if (missing.length === 0) return undefined
  const plural = missing.length === 1 ? "argument" : "arguments"
  return `${cls}.__init__() missing ${missing.length} required positional ${plural}: ${quoteList(missing)}`
}

const pop = (dict: PyDict, key: string) => {
  const value = dict.get(key)
  dict.map.delete(key)
  return value
}

const riskMember = (value: unknown): string | undefined => {
  const n = typeof value === "boolean" ? Number(value) : typeof value === "number" ? value : NaN
  return Number.isInteger(n) ? SECURITY_RISKS[String(n)] : undefined
}

/**
 * `event_from_dict` of the body's `action`: the decoded action, or the text of the exception the real server turns
 * into `500 {"detail": "Internal server error: <text>"}`. `tolerateArgsTimeout` accepts `args.timeout` (which the
 * real server refuses) as the hard timeout.
 *
 * @since 0.2.0
 */
export const decodeAction = (
  data: PyDict,
  tolerateArgsTimeout: boolean
): DecodedAction | { readonly error: string } => {
  if (!data.has("action")) {
    if (!data.has("observation")) return { error: `Unknown event type: ${repr(data)}` }
    const type = data.get("observation")
    const known = OBSERVATIONS.find(([name]) => name === type)
    if (known === undefined) {
      const text = `'observation['observation']=${repr(type)}' is not defined. Available observations: ${keys("ObservationType", OBSERVATIONS)}`
      return { error: repr(text) }
    }
    const extras = data.get("extras")
    const given = extras instanceof PyDict ? extras : new PyDict()
    const missing = known[3].filter((name) => !given.has(name))
    if (missing.length > 0) {
      const plural = missing.length === 1 ? "argument" : "arguments"
      return {
        error: `${known[2]}.__init__() missing ${missing.length} required positional ${plural}: ${quoteList(missing)}`
      }
    }
    return { error: "400: Invalid action type" }
  }
  const action = data.copy()
  const type = action.get("action")
  const known = ACTIONS.find(([name]) => name === type)
  if (typeof type !== "string" || known === undefined) {
    return {
      error: `'action['action']=${repr(type)}' is not defined. Available actions: ${keys("ActionType", ACTIONS)}`
    }
  }
  const args = action.has("args") ? action.get("args") : new PyDict()
  if (!(args instanceof PyDict)) {
    return {
      error: Array.isArray(args)
        ? "pop expected at most 1 argument, got 2"
        : `'${typeName(args)}' object has no attribute 'pop'`
    }
  }
  pop(args, "timestamp")
  const confirmed = pop(args, "is_confirmed")
  if (confirmed !== undefined && confirmed !== null) args.map.set("confirmation_state", confirmed)
  if (args.has("images_urls")) args.map.set("image_urls", pop(args, "images_urls"))
  if (args.has("security_risk") && args.get("security_risk") !== null) {
    const value = args.get("security_risk")
    const member = riskMember(value)
    if (member === undefined) args.map.delete("security_risk")
    else args.map.set("security_risk", new PyRaw(`<ActionSecurityRisk.${member}: ${Number(value)}>`))
  }
  pop(args, "keep_prompt")
  pop(args, "task_completed")
  // TOLERATED until the client sends the real body: `args.timeout` of a run is taken as the hard timeout (the
  // real server answers 500 "CmdRunAction.__init__() got an unexpected keyword argument 'timeout'").
  const tolerated = tolerateArgsTimeout && type === "run" && args.has("timeout") ? pop(args, "timeout") : undefined
  const problem = initError(known[2], known[3], args)
  if (problem !== undefined) return { error: `action=${repr(action)} has the wrong arguments: ${problem}` }
  if (
    action.has("source") &&
    action.get("source") !== null &&
    !EVENT_SOURCES.includes(action.get("source") as string)
  ) {
    return { error: `${repr(action.get("source"))} is not a valid EventSource` }
  }
  const timeout = action.has("timeout")
    ? { value: action.get("timeout") }
    : tolerated !== undefined
      ? { value: tolerated }
      : undefined
  return { type, args, timeout }
}

/**
 * Python's truth value of a JSON value.
 *
 * @since 0.2.0
 */
export const truthy = (value: unknown): boolean => {
  if (value === null || value === undefined || value === false) return false
  if (typeof value === "number") return value !== 0
  if (typeof value === "bigint") return value !== 0n
  if (typeof value === "string") return value.length > 0
  if (Array.isArray(value)) return value.length > 0
  if (value instanceof PyDict) return value.map.size > 0
  if (typeof value === "object" && "value" in value) return (value as { value: number }).value !== 0
  return true
}
