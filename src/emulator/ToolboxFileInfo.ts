/**
 * File metadata and name patterns exactly as the daemon (a Go program) writes and reads them: `FileInfo` with Go's
 * `FileMode.String()` (`drwxr-xr-x`), `time.String()` (`2026-01-02 03:04:05.123 +0000 UTC`) and RFC 3339 times,
 * owners as the sandbox sees them (numeric, as the daemon reports them: the emulator's own files belong to the
 * sandbox user, uid 1000), and `filepath.Match` name patterns.
 *
 * @since 0.2.0
 */
import type { BigIntStats } from "node:fs"
import { constants, statSync } from "node:fs"
import { SANDBOX_UID } from "./Isolation.js"

/**
 * The daemon's `FileInfo` (`path` only where the newer daemon reports it: listings).
 *
 * @since 0.2.0
 */
export interface FileInfo {
  readonly name: string
  readonly size: number
  readonly mode: string
  readonly modTime: string
  readonly modifiedAt: string
  readonly isDir: boolean
  readonly owner: string
  readonly group: string
  readonly permissions: string
  readonly path?: string
}

/** The uid that files of the sandbox folder have inside it: the emulator's own maps to the sandbox user. */
const sandboxId = (hostId: bigint, own: number | undefined): string =>
  own !== undefined && Number(hostId) === own ? String(SANDBOX_UID) : "65534"

/**
 * Go's `FileMode.String()` for a stat result.
 *
 * @since 0.2.0
 */
export const goMode = (stat: BigIntStats): string => {
  const mode = Number(stat.mode)
  const type = mode & constants.S_IFMT
  let letters = ""
  if (type === constants.S_IFDIR) letters += "d"
  if (type === constants.S_IFLNK) letters += "L"
  if (type === constants.S_IFBLK || type === constants.S_IFCHR) letters += "D"
  if (type === constants.S_IFIFO) letters += "p"
  if (type === constants.S_IFSOCK) letters += "S"
  if (mode & 0o4000) letters += "u"
  if (mode & 0o2000) letters += "g"
  if (type === constants.S_IFCHR) letters += "c"
  if (mode & 0o1000) letters += "t"
  const rwx = "rwxrwxrwx"
  let perm = ""
  for (let i = 0; i < 9; i++) perm += mode & (1 << (8 - i)) ? rwx[i] : "-"
  return `${letters === "" ? "-" : letters}${perm}`
}

const pad = (value: number, width = 2) => String(value).padStart(width, "0")

const fraction = (nanos: bigint): string => {
  if (nanos === 0n) return ""
  return `.${String(nanos).padStart(9, "0").replace(/0+$/, "")}`
}

/** The date and time parts of a nanosecond timestamp, in UTC (a sandbox's time zone). */
const parts = (ns: bigint) => {
  const millis = ns / 1_000_000n
  const date = new Date(Number(millis))
  const nanos = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n
  const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  return { day, time, fraction: fraction(nanos) }
}

/**
 * Go's `time.Time.String()` of a UTC time.
 *
 * @since 0.2.0
 */
export const goTimeString = (ns: bigint): string => {
  const { day, fraction, time } = parts(ns)
  return `${day} ${time}${fraction} +0000 UTC`
}

/**
 * Go's JSON encoding of a UTC time (RFC 3339 with nanoseconds).
 *
 * @since 0.2.0
 */
export const goTimeJson = (ns: bigint): string => {
  const { day, fraction, time } = parts(ns)
  return `${day}T${time}${fraction}Z`
}

/**
 * The `FileInfo` of a host path (symbolic links followed: resolve the path inside the sandbox first). `name` is the
 * last component of the path as requested.
 *
 * @since 0.2.0
 */
export const fileInfo = (hostPath: string, name: string, path?: string): FileInfo => {
  const stat = statSync(hostPath, { bigint: true })
  return {
    name,
    size: Number(stat.size),
    mode: goMode(stat),
    modTime: goTimeString(stat.mtimeNs),
    modifiedAt: goTimeJson(stat.mtimeNs),
    isDir: stat.isDirectory(),
    owner: sandboxId(stat.uid, process.getuid?.()),
    group: sandboxId(stat.gid, process.getgid?.()),
    permissions: (Number(stat.mode) & 0o777).toString(8).padStart(4, "0"),
    ...(path === undefined ? {} : { path })
  }
}

/**
 * Go's `filepath.Match` of one name: `*`, `?`, `[…]` (ranges, `^` to negate) and `\` escapes; a malformed pattern
 * matches nothing.
 *
 * @since 0.2.0
 */
export const globMatch = (pattern: string, name: string): boolean => {
  let source = "^"
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!
    if (char === "*") source += "[^/]*"
    else if (char === "?") source += "[^/]"
    else if (char === "\\") {
      const next = pattern[++i]
      if (next === undefined) return false
      source += next.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
    } else if (char === "[") {
      const end = pattern.indexOf("]", i + 2)
      if (end < 0) return false
      let body = pattern.slice(i + 1, end)
      const negate = body.startsWith("^")
      if (negate) body = body.slice(1)
      if (body === "") return false
      source += `[${negate ? "^" : ""}${body.replace(/[\\\]]/g, "\\$&")}]`
      i = end
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
  }
  try {
    return new RegExp(`${source}$`, "s").test(name)
  } catch {
    return false
  }
}
