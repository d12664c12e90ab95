/**
 * The JSON of OpenHands' action execution server, as `Schema`s that mirror OpenHands' own event serialization
 * (`openhands/events/serialization/{action,observation,event}.py`, the dataclasses of `events/action/*.py` and
 * `events/observation/*.py`): the body of `POST /execute_action` (`{"action": event_to_dict(action)}`) and the
 * observation it answers with (`event_to_dict(observation)`).
 *
 * Field names, their order and their defaults are OpenHands'. An action's hard timeout is the top-level
 * `timeout` (seconds), never an `args` field: `CmdRunAction` has no `timeout` argument and the server refuses one
 * (HTTP 500). Observation fields that OpenHands fills with a default when absent get the same default here.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * `ActionSecurityRisk`: UNKNOWN -1, LOW 0, MEDIUM 1, HIGH 2.
 *
 * @since 0.1.0
 */
export const SecurityRisk = Schema.Literal(-1, 0, 1, 2)

/**
 * `ActionConfirmationStatus`.
 *
 * @since 0.1.0
 */
export const ConfirmationState = Schema.Literal("confirmed", "rejected", "awaiting_confirmation")

/**
 * `FileReadSource` / `FileEditSource`.
 *
 * @since 0.1.0
 */
export const ImplSource = Schema.Literal("default", "oh_aci", "llm_based_edit")

/**
 * The `args` of a `CmdRunAction`: exactly its dataclass fields.
 *
 * @since 0.1.0
 */
export const CmdRunArgs = Schema.Struct({
  command: Schema.String,
  is_input: Schema.Boolean,
  thought: Schema.String,
  blocking: Schema.Boolean,
  is_static: Schema.Boolean,
  cwd: Schema.NullOr(Schema.String),
  hidden: Schema.Boolean,
  confirmation_state: ConfirmationState,
  security_risk: SecurityRisk
})

/**
 * The `args` of an `IPythonRunCellAction` (needs the server's `jupyter` plugin).
 *
 * @since 0.1.0
 */
export const IPythonRunCellArgs = Schema.Struct({
  code: Schema.String,
  thought: Schema.String,
  include_extra: Schema.Boolean,
  confirmation_state: ConfirmationState,
  security_risk: SecurityRisk,
  kernel_init_code: Schema.String
})

/**
 * The `args` of a `FileReadAction`: lines `start`..`end` (0, -1: the whole file); `view_range` only with `oh_aci`.
 *
 * @since 0.1.0
 */
export const FileReadArgs = Schema.Struct({
  path: Schema.String,
  start: Schema.Number,
  end: Schema.Number,
  thought: Schema.String,
  security_risk: SecurityRisk,
  impl_source: ImplSource,
  view_range: Schema.NullOr(Schema.Array(Schema.Number))
})

/**
 * The `args` of a `FileWriteAction`.
 *
 * @since 0.1.0
 */
export const FileWriteArgs = Schema.Struct({
  path: Schema.String,
  content: Schema.String,
  start: Schema.Number,
  end: Schema.Number,
  thought: Schema.String,
  security_risk: SecurityRisk
})

/**
 * The `args` of a `FileEditAction` (the openhands-aci `str_replace_editor` when `impl_source` is `oh_aci`).
 *
 * @since 0.1.0
 */
export const FileEditArgs = Schema.Struct({
  path: Schema.String,
  command: Schema.String,
  file_text: Schema.NullOr(Schema.String),
  old_str: Schema.NullOr(Schema.String),
  new_str: Schema.NullOr(Schema.String),
  insert_line: Schema.NullOr(Schema.Number),
  content: Schema.String,
  start: Schema.Number,
  end: Schema.Number,
  thought: Schema.String,
  security_risk: SecurityRisk,
  impl_source: ImplSource
})

/**
 * The `args` of a `BrowseURLAction`.
 *
 * @since 0.1.0
 */
export const BrowseURLArgs = Schema.Struct({
  url: Schema.String,
  thought: Schema.String,
  security_risk: SecurityRisk,
  return_axtree: Schema.Boolean
})

/**
 * The `args` of a `BrowseInteractiveAction`.
 *
 * @since 0.1.0
 */
export const BrowseInteractiveArgs = Schema.Struct({
  browser_actions: Schema.String,
  thought: Schema.String,
  browsergym_send_msg_to_user: Schema.String,
  security_risk: SecurityRisk,
  return_axtree: Schema.Boolean
})

const actionEvent = <Kind extends string, Args extends Schema.Schema.Any>(kind: Kind, args: Args) =>
  Schema.Struct({
    /** The event's `message` (OpenHands' own text; the server ignores it). */
    message: Schema.String,
    action: Schema.Literal(kind),
    args,
    /** The hard timeout in seconds. */
    timeout: Schema.Number
  })

/**
 * `event_to_dict(action)` of every action a runtime sends to the server.
 *
 * @since 0.1.0
 */
export const ActionEvent = Schema.Union(
  actionEvent("run", CmdRunArgs),
  actionEvent("run_ipython", IPythonRunCellArgs),
  actionEvent("read", FileReadArgs),
  actionEvent("write", FileWriteArgs),
  actionEvent("edit", FileEditArgs),
  actionEvent("browse", BrowseURLArgs),
  actionEvent("browse_interactive", BrowseInteractiveArgs)
)

/**
 * The body of `POST /execute_action`.
 *
 * @since 0.1.0
 */
export const ExecuteActionRequest = Schema.Struct({ action: ActionEvent })

const withDefault = <S extends Schema.Schema.Any>(schema: S, value: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: value })

const nullable = <S extends Schema.Schema.Any>(schema: S) => withDefault(Schema.NullOr(schema), () => null)

/**
 * `CmdOutputMetadata`: what the shell's PS1 reported, plus the `prefix`/`suffix` the server adds around the
 * output (the suffix says whether the command completed, timed out or was not executed).
 *
 * @since 0.1.0
 */
export const CmdOutputMetadata = Schema.Struct({
  exit_code: withDefault(Schema.Number, () => -1),
  pid: withDefault(Schema.Number, () => -1),
  username: nullable(Schema.String),
  hostname: nullable(Schema.String),
  working_dir: nullable(Schema.String),
  py_interpreter_path: nullable(Schema.String),
  prefix: withDefault(Schema.String, () => ""),
  suffix: withDefault(Schema.String, () => "")
})

const observationEvent = <Kind extends string, Extras extends Schema.Struct.Fields>(kind: Kind, extras: Extras) =>
  Schema.Struct({
    message: Schema.optional(Schema.String),
    observation: Schema.Literal(kind),
    content: withDefault(Schema.String, () => ""),
    extras: Schema.Struct(extras),
    success: Schema.optional(Schema.Boolean)
  })

/**
 * `CmdOutputObservation` (`observation: "run"`).
 *
 * @since 0.1.0
 */
export const CmdOutputObservation = observationEvent("run", {
  command: Schema.String,
  metadata: withDefault(CmdOutputMetadata, () => CmdOutputMetadata.make({})),
  hidden: withDefault(Schema.Boolean, () => false)
})

/**
 * `IPythonRunCellObservation`.
 *
 * @since 0.1.0
 */
export const IPythonRunCellObservation = observationEvent("run_ipython", {
  code: Schema.String,
  image_urls: nullable(Schema.Array(Schema.String))
})

/**
 * `FileReadObservation`.
 *
 * @since 0.1.0
 */
export const FileReadObservation = observationEvent("read", {
  path: Schema.String,
  impl_source: withDefault(ImplSource, () => "default" as const)
})

/**
 * `FileWriteObservation`.
 *
 * @since 0.1.0
 */
export const FileWriteObservation = observationEvent("write", { path: Schema.String })

/**
 * `FileEditObservation`.
 *
 * @since 0.1.0
 */
export const FileEditObservation = observationEvent("edit", {
  path: withDefault(Schema.String, () => ""),
  prev_exist: withDefault(Schema.Boolean, () => false),
  old_content: nullable(Schema.String),
  new_content: nullable(Schema.String),
  impl_source: withDefault(ImplSource, () => "llm_based_edit" as const),
  diff: nullable(Schema.String),
  _diff_cache: nullable(Schema.String)
})

const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * `BrowserOutputObservation`.
 *
 * @since 0.1.0
 */
export const BrowserOutputObservation = observationEvent("browse", {
  url: Schema.String,
  trigger_by_action: Schema.String,
  screenshot: withDefault(Schema.String, () => ""),
  screenshot_path: nullable(Schema.String),
  set_of_marks: withDefault(Schema.String, () => ""),
  error: withDefault(Schema.Boolean, () => false),
  goal_image_urls: withDefault(Schema.Array(Schema.String), () => []),
  open_pages_urls: withDefault(Schema.Array(Schema.String), () => []),
  active_page_index: withDefault(Schema.Number, () => -1),
  dom_object: withDefault(JsonObject, () => ({})),
  axtree_object: withDefault(JsonObject, () => ({})),
  extra_element_properties: withDefault(JsonObject, () => ({})),
  last_browser_action: withDefault(Schema.String, () => ""),
  last_browser_action_error: withDefault(Schema.String, () => ""),
  focused_element_bid: withDefault(Schema.String, () => ""),
  filter_visible_only: withDefault(Schema.Boolean, () => false)
})

/**
 * `FileDownloadObservation` (a browse action that downloaded a file).
 *
 * @since 0.1.0
 */
export const FileDownloadObservation = observationEvent("download", { file_path: Schema.String })

/**
 * `ErrorObservation`: the server could not carry the action out; the explanation is the content.
 *
 * @since 0.1.0
 */
export const ErrorObservation = observationEvent("error", { error_id: withDefault(Schema.String, () => "") })

/**
 * The observation kinds a runtime's actions produce. Any other kind is kept as raw JSON by the decoder.
 *
 * @since 0.1.0
 */
export const KnownObservation = Schema.Union(
  CmdOutputObservation,
  IPythonRunCellObservation,
  FileReadObservation,
  FileWriteObservation,
  FileEditObservation,
  BrowserOutputObservation,
  FileDownloadObservation,
  ErrorObservation
)

/**
 * The `observation` values of {@link KnownObservation}.
 *
 * @since 0.1.0
 */
export const knownObservationKinds: ReadonlySet<string> = new Set([
  "run",
  "run_ipython",
  "read",
  "write",
  "edit",
  "browse",
  "download",
  "error"
])

/**
 * Any observation: its kind and the rest as it came.
 *
 * @since 0.1.0
 */
export const AnyObservation = Schema.Struct(
  { observation: Schema.String },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * The answer of `GET /vscode/connection_token` (`null` unless the `vscode` plugin is loaded).
 *
 * @since 0.1.0
 */
export const VscodeToken = Schema.Struct({ token: Schema.optional(Schema.NullOr(Schema.String)) })

/**
 * The answer of `POST /upload_file`.
 *
 * @since 0.1.0
 */
export const UploadResult = Schema.Struct({
  filename: Schema.String,
  destination: Schema.String,
  recursive: Schema.Boolean
})
