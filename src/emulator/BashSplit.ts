/**
 * How OpenHands' `BashSession` looks at a command before it types it into its shell (`runtime/utils/bash.py`):
 * `split_bash_commands` (several top-level commands are refused), `escape_bash_special_chars`, and what tmux's
 * `send-keys` makes of the string (a trailing `;` is tmux's command separator, a key name is a key). The real code
 * parses with bashlex; this is a small bash parser that finds the same top-level commands and fails where bashlex
 * fails (arithmetic expansion, `case`, `select`, `time`, `coproc`, `[[`, arrays, quoted here-document delimiters,
 * unbalanced quotes and unexpected tokens), in which case the command is taken whole, as the real code does.
 *
 * @since 0.2.0
 */

import { topLevel } from "./BashParse.js"

const rstrip = (text: string) => text.replace(/\s+$/u, "")

/**
 * `split_bash_commands`: the top-level commands of a command string, each with the text between it and the next
 * one (comments, here-document bodies) appended; the whole string when it cannot be parsed.
 *
 * @since 0.2.0
 */
export const splitBashCommands = (commands: string): Array<string> => {
  if (commands.trim() === "") return [""]
  const parsed = topLevel(commands)
  if (typeof parsed === "string") return [commands]
  const result: Array<string> = []
  let lastEnd = 0
  for (const [start, end] of parsed.spans) {
    if (start > lastEnd) {
      const between = commands.slice(lastEnd, start)
      if (result.length > 0) result[result.length - 1] += rstrip(between)
      else if (between.trim() !== "") result.push(rstrip(between))
    }
    result.push(rstrip(commands.slice(start, end)))
    lastEnd = end
  }
  const remaining = rstrip(commands.slice(lastEnd))
  if (lastEnd < commands.length && result.length > 0) result[result.length - 1] += remaining
  else if (lastEnd < commands.length && remaining !== "") result.push(remaining)
  return result
}

/**
 * The error the real `escape_bash_special_chars` raises on a command that has no command in it (only comments):
 * bashlex's AttributeError, which the real server answers as an error observation.
 *
 * @since 0.2.0
 */
export const NO_COMMAND_ERROR = "'str' object has no attribute 'kind'"

const doubleBackslashes = (text: string) => text.replace(/\\([;&|><])/g, "\\\\$1")

/**
 * `escape_bash_special_chars`: `\;`, `\&`, `\|`, `\>`, `\<` get a second backslash outside words quoted whole and
 * here-document bodies (for tmux, which takes a final `\;` for an escaped separator). `undefined` for a command
 * with no command in it (see {@link NO_COMMAND_ERROR}).
 *
 * @since 0.2.0
 */
export const escapeBashSpecialChars = (command: string): string | undefined => {
  if (command.trim() === "") return ""
  const parsed = topLevel(command)
  if (parsed === "empty") return undefined
  if (parsed === "unparsable") return command
  const words = parsed.scan.tokens.filter((t) => t.kind === "word")
  const last = words[words.length - 1]
  const keep: Array<readonly [number, number]> = [
    ...words.filter((w) => w.quoted === true).map((w) => [w.start, w.end] as const),
    ...parsed.scan.bodies,
    ...(last === undefined ? [] : [[last.end, command.length] as const])
  ].sort((a, b) => a[0] - b[0])
  let out = ""
  let at = 0
  for (const [start, end] of keep) {
    if (start < at) continue
    out += doubleBackslashes(command.slice(at, start)) + command.slice(start, end)
    at = end
  }
  return out + doubleBackslashes(command.slice(at))
}

const NAMED_KEYS: Record<string, string> = {
  enter: "\r",
  escape: "\x1b",
  space: " ",
  tab: "\t",
  bspace: "\x7f",
  up: "\x1b[A",
  down: "\x1b[B",
  right: "\x1b[C",
  left: "\x1b[D",
  home: "\x1b[1~",
  end: "\x1b[4~"
}

const control = (ch: string): string | undefined => {
  if (ch === "?") return "\x7f"
  const code = ch.toUpperCase().charCodeAt(0)
  return ch.length === 1 && code >= 0x40 && code <= 0x5f
    ? String.fromCharCode(code & 0x1f)
    : ch === " "
      ? "\0"
      : undefined
}

/**
 * The bytes the shell's terminal receives for `tmux send-keys STRING` (without `-l`): tmux first takes a final `;`
 * as its own command separator (`\;` becomes `;`), then a key name (`C-c`, `^d`, `M-x`, `Enter`, …) is that key and
 * anything else is typed as it is.
 *
 * @since 0.2.0
 */
export const tmuxKeys = (argument: string): string => {
  let text = argument
  if (text.endsWith(";")) {
    text = text.slice(0, -1)
    if (text.endsWith("\\")) text = `${text.slice(0, -1)};`
  }
  const ctrl = /^(?:C-|\^)([\s\S])$/.exec(text)
  if (ctrl !== null) return control(ctrl[1]!) ?? text
  const meta = /^M-([\s\S])$/.exec(text)
  if (meta !== null) return `\x1b${meta[1]}`
  return NAMED_KEYS[text.toLowerCase()] ?? text
}
