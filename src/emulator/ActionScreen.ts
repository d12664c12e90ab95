/**
 * The terminal the built-in action server's shell writes to, read the way OpenHands reads its tmux pane
 * (`capture-pane -J -pS -` through libtmux): a 1000 × 1000 screen with 10 000 lines of history, wrapped rows joined,
 * each line right-trimmed, trailing empty lines dropped. It understands what a shell and its programs print on a
 * terminal: carriage returns, backspaces, tabs (to the next multiple of 8, blank), the auto-wrap at the last column,
 * and the cursor and erase sequences readline uses; colours and other escape sequences are dropped, as tmux does not
 * capture them.
 *
 * @since 0.2.0
 */

/** The pane's width and height (OpenHands' `new_session(x=1000, y=1000)`). */
export const COLUMNS = 1000
const ROWS = 1000
/** tmux's `history-limit` as OpenHands sets it. */
const HISTORY = 10_000

interface Row {
  cells: Array<string>
  /** The row continues on the next one (an auto-wrap), so the capture joins them. */
  wrapped: boolean
}

/**
 * A terminal screen and its history.
 *
 * @since 0.2.0
 */
export interface Screen {
  rows: Array<Row>
  row: number
  col: number
  /** The cursor sits past the last column: the next character wraps first. */
  pendingWrap: boolean
  /** An escape sequence cut by the end of a chunk, kept for the next one. */
  partial: string
  saved: { row: number; col: number }
}

/**
 * An empty screen.
 *
 * @since 0.2.0
 */
export const makeScreen = (): Screen => ({
  rows: [{ cells: [], wrapped: false }],
  row: 0,
  col: 0,
  pendingWrap: false,
  partial: "",
  saved: { row: 0, col: 0 }
})

const top = (screen: Screen) => Math.max(0, screen.rows.length - ROWS)

const ensureRow = (screen: Screen, row: number) => {
  while (screen.rows.length <= row) screen.rows.push({ cells: [], wrapped: false })
}

/** tmux's `grid_collect_history`: at the limit, the oldest tenth of the history goes at once. */
const trimHistory = (screen: Screen) => {
  if (screen.rows.length - ROWS > HISTORY) {
    const drop = HISTORY / 10
    screen.rows.splice(0, drop)
    screen.row = Math.max(0, screen.row - drop)
    screen.saved.row = Math.max(0, screen.saved.row - drop)
  }
}

const lineFeed = (screen: Screen) => {
  screen.row++
  ensureRow(screen, screen.row)
  trimHistory(screen)
}

const put = (screen: Screen, ch: string) => {
  if (screen.pendingWrap) {
    screen.rows[screen.row]!.wrapped = true
    screen.col = 0
    screen.pendingWrap = false
    lineFeed(screen)
  }
  const cells = screen.rows[screen.row]!.cells
  while (cells.length < screen.col) cells.push(" ")
  cells[screen.col] = ch
  if (screen.col === COLUMNS - 1) screen.pendingWrap = true
  else screen.col++
}

const eraseInLine = (screen: Screen, mode: number) => {
  const cells = screen.rows[screen.row]!.cells
  if (mode === 0) cells.length = Math.min(cells.length, screen.col)
  else if (mode === 1) for (let i = 0; i <= screen.col && i < cells.length; i++) cells[i] = " "
  else cells.length = 0
}

const eraseInDisplay = (screen: Screen, mode: number) => {
  if (mode === 0) {
    eraseInLine(screen, 0)
    screen.rows.length = screen.row + 1
    screen.rows[screen.row]!.wrapped = false
  } else if (mode === 1) {
    for (let r = top(screen); r < screen.row; r++) screen.rows[r] = { cells: [], wrapped: false }
    eraseInLine(screen, 1)
  } else if (mode === 2) {
    for (let r = top(screen); r < screen.rows.length; r++) screen.rows[r] = { cells: [], wrapped: false }
  } else if (mode === 3) {
    const first = top(screen)
    screen.rows.splice(0, first)
    screen.row -= first
    screen.saved.row = Math.max(0, screen.saved.row - first)
  }
}

const moveTo = (screen: Screen, row: number, col: number) => {
  screen.row = Math.max(top(screen), Math.min(row, top(screen) + ROWS - 1))
  ensureRow(screen, screen.row)
  screen.col = Math.max(0, Math.min(col, COLUMNS - 1))
  screen.pendingWrap = false
}

const csi = (screen: Screen, params: string, final: string) => {
  if (params.startsWith("?") || params.startsWith(">") || params.startsWith("=")) return
  const numbers = params.split(";").map((p) => (p === "" ? NaN : Number(p)))
  const n = (i: number, fallback: number) => (Number.isFinite(numbers[i]) ? numbers[i]! : fallback)
  const count = Math.max(1, n(0, 1))
  const cells = () => screen.rows[screen.row]!.cells
  switch (final) {
    case "A":
      return moveTo(screen, screen.row - count, screen.col)
    case "B":
      return moveTo(screen, screen.row + count, screen.col)
    case "C":
      return moveTo(screen, screen.row, screen.col + count)
    case "D":
      return moveTo(screen, screen.row, screen.col - count)
    case "G":
      return moveTo(screen, screen.row, count - 1)
    case "d":
      return moveTo(screen, top(screen) + count - 1, screen.col)
    case "H":
    case "f":
      return moveTo(screen, top(screen) + Math.max(1, n(0, 1)) - 1, Math.max(1, n(1, 1)) - 1)
    case "K":
      return eraseInLine(screen, n(0, 0))
    case "J":
      return eraseInDisplay(screen, n(0, 0))
    case "P":
      cells().splice(screen.col, count)
      return
    case "@":
      if (screen.col < cells().length) cells().splice(screen.col, 0, ...Array<string>(count).fill(" "))
      cells().length = Math.min(cells().length, COLUMNS)
      return
    case "X":
      for (let i = screen.col; i < screen.col + count && i < cells().length; i++) cells()[i] = " "
      return
    default:
      return
  }
}

// ESC [ params final | ESC ] ... (BEL | ESC \) | ESC ( x | ESC x
const ESCAPE = /^\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+-./][\s\S]|([\s\S]))/

// An escape sequence the end of the chunk cut short.
const INCOMPLETE = /^\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[()*+-./])?$/

/**
 * Feeds what the terminal received (decoded text) to the screen.
 *
 * @since 0.2.0
 */
export const feed = (screen: Screen, text: string): void => {
  const data = screen.partial + text
  screen.partial = ""
  let i = 0
  while (i < data.length) {
    const ch = data[i]!
    if (ch === "\x1b") {
      const rest = data.slice(i, i + 256)
      if (i + rest.length === data.length && INCOMPLETE.test(rest)) {
        screen.partial = rest
        return
      }
      const match = ESCAPE.exec(rest)
      if (match === null) {
        if (data.length - i < 256) {
          screen.partial = data.slice(i)
          return
        }
        i++
        continue
      }
      if (match[2] !== undefined) csi(screen, match[1] ?? "", match[2])
      else if (match[3] === "7") screen.saved = { row: screen.row, col: screen.col }
      else if (match[3] === "8") moveTo(screen, screen.saved.row, screen.saved.col)
      i += match[0].length
      continue
    }
    i++
    const code = ch.charCodeAt(0)
    if (ch === "\n" || ch === "\x0b" || ch === "\x0c") {
      screen.pendingWrap = false
      lineFeed(screen)
    } else if (ch === "\r") {
      screen.col = 0
      screen.pendingWrap = false
    } else if (ch === "\b") {
      if (screen.col > 0 && !screen.pendingWrap) screen.col--
      screen.pendingWrap = false
    } else if (ch === "\t") {
      if (!screen.pendingWrap) screen.col = Math.min(COLUMNS - 1, (Math.floor(screen.col / 8) + 1) * 8)
    } else if (code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code < 0xa0)) {
      // A surrogate pair is one cell.
      if (code >= 0xd800 && code < 0xdc00 && i < data.length) {
        put(screen, ch + data[i]!)
        i++
      } else put(screen, ch)
    }
  }
}

/**
 * What libtmux reads of the pane: every line (wrapped rows joined) right-trimmed, trailing empty lines dropped.
 *
 * @since 0.2.0
 */
export const paneContent = (screen: Screen): string => {
  const lines: Array<string> = []
  let current = ""
  for (const row of screen.rows) {
    current += row.cells.join("")
    if (!row.wrapped) {
      lines.push(current.replace(/\s+$/u, ""))
      current = ""
    }
  }
  if (current !== "") lines.push(current.replace(/\s+$/u, ""))
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  return lines.join("\n")
}

/**
 * What OpenHands' `_clear_screen` leaves (C-l, then `clear-history`): the screen cleared, the prompt redrawn at the
 * top and the cursor after it.
 *
 * @since 0.2.0
 */
export const clearToPrompt = (screen: Screen, prompt: string): void => {
  screen.rows = [{ cells: [], wrapped: false }]
  screen.row = 0
  screen.col = 0
  screen.pendingWrap = false
  screen.partial = ""
  feed(screen, prompt.replace(/\r?\n/g, "\r\n"))
}
