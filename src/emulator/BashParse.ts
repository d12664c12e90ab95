/**
 * The grammar side of the bash parser behind {@link BashSplit}: where bashlex's top-level commands start and end
 * (lists, pipelines, `if`/`for`/`while`/`until`, `{ }`, `( )`, functions), failing where bashlex fails (`case`,
 * `select`, `time`, `coproc`, `[[`, arithmetic `for`, unexpected tokens).
 *
 * @since 0.2.0
 */
import type { Scan, Token } from "./BashScan.js"
import { Unparsable, scan } from "./BashScan.js"

const UNSUPPORTED = new Set(["case", "select", "time", "coproc", "[["])
const CLOSERS = new Set(["then", "elif", "else", "fi", "do", "done", "esac", "}", "in"])
const REDIRECTIONS = new Set(["<", ">", ">>", "<<", "<<-", "<<<", "<&", ">&", "<>", ">|", "&>", "&>>"])

/** A recursive-descent reader of the token list: the spans [start, end) of the top-level commands. */
const parse = (tokens: ReadonlyArray<Token>): Array<readonly [number, number]> => {
  let i = 0
  const peek = () => tokens[i]
  const isWord = (text: string) => peek()?.kind === "word" && peek()!.text === text
  const isOp = (text: string) => peek()?.kind === "op" && peek()!.text === text
  const skipNewlines = () => {
    while (peek()?.kind === "newline") i++
  }
  const expectWord = (text: string) => {
    if (!isWord(text)) throw new Unparsable(`expected ${text}`)
    i++
  }
  const redirections = () => {
    while (peek()?.kind === "op" && REDIRECTIONS.has(peek()!.text)) {
      i++
      if (peek()?.kind !== "word") throw new Unparsable("redirection without a target")
      i++
    }
  }
  // A list inside a compound command: newlines separate like `;`, it ends at a closing reserved word.
  const compoundList = (closers: ReadonlyArray<string>) => {
    skipNewlines()
    let count = 0
    while (peek() !== undefined && !(peek()!.kind === "word" && closers.includes(peek()!.text)) && !isOp(")")) {
      andOr()
      count++
      if (isOp(";") || isOp("&")) i++
      skipNewlines()
    }
    if (count === 0) throw new Unparsable("empty compound list")
  }
  const command = () => {
    const t = peek()
    if (t === undefined) throw new Unparsable("unexpected end of file")
    if (t.kind === "op") {
      if (t.text === "(") {
        i++
        compoundList([])
        if (!isOp(")")) throw new Unparsable("expected )")
        i++
        return redirections()
      }
      if (REDIRECTIONS.has(t.text)) return simple()
      throw new Unparsable(`unexpected token ${t.text}`)
    }
    if (t.kind === "newline") throw new Unparsable("unexpected newline")
    const word = t.text
    if (UNSUPPORTED.has(word)) throw new Unparsable(`${word} is not implemented`)
    if (CLOSERS.has(word)) throw new Unparsable(`unexpected token ${word}`)
    if (word === "{") {
      i++
      compoundList(["}"])
      expectWord("}")
      return redirections()
    }
    if (word === "if") {
      i++
      compoundList(["then"])
      expectWord("then")
      compoundList(["elif", "else", "fi"])
      while (isWord("elif")) {
        i++
        compoundList(["then"])
        expectWord("then")
        compoundList(["elif", "else", "fi"])
      }
      if (isWord("else")) {
        i++
        compoundList(["fi"])
      }
      expectWord("fi")
      return redirections()
    }
    if (word === "while" || word === "until") {
      i++
      compoundList(["do"])
      return doGroup()
    }
    if (word === "for") {
      i++
      if (isOp("(")) throw new Unparsable("arithmetic for")
      if (peek()?.kind !== "word") throw new Unparsable("for without a name")
      i++
      skipNewlines()
      if (isWord("in")) {
        i++
        while (peek()?.kind === "word") i++
      }
      if (isOp(";")) i++
      skipNewlines()
      return doGroup()
    }
    if (word === "function") {
      i++
      if (peek()?.kind !== "word") throw new Unparsable("function without a name")
      i++
      if (isOp("(")) {
        i++
        if (!isOp(")")) throw new Unparsable("expected )")
        i++
      }
      skipNewlines()
      return command()
    }
    if (word === "!") {
      i++
      return command()
    }
    if (tokens[i + 1]?.kind === "op" && tokens[i + 1]!.text === "(") {
      i += 2
      if (!isOp(")")) throw new Unparsable("unexpected token (")
      i++
      skipNewlines()
      return command()
    }
    return simple()
  }
  const doGroup = () => {
    expectWord("do")
    compoundList(["done"])
    expectWord("done")
    redirections()
  }
  const simple = () => {
    let count = 0
    while (peek() !== undefined) {
      const t = peek()!
      if (t.kind === "word") {
        i++
        count++
      } else if (t.kind === "op" && REDIRECTIONS.has(t.text)) {
        redirections()
        count++
      } else break
    }
    if (count === 0) throw new Unparsable("empty command")
    if (isOp("(")) throw new Unparsable("unexpected token (")
  }
  const pipeline = () => {
    command()
    while (isOp("|") || isOp("|&")) {
      i++
      skipNewlines()
      command()
    }
  }
  const andOr = () => {
    pipeline()
    while (isOp("&&") || isOp("||")) {
      i++
      skipNewlines()
      pipeline()
    }
  }
  const spans: Array<readonly [number, number]> = []
  skipNewlines()
  while (peek() !== undefined) {
    const start = peek()!.start
    for (;;) {
      andOr()
      if (isOp(";") || isOp("&")) {
        i++
        if (peek() === undefined || peek()!.kind === "newline") break
        continue
      }
      break
    }
    if (peek() !== undefined && peek()!.kind !== "newline") throw new Unparsable(`unexpected token ${peek()!.text}`)
    spans.push([start, tokens[i - 1]!.end])
    skipNewlines()
  }
  return spans
}

/**
 * What bashlex makes of a command: its top-level command spans, `"empty"` when it has no command at all (only
 * comments: bashlex's AttributeError), or `"unparsable"`.
 *
 * @since 0.2.0
 */
export const topLevel = (
  command: string
): { readonly spans: Array<readonly [number, number]>; readonly scan: Scan } | "empty" | "unparsable" => {
  try {
    const scanned = scan(command)
    const spans = parse(scanned.tokens)
    return spans.length === 0 ? "empty" : { spans, scan: scanned }
  } catch (error) {
    if (error instanceof Unparsable) return "unparsable"
    throw error
  }
}
