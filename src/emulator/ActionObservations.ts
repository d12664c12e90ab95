/**
 * The observations of the built-in action execution server, serialized as OpenHands' `event_to_dict` writes them
 * (same keys, same order): run, error, read, write and edit, and the metadata of a command's output
 * (`CmdOutputMetadata`, `events/observation/commands.py`).
 *
 * @since 0.2.0
 */

/**
 * The metadata of a command's output (`CmdOutputMetadata`), defaults as the real one's.
 *
 * @since 0.2.0
 */
export interface CmdOutputMetadata {
  exit_code: number
  pid: number
  username: string | null
  hostname: string | null
  working_dir: string | null
  py_interpreter_path: string | null
  prefix: string
  suffix: string
}

/**
 * Fresh metadata: no exit code (-1), nothing known.
 *
 * @since 0.2.0
 */
export const emptyMetadata = (): CmdOutputMetadata => ({
  exit_code: -1,
  pid: -1,
  username: null,
  hostname: null,
  working_dir: null,
  py_interpreter_path: null,
  prefix: "",
  suffix: ""
})

/** The real `MAX_CMD_OUTPUT_SIZE`. */
const MAX_CMD_OUTPUT_SIZE = 30_000

/**
 * `CmdOutputObservation._maybe_truncate`: over 30 000 characters (code points, as Python counts), the middle is cut.
 *
 * @since 0.2.0
 */
export const truncateOutput = (content: string): string => {
  if (content.length <= MAX_CMD_OUTPUT_SIZE) return content
  const points = Array.from(content)
  if (points.length <= MAX_CMD_OUTPUT_SIZE) return content
  const half = MAX_CMD_OUTPUT_SIZE / 2
  return `${points.slice(0, half).join("")}\n[... Observation truncated due to length ...]\n${points.slice(-half).join("")}`
}

/**
 * A `run` observation.
 *
 * @since 0.2.0
 */
export const runObservation = (content: string, command: string, metadata: CmdOutputMetadata, hidden = false) => ({
  message: `Command \`${command}\` executed with exit code ${metadata.exit_code}.`,
  observation: "run",
  content: hidden ? content : truncateOutput(content),
  extras: { command, metadata: { ...metadata }, hidden },
  success: metadata.exit_code === 0
})

/**
 * An `error` observation.
 *
 * @since 0.2.0
 */
export const errorObservation = (content: string) => ({
  message: content,
  observation: "error",
  content,
  extras: { error_id: "" }
})

/**
 * A `read` observation.
 *
 * @since 0.2.0
 */
export const readObservation = (path: string, content: string, implSource: "default" | "oh_aci") => ({
  message: `I read the file ${path}.`,
  observation: "read",
  content,
  extras: { path, impl_source: implSource }
})

/**
 * A `write` observation.
 *
 * @since 0.2.0
 */
export const writeObservation = (path: string) => ({
  message: `I wrote to the file ${path}.`,
  observation: "write",
  content: "",
  extras: { path }
})

/**
 * An `edit` observation (openhands-aci).
 *
 * @since 0.2.0
 */
export const editObservation = (
  path: string,
  content: string,
  oldContent: unknown,
  newContent: unknown,
  diff: string
) => ({
  message: `I edited the file ${path}.`,
  observation: "edit",
  content,
  extras: {
    path,
    prev_exist: false,
    old_content: oldContent ?? null,
    new_content: newContent ?? null,
    impl_source: "oh_aci",
    diff,
    _diff_cache: null
  }
})

/**
 * Any observation this server answers with.
 *
 * @since 0.2.0
 */
export type Observation =
  | ReturnType<typeof runObservation>
  | ReturnType<typeof errorObservation>
  | ReturnType<typeof readObservation>
  | ReturnType<typeof writeObservation>
  | ReturnType<typeof editObservation>
