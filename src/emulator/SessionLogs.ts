/**
 * The toolbox daemon's session-command log format and how it answers each SDK version.
 *
 * A command's log is one byte stream: every line of its stdout is preceded by the marker `01 01 01`, every line of
 * its stderr by `02 02 02` (input sent to the command is logged as stdout). What a client gets depends on the
 * `X-Daytona-SDK-Version` it sends (or `X-Daytona-SDK-Version~<v>` among its WebSocket subprotocols):
 *
 * - no version and no `X-Daytona-Split-Output: true`, or a version before 0.27: the *combined* output, markers removed;
 * - 0.27 up to (not including) 0.167: the raw log with its markers, as plain text (the SDK splits it itself);
 * - 0.167 and later (and `dev` builds): JSON with `output` (the raw log, markers included), `stdout` and `stderr`.
 *
 * @since 0.2.0
 */

/** The marker before each stdout line. */
export const STDOUT_MARKER = new Uint8Array([1, 1, 1])
/** The marker before each stderr line. */
export const STDERR_MARKER = new Uint8Array([2, 2, 2])

/**
 * How the daemon answers a caller.
 *
 * @since 0.2.0
 */
export interface LogFormat {
  /** Markers removed, one stream: the oldest SDKs and clients that send no version. */
  readonly combined: boolean
  /** The server does not split stdout from stderr (the SDK does, or nobody needs it). */
  readonly skipDemux: boolean
}

interface Semver {
  readonly core: readonly [number, number, number]
  readonly pre: ReadonlyArray<string>
}

const parseSemver = (input: string): Semver | undefined => {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-?([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(input.trim())
  if (match === null) return undefined
  return {
    core: [Number(match[1]), Number(match[2]), Number(match[3])],
    pre: match[4] === undefined ? [] : match[4].split(".")
  }
}

const comparePre = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
  if (a.length === 0 || b.length === 0) return b.length - a.length
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    const xn = /^\d+$/.test(x)
    const yn = /^\d+$/.test(y)
    if (xn && yn && Number(x) !== Number(y)) return Number(x) < Number(y) ? -1 : 1
    if (xn !== yn) return xn ? -1 : 1
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/**
 * Compares two semantic versions (-1, 0, 1), or undefined when one does not parse.
 *
 * @since 0.2.0
 */
export const compareVersions = (a: string, b: string): number | undefined => {
  const x = parseSemver(a)
  const y = parseSemver(b)
  if (x === undefined || y === undefined) return undefined
  for (let i = 0; i < 3; i++) {
    if (x.core[i] !== y.core[i]) return x.core[i]! < y.core[i]! ? -1 : 1
  }
  return Math.sign(comparePre(x.pre, y.pre))
}

/**
 * The SDK version a request announces: the `X-Daytona-SDK-Version` header, else a `X-Daytona-SDK-Version~<v>`
 * WebSocket subprotocol, else `""`.
 *
 * @since 0.2.0
 */
export const sdkVersionOf = (headers: Readonly<Record<string, string | undefined>>): string => {
  const header = headers["x-daytona-sdk-version"]
  if (header !== undefined && header !== "") return header
  for (const protocol of (headers["sec-websocket-protocol"] ?? "").split(",")) {
    const trimmed = protocol.trim()
    if (trimmed.startsWith("X-Daytona-SDK-Version~")) return trimmed.slice("X-Daytona-SDK-Version~".length)
  }
  return ""
}

/**
 * How the daemon answers a request with these headers.
 *
 * @since 0.2.0
 */
export const logFormatOf = (headers: Readonly<Record<string, string | undefined>>): LogFormat => {
  const version = sdkVersionOf(headers)
  const dev = version.includes("dev")
  const beforeSplit = compareVersions(version, "0.27.0-0")
  const combined =
    (beforeSplit !== undefined && beforeSplit < 0 && !dev) ||
    (version === "" && headers["x-daytona-split-output"] !== "true")
  const beforeServerDemux = compareVersions(version, "0.167.0-0")
  const skipDemux = version === "" ? true : dev ? false : beforeServerDemux === undefined || beforeServerDemux < 0
  return { combined, skipDemux }
}

const isMarkerAt = (data: Uint8Array, at: number): 0 | 1 | 2 => {
  if (at + 3 > data.length) return 0
  const byte = data[at]
  if ((byte === 1 || byte === 2) && data[at + 1] === byte && data[at + 2] === byte) return byte
  return 0
}

/**
 * Removes every marker (the combined output).
 *
 * @since 0.2.0
 */
export const stripMarkers = (data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(data.length)
  let length = 0
  for (let i = 0; i < data.length;) {
    if (isMarkerAt(data, i) !== 0) {
      i += 3
      continue
    }
    out[length++] = data[i++]!
  }
  return out.subarray(0, length)
}

/**
 * Splits a log into stdout and stderr (bytes before the first marker belong to neither).
 *
 * @since 0.2.0
 */
export const demux = (data: Uint8Array): { readonly stdout: Uint8Array; readonly stderr: Uint8Array } => {
  const stdout: Array<number> = []
  const stderr: Array<number> = []
  let current: Array<number> | undefined
  for (let i = 0; i < data.length;) {
    const marker = isMarkerAt(data, i)
    if (marker !== 0) {
      current = marker === 1 ? stdout : stderr
      i += 3
      continue
    }
    current?.push(data[i]!)
    i++
  }
  return { stdout: Uint8Array.from(stdout), stderr: Uint8Array.from(stderr) }
}

/**
 * A streaming marker remover: holds back trailing bytes that may start a marker split across chunks.
 *
 * @since 0.2.0
 */
export const markerStripper = () => {
  let pending = new Uint8Array(0)
  return {
    push: (chunk: Uint8Array): Uint8Array => {
      const data = new Uint8Array(pending.length + chunk.length)
      data.set(pending)
      data.set(chunk, pending.length)
      let keep = 0
      for (let n = Math.min(2, data.length); n > 0; n--) {
        const tail = data.subarray(data.length - n)
        if (tail.every((byte) => byte === tail[0]) && (tail[0] === 1 || tail[0] === 2)) {
          keep = n
          break
        }
      }
      pending = data.slice(data.length - keep)
      return stripMarkers(data.subarray(0, data.length - keep))
    },
    flush: (): Uint8Array => {
      const rest = pending
      pending = new Uint8Array(0)
      return rest
    }
  }
}

/**
 * Text appended to a log as the daemon's line labelers would write it: the stream's marker before each line.
 *
 * @since 0.2.0
 */
export const labelled = (stream: "stdout" | "stderr", text: string): string => {
  if (text === "") return ""
  const marker = stream === "stdout" ? "\u0001\u0001\u0001" : "\u0002\u0002\u0002"
  const lines = text.split("\n")
  const last = lines.pop()!
  return lines.map((line) => `${marker}${line}\n`).join("") + (last === "" ? "" : `${marker}${last}`)
}

const decoder = new TextDecoder()

/**
 * Text of bytes (invalid UTF-8 replaced, as Go's JSON encoder does).
 *
 * @since 0.2.0
 */
export const text = (data: Uint8Array): string => decoder.decode(data)
