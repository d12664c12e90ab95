/**
 * The prompt of the built-in action server's shell, as OpenHands' `CmdOutputMetadata` (`events/observation/
 * commands.py`) writes and reads it: `PS1` prints a JSON block of metadata after every command; the blocks found on
 * the screen delimit the commands' outputs.
 *
 * @since 0.2.0
 */
import type { CmdOutputMetadata } from "./ActionObservations.js"
import { emptyMetadata } from "./ActionObservations.js"

const PS1_BEGIN = "\n###PS1JSON###\n"
/**
 * The end of the prompt's block (a screen that ends with it shows a prompt).
 *
 * @since 0.2.0
 */
export const PS1_END = "\n###PS1END###"
/**
 * `CmdOutputMetadata.to_ps1_prompt()`, character for character.
 *
 * @since 0.2.0
 */
export const PS1 =
  PS1_BEGIN +
  JSON.stringify(
    {
      pid: "$!",
      exit_code: "$?",
      username: "\\u",
      hostname: "\\h",
      working_dir: "$(pwd)",
      py_interpreter_path: '$(which python 2>/dev/null || echo "")'
    },
    null,
    2
  ).replace(/"/g, '\\"') +
  PS1_END +
  "\n"
const PS1_REGEX = /^###PS1JSON###([\s\S]*?)###PS1END###/gm

/**
 * Python's `len(str.splitlines())`.
 *
 * @since 0.2.0
 */
export const lineCount = (text: string) => {
  if (text === "") return 0
  const parts = text.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/)
  return /(\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])$/.test(text) ? parts.length - 1 : parts.length
}

/**
 * A prompt block found on the screen.
 *
 * @since 0.2.0
 */
export interface Ps1Match {
  readonly start: number
  readonly end: number
  readonly json: string
}

/**
 * `CmdOutputMetadata.matches_ps1_metadata`: the prompt blocks whose JSON parses.
 *
 * @since 0.2.0
 */
export const ps1Matches = (pane: string): Array<Ps1Match> => {
  const found: Array<Ps1Match> = []
  for (const match of pane.matchAll(PS1_REGEX)) {
    try {
      JSON.parse(match[1]!.trim())
      found.push({ start: match.index!, end: match.index! + match[0].length, json: match[1]! })
    } catch {
      // not valid JSON: skipped, as the real parser does
    }
  }
  return found
}

const toInt = (value: unknown): number => {
  const n = Number.parseFloat(String(value))
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(String(value)) && Number.isFinite(n) ? Math.trunc(n) : -1
}

/**
 * `CmdOutputMetadata.from_ps1_match`: `pid` and `exit_code` as integers (-1 when they are not numbers).
 *
 * @since 0.2.0
 */
export const metadataOf = (match: Ps1Match): CmdOutputMetadata => {
  const data = JSON.parse(match.json) as Record<string, unknown>
  const text = (key: string) => (typeof data[key] === "string" ? (data[key] as string) : null)
  return {
    ...emptyMetadata(),
    exit_code: "exit_code" in data ? toInt(data["exit_code"]) : -1,
    pid: "pid" in data ? toInt(data["pid"]) : -1,
    username: text("username"),
    hostname: text("hostname"),
    working_dir: text("working_dir"),
    py_interpreter_path: text("py_interpreter_path")
  }
}

/**
 * `_combine_outputs_between_matches`: the text between the prompt blocks (or before the only one).
 *
 * @since 0.2.0
 */
export const combine = (pane: string, matches: ReadonlyArray<Ps1Match>, beforeLast = false): string => {
  if (matches.length === 1) {
    return beforeLast ? pane.slice(0, matches[0]!.start) : pane.slice(matches[0]!.end + 1)
  }
  if (matches.length === 0) return pane
  let combined = ""
  for (let i = 0; i < matches.length - 1; i++) {
    combined += `${pane.slice(matches[i]!.end + 1, matches[i + 1]!.start)}\n`
  }
  return combined + pane.slice(matches[matches.length - 1]!.end + 1)
}

/**
 * The real `TIMEOUT_MESSAGE_TEMPLATE` (`runtime/utils/bash_constants.py`).
 *
 * @since 0.2.0
 */
export const TIMEOUT_MESSAGE_TEMPLATE =
  "You may wait longer to see additional output by sending empty command '', " +
  "send other commands to interact with the current process, " +
  'send keys ("C-c", "C-z", "C-d") to interrupt/kill the previous command before sending your new command, ' +
  "or use the timeout parameter in execute_bash for future commands."

/**
 * What precedes the output of a command that was still running.
 *
 * @since 0.2.0
 */
export const CONTINUE_PREFIX = "[Below is the output of the previous command.]\n"

/**
 * Python's `lstrip()`.
 *
 * @since 0.2.0
 */
export const lstrip = (text: string) => text.replace(/^\s+/u, "")

/**
 * Python's `rstrip()`.
 *
 * @since 0.2.0
 */
export const rstrip = (text: string) => text.replace(/\s+$/u, "")

/**
 * Python's `str.removeprefix()`.
 *
 * @since 0.2.0
 */
export const removePrefix = (text: string, prefix: string) =>
  text.startsWith(prefix) ? text.slice(prefix.length) : text

/**
 * `BashSession._is_special_key`: `C-<key>`.
 *
 * @since 0.2.0
 */
export const isSpecialKey = (command: string) => {
  const trimmed = command.trim()
  return trimmed.startsWith("C-") && trimmed.length === 3
}
