/**
 * The lexical side of the bash parser behind {@link BashSplit}: bash's words (quotes, `$(…)`, `${…}`, backquotes,
 * process substitutions), its operators, comments and here-document bodies, failing where bashlex fails
 * (arithmetic expansion, unbalanced quotes, arrays, a here-document without its delimiter).
 *
 * @since 0.2.0
 */
/** bashlex could not parse the command (ParsingError or NotImplementedError). */
export class Unparsable extends Error {}

export interface Token {
  readonly kind: "word" | "op" | "newline"
  readonly text: string
  readonly start: number
  readonly end: number
  /** A word that is quoted whole (`'…'`, `"…"`, `$(…)`, `` `…` ``): escape_bash_special_chars keeps it. */
  readonly quoted?: boolean
}

export interface Scan {
  readonly tokens: ReadonlyArray<Token>
  /** Here-document bodies [start, end): kept as they are by the escaping. */
  readonly bodies: ReadonlyArray<readonly [number, number]>
}

const OPERATORS = [
  "<<<",
  "<<-",
  ";;&",
  "&>>",
  "&&",
  "||",
  ";;",
  ";&",
  "|&",
  "<<",
  ">>",
  "<&",
  ">&",
  "<>",
  ">|",
  "&>",
  "|",
  "&",
  ";",
  "(",
  ")",
  "<",
  ">"
]
const META = new Set([" ", "\t", "\n", ";", "&", "|", "<", ">", "(", ")"])

/** Skips a quoted or nested construct starting at `i` (at its opening characters); returns the index after it. */
const skipNested = (s: string, i: number): number => {
  const c = s[i]!
  if (c === "'") {
    const end = s.indexOf("'", i + 1)
    if (end === -1) throw new Unparsable("unterminated '")
    return end + 1
  }
  if (c === "\\") return Math.min(s.length, i + 2)
  if (c === "`") {
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === "\\") j++
      else if (s[j] === "`") return j + 1
    }
    throw new Unparsable("unterminated `")
  }
  if (c === '"') {
    for (let j = i + 1; j < s.length;) {
      const d = s[j]!
      if (d === '"') return j + 1
      if (d === "\\") j += 2
      else if (d === "$" || d === "`") j = d === "$" ? skipDollar(s, j) : skipNested(s, j)
      else j++
    }
    throw new Unparsable('unterminated "')
  }
  return skipDollar(s, i)
}

/** Skips `$…` at `i`: `$'…'`, `$"…"`, `$(…)`, `${…}`; arithmetic is bashlex's NotImplementedError. */
const skipDollar = (s: string, i: number): number => {
  const next = s[i + 1]
  if (next === "'") {
    for (let j = i + 2; j < s.length; j++) {
      if (s[j] === "\\") j++
      else if (s[j] === "'") return j + 1
    }
    throw new Unparsable("unterminated $'")
  }
  if (next === '"') return skipNested(s, i + 1)
  if (next === "[") throw new Unparsable("arithmetic substitution")
  if (next === "(") {
    if (s[i + 2] === "(") throw new Unparsable("arithmetic expansion")
    return skipParens(s, i + 2)
  }
  if (next === "{") {
    for (let j = i + 2; j < s.length;) {
      const d = s[j]!
      if (d === "}") return j + 1
      if (d === "'" || d === '"' || d === "\\" || d === "`" || d === "$") j = skipNested(s, j)
      else j++
    }
    throw new Unparsable("unterminated ${")
  }
  return i + 1
}

/** Skips to after the `)` that closes a `(` just before `i` (a command substitution or process substitution). */
const skipParens = (s: string, i: number): number => {
  let depth = 1
  for (let j = i; j < s.length;) {
    const d = s[j]!
    if (d === "(") depth++
    else if (d === ")" && --depth === 0) return j + 1
    if (d === "'" || d === '"' || d === "\\" || d === "`" || d === "$") {
      j = skipNested(s, j)
      continue
    }
    if (d === "#" && (j === i || /\s/.test(s[j - 1]!))) {
      const eol = s.indexOf("\n", j)
      j = eol === -1 ? s.length : eol
      continue
    }
    j++
  }
  throw new Unparsable("unterminated (")
}

/**
 * The tokens of a command string and its here-document bodies.
 *
 * @since 0.2.0
 */
export const scan = (s: string): Scan => {
  const tokens: Array<Token> = []
  const bodies: Array<readonly [number, number]> = []
  const pending: Array<{ readonly delimiter: string; readonly tabs: boolean }> = []
  let i = 0
  while (i < s.length) {
    const c = s[i]!
    if (c === " " || c === "\t") {
      i++
      continue
    }
    if (c === "\\" && s[i + 1] === "\n") {
      i += 2
      continue
    }
    if (c === "#") {
      const eol = s.indexOf("\n", i)
      i = eol === -1 ? s.length : eol
      continue
    }
    if (c === "\n") {
      tokens.push({ kind: "newline", text: "\n", start: i, end: i + 1 })
      i++
      for (const doc of pending.splice(0)) {
        const bodyStart = i
        for (;;) {
          if (i >= s.length) throw new Unparsable(`here-document delimited by end-of-file (wanted ${doc.delimiter})`)
          const eol = s.indexOf("\n", i)
          const lineEnd = eol === -1 ? s.length : eol
          const line = s.slice(i, lineEnd)
          i = eol === -1 ? s.length : eol + 1
          if ((doc.tabs ? line.replace(/^\t+/, "") : line) === doc.delimiter) break
        }
        bodies.push([bodyStart, i])
      }
      continue
    }
    if ((c === "<" || c === ">") && s[i + 1] === "(") {
      const end = skipParens(s, i + 2)
      tokens.push({ kind: "word", text: s.slice(i, end), start: i, end })
      i = end
      continue
    }
    const op = META.has(c) ? OPERATORS.find((o) => s.startsWith(o, i)) : undefined
    if (op !== undefined) {
      tokens.push({ kind: "op", text: op, start: i, end: i + op.length })
      i += op.length
      if (op === "<<" || op === "<<-") {
        while (s[i] === " " || s[i] === "\t") i++
        const wordStart = i
        while (i < s.length && !META.has(s[i]!)) i = /['"\\$`]/.test(s[i]!) ? skipNested(s, i) : i + 1
        if (i === wordStart) throw new Unparsable("here-document without a delimiter")
        const delimiter = s.slice(wordStart, i)
        tokens.push({ kind: "word", text: delimiter, start: wordStart, end: i })
        pending.push({ delimiter, tabs: op === "<<-" })
      }
      continue
    }
    const start = i
    while (i < s.length && !META.has(s[i]!)) {
      const d = s[i]!
      if (d === "\\" && s[i + 1] === "\n") i += 2
      else if (d === "'" || d === '"' || d === "\\" || d === "`" || d === "$") i = skipNested(s, i)
      else i++
    }
    const text = s.slice(start, i)
    if (text.endsWith("=") && s[i] === "(") throw new Unparsable("array assignment")
    const quoted =
      (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) ||
      (text.length >= 2 && text.startsWith("'") && text.endsWith("'")) ||
      (text.startsWith("$(") && text.endsWith(")")) ||
      (text.length >= 2 && text.startsWith("`") && text.endsWith("`"))
    tokens.push({ kind: "word", text, start, end: i, quoted })
  }
  if (pending.length > 0) throw new Unparsable("here-document delimited by end-of-file")
  return { tokens, bodies }
}
