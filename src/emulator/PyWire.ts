/**
 * Python's side of the action execution server's wire, for the built-in server to answer as the real one does:
 * `json.loads` (its values, its error messages and positions), `repr` of those values (the real server puts Python
 * reprs into error details), and the FastAPI/pydantic validation errors the real server answers 422 with.
 *
 * @since 0.2.0
 */

/**
 * A Python `float` (JSON `1.0`, `1e3`): kept apart from an `int` so that its repr is `1.0`, as Python's.
 *
 * @since 0.2.0
 */
export class PyFloat {
  constructor(readonly value: number) {}
}

/**
 * A Python tuple (only ever built here, for pydantic's `loc`).
 *
 * @since 0.2.0
 */
export class PyTuple {
  constructor(readonly items: ReadonlyArray<unknown>) {}
}

/**
 * A Python `bytes` value.
 *
 * @since 0.2.0
 */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/**
 * A value whose repr is given as is (an enum member such as `<ActionSecurityRisk.UNKNOWN: -1>`).
 *
 * @since 0.2.0
 */
export class PyRaw {
  constructor(readonly repr: string) {}
}

/**
 * A Python `dict`: insertion-ordered string keys (a JS object would put integer-like keys first).
 *
 * @since 0.2.0
 */
export class PyDict {
  readonly map: Map<string, unknown>
  constructor(entries: Iterable<readonly [string, unknown]> = []) {
    this.map = new Map(entries)
  }
  get(key: string): unknown {
    return this.map.get(key)
  }
  has(key: string): boolean {
    return this.map.has(key)
  }
  copy(): PyDict {
    return new PyDict(this.map)
  }
}

/**
 * A JSON document Python's `json.loads` refuses: its message (`e.msg`) and position (`e.pos`).
 *
 * @since 0.2.0
 */
export class PyJsonError {
  constructor(
    readonly msg: string,
    readonly pos: number
  ) {}
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"])
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }

class Stop {
  constructor(readonly pos: number) {}
}

/**
 * `json.loads(text)` as Python 3.11 does it: objects are {@link PyDict}, numbers with a fraction or an exponent
 * {@link PyFloat}, `NaN`/`Infinity` accepted; a refused document is a {@link PyJsonError} with Python's message.
 *
 * @since 0.2.0
 */
export const loadsJson = (text: string): { readonly value: unknown } | PyJsonError => {
  const s = text
  const ws = (i: number) => {
    while (i < s.length && WHITESPACE.has(s[i]!)) i++
    return i
  }
  const string = (start: number): [string, number] => {
    let out = ""
    let i = start + 1
    for (;;) {
      if (i >= s.length) throw new PyJsonError("Unterminated string starting at", start)
      const c = s[i]!
      if (c === '"') return [out, i + 1]
      if (c < " ") throw new PyJsonError("Invalid control character at", i)
      if (c !== "\\") {
        out += c
        i++
        continue
      }
      const e = s[i + 1]
      if (e === undefined) throw new PyJsonError("Unterminated string starting at", start)
      if (e !== "u") {
        const decoded = ESCAPES[e]
        if (decoded === undefined) throw new PyJsonError("Invalid \\escape", i)
        out += decoded
        i += 2
        continue
      }
      const hex = s.slice(i + 2, i + 6)
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PyJsonError("Invalid \\uXXXX escape", i + 1)
      out += String.fromCharCode(parseInt(hex, 16))
      i += 6
    }
  }
  const value = (i: number): [unknown, number] => {
    if (i >= s.length) throw new Stop(i)
    const c = s[i]!
    if (c === '"') return string(i)
    if (c === "{") return object(i + 1)
    if (c === "[") return array(i + 1)
    for (const [word, v] of [
      ["null", null],
      ["true", true],
      ["false", false],
      ["NaN", new PyFloat(NaN)],
      ["Infinity", new PyFloat(Infinity)],
      ["-Infinity", new PyFloat(-Infinity)]
    ] as const) {
      if (s.startsWith(word, i)) return [v, i + word.length]
    }
    NUMBER.lastIndex = i
    const match = NUMBER.exec(s)
    if (match === null) throw new Stop(i)
    const literal = match[0]
    const end = i + literal.length
    if (match[1] !== undefined || match[2] !== undefined) return [new PyFloat(Number(literal)), end]
    const n = Number(literal)
    return [Number.isSafeInteger(n) ? n : BigInt(literal), end]
  }
  const object = (start: number): [PyDict, number] => {
    const dict = new PyDict()
    let i = ws(start)
    if (s[i] === "}") return [dict, i + 1]
    for (;;) {
      if (s[i] !== '"') throw new PyJsonError("Expecting property name enclosed in double quotes", i)
      const [key, afterKey] = string(i)
      i = ws(afterKey)
      if (s[i] !== ":") throw new PyJsonError("Expecting ':' delimiter", i)
      const [v, afterValue] = value(ws(i + 1))
      dict.map.set(key, v)
      i = ws(afterValue)
      if (s[i] === "}") return [dict, i + 1]
      if (s[i] !== ",") throw new PyJsonError("Expecting ',' delimiter", i)
      i = ws(i + 1)
    }
  }
  const array = (start: number): [Array<unknown>, number] => {
    const items: Array<unknown> = []
    let i = ws(start)
    if (s[i] === "]") return [items, i + 1]
    for (;;) {
      const [v, after] = value(i)
      items.push(v)
      i = ws(after)
      if (s[i] === "]") return [items, i + 1]
      if (s[i] !== ",") throw new PyJsonError("Expecting ',' delimiter", i)
      i = ws(i + 1)
    }
  }
  try {
    const [v, end] = value(ws(0))
    const rest = ws(end)
    if (rest !== s.length) return new PyJsonError("Extra data", rest)
    return { value: v }
  } catch (error) {
    if (error instanceof Stop) return new PyJsonError("Expecting value", error.pos)
    if (error instanceof PyJsonError) return error
    throw error
  }
}

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0")

/**
 * Python's `repr` of a `str`.
 *
 * @since 0.2.0
 */
export const reprStr = (text: string): string => {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    if (ch === quote || ch === "\\") out += `\\${ch}`
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (ch === " " || (code >= 0x20 && code < 0x7f)) out += ch
    else if (code < 0xa0 || NOT_PRINTABLE.test(ch)) {
      out += code < 0x100 ? `\\x${hex(code, 2)}` : code < 0x10000 ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`
    } else out += ch
  }
  return out + quote
}

const reprBytes = (bytes: Uint8Array): string => {
  const has = (c: number) => bytes.includes(c)
  const quote = has(0x27) && !has(0x22) ? '"' : "'"
  let out = `b${quote}`
  for (const b of bytes) {
    const ch = String.fromCharCode(b)
    if (ch === quote || ch === "\\") out += `\\${ch}`
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (b >= 0x20 && b < 0x7f) out += ch
    else out += `\\x${hex(b, 2)}`
  }
  return out + quote
}

/**
 * Python's `repr` of a `float`: the shortest round-trip digits, fixed notation from 1e-4 up to 1e16, else
 * scientific with a two-digit exponent at least.
 *
 * @since 0.2.0
 */
export const reprFloat = (x: number): string => {
  if (Number.isNaN(x)) return "nan"
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf"
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0"
  const [mantissa, exponentText] = x.toExponential().split("e")
  const exponent = Number(exponentText)
  const negative = mantissa!.startsWith("-")
  const digits = mantissa!.replace("-", "").replace(".", "")
  const sign = negative ? "-" : ""
  if (exponent < -4 || exponent >= 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    const e = Math.abs(exponent).toString().padStart(2, "0")
    return `${sign}${body}e${exponent < 0 ? "-" : "+"}${e}`
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0")
  const fraction = digits.slice(exponent + 1)
  return `${sign}${whole}.${fraction === "" ? "0" : fraction}`
}

/**
 * Python's `repr` of a value as {@link loadsJson} gives it (plus tuples, bytes and raw reprs).
 *
 * @since 0.2.0
 */
export const repr = (value: unknown): string => {
  if (value === null || value === undefined) return "None"
  if (value === true) return "True"
  if (value === false) return "False"
  if (typeof value === "string") return reprStr(value)
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : reprFloat(value)
  if (typeof value === "bigint") return value.toString()
  if (value instanceof PyFloat) return reprFloat(value.value)
  if (value instanceof PyRaw) return value.repr
  if (value instanceof PyBytes) return reprBytes(value.bytes)
  if (value instanceof PyTuple) {
    const items = value.items.map(repr)
    return `(${items.join(", ")}${items.length === 1 ? "," : ""})`
  }
  if (value instanceof PyDict) {
    return `{${[...value.map].map(([k, v]) => `${reprStr(k)}: ${repr(v)}`).join(", ")}}`
  }
  if (Array.isArray(value)) return `[${value.map(repr).join(", ")}]`
  return reprStr(String(value))
}

/**
 * Python's `str` of a value: the string itself for a `str`, else its repr.
 *
 * @since 0.2.0
 */
export const str = (value: unknown): string => (typeof value === "string" ? value : repr(value))

/**
 * The name of a value's Python type, as error messages print it (`'int' object has no attribute …`).
 *
 * @since 0.2.0
 */
export const typeName = (value: unknown): string => {
  if (value === null || value === undefined) return "NoneType"
  if (typeof value === "boolean") return "bool"
  if (typeof value === "string") return "str"
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float"
  if (typeof value === "bigint") return "int"
  if (value instanceof PyFloat) return "float"
  if (value instanceof PyDict) return "dict"
  if (Array.isArray(value)) return "list"
  return "object"
}

/**
 * A JSON value as plain JS (dicts become objects; floats numbers): what the handlers read fields from.
 *
 * @since 0.2.0
 */
export const toJs = (value: unknown): unknown => {
  if (value instanceof PyFloat) return value.value
  if (typeof value === "bigint") return Number(value)
  if (value instanceof PyDict) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of value.map) out[k] = toJs(v)
    return out
  }
  if (Array.isArray(value)) return value.map(toJs)
  return value
}

/**
 * Python's `float(value)` for a JSON value: its number, or the `ValueError`/`TypeError` text Python raises.
 *
 * @since 0.2.0
 */
export const toFloat = (value: unknown): { readonly value: number } | { readonly error: string } => {
  if (typeof value === "number") return { value }
  if (typeof value === "bigint") return { value: Number(value) }
  if (typeof value === "boolean") return { value: value ? 1 : 0 }
  if (value instanceof PyFloat) return { value: value.value }
  if (typeof value === "string") {
    const trimmed = value.trim().replace(/_/g, "")
    const lower = trimmed.toLowerCase()
    if (/^[+-]?(inf|infinity)$/.test(lower)) return { value: lower.startsWith("-") ? -Infinity : Infinity }
    if (/^[+-]?nan$/.test(lower)) return { value: NaN }
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed)) return { value: Number(trimmed) }
    return { error: `could not convert string to float: ${reprStr(value)}` }
  }
  return { error: `float() argument must be a string or a real number, not '${typeName(value)}'` }
}

// ---------------------------------------------------------------------------------------------------------------
// FastAPI's request validation errors

/**
 * One pydantic error as FastAPI's `exc.errors()` lists it.
 *
 * @since 0.2.0
 */
export const validationError = (
  type: string,
  loc: ReadonlyArray<string | number>,
  msg: string,
  input: unknown,
  ctx?: PyDict
): PyDict =>
  new PyDict([
    ["type", type],
    ["loc", new PyTuple(loc)],
    ["msg", msg],
    ["input", input],
    ...(ctx === undefined ? [] : ([["ctx", ctx]] as const))
  ])

/**
 * The real server's 422 body for a list of validation errors.
 *
 * @since 0.2.0
 */
export const unprocessable = (errors: ReadonlyArray<PyDict>) => ({
  detail: "Invalid request parameters",
  errors: repr(errors)
})

/**
 * pydantic's lax `bool` of a query parameter: the value, or undefined when it is not one.
 *
 * @since 0.2.0
 */
export const parseBool = (text: string): boolean | undefined => {
  const lower = text.toLowerCase()
  if (["1", "on", "t", "true", "y", "yes"].includes(lower)) return true
  if (["0", "off", "f", "false", "n", "no"].includes(lower)) return false
  return undefined
}
