/**
 * Python's `difflib.SequenceMatcher` (no junk function, `autojunk` on) and `unified_diff`, line for line, so that the
 * built-in server's edit diffs are the ones openhands-aci's `get_diff` gives.
 *
 * @since 0.2.0
 */

type Opcode = readonly [tag: "replace" | "delete" | "insert" | "equal", i1: number, i2: number, j1: number, j2: number]

const matchingBlocks = (
  a: ReadonlyArray<string>,
  b: ReadonlyArray<string>
): Array<readonly [number, number, number]> => {
  const b2j = new Map<string, Array<number>>()
  b.forEach((line, j) => {
    const list = b2j.get(line)
    if (list === undefined) b2j.set(line, [j])
    else list.push(j)
  })
  if (b.length >= 200) {
    const ntest = Math.floor(b.length / 100) + 1
    for (const [line, indices] of [...b2j]) if (indices.length > ntest) b2j.delete(line)
  }
  const longest = (alo: number, ahi: number, blo: number, bhi: number): readonly [number, number, number] => {
    let besti = alo
    let bestj = blo
    let bestsize = 0
    let j2len = new Map<number, number>()
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>()
      for (const j of b2j.get(a[i]!) ?? []) {
        if (j < blo) continue
        if (j >= bhi) break
        const k = (j2len.get(j - 1) ?? 0) + 1
        next.set(j, k)
        if (k > bestsize) {
          besti = i - k + 1
          bestj = j - k + 1
          bestsize = k
        }
      }
      j2len = next
    }
    // No junk: only the extensions over equal (popular) elements apply.
    while (besti > alo && bestj > blo && a[besti - 1] === b[bestj - 1]) {
      besti--
      bestj--
      bestsize++
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] === b[bestj + bestsize]) bestsize++
    return [besti, bestj, bestsize]
  }
  const queue: Array<readonly [number, number, number, number]> = [[0, a.length, 0, b.length]]
  const blocks: Array<readonly [number, number, number]> = []
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!
    const [i, j, k] = longest(alo, ahi, blo, bhi)
    if (k > 0) {
      blocks.push([i, j, k])
      if (alo < i && blo < j) queue.push([alo, i, blo, j])
      if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi])
    }
  }
  blocks.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2])
  const merged: Array<readonly [number, number, number]> = []
  let [i1, j1, k1] = [0, 0, 0]
  for (const [i2, j2, k2] of blocks) {
    if (i1 + k1 === i2 && j1 + k1 === j2) k1 += k2
    else {
      if (k1 > 0) merged.push([i1, j1, k1])
      ;[i1, j1, k1] = [i2, j2, k2]
    }
  }
  if (k1 > 0) merged.push([i1, j1, k1])
  merged.push([a.length, b.length, 0])
  return merged
}

const opcodes = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): Array<Opcode> => {
  let i = 0
  let j = 0
  const answer: Array<Opcode> = []
  for (const [ai, bj, size] of matchingBlocks(a, b)) {
    const tag = i < ai && j < bj ? "replace" : i < ai ? "delete" : j < bj ? "insert" : undefined
    if (tag !== undefined) answer.push([tag, i, ai, j, bj])
    i = ai + size
    j = bj + size
    if (size > 0) answer.push(["equal", ai, i, bj, j])
  }
  return answer
}

const groupedOpcodes = (a: ReadonlyArray<string>, b: ReadonlyArray<string>, n: number): Array<Array<Opcode>> => {
  const codes = opcodes(a, b)
  if (codes.length === 0) codes.push(["equal", 0, 1, 0, 1])
  const first = codes[0]!
  if (first[0] === "equal") {
    codes[0] = ["equal", Math.max(first[1], first[2] - n), first[2], Math.max(first[3], first[4] - n), first[4]]
  }
  const last = codes[codes.length - 1]!
  if (last[0] === "equal") {
    codes[codes.length - 1] = [
      "equal",
      last[1],
      Math.min(last[2], last[1] + n),
      last[3],
      Math.min(last[4], last[3] + n)
    ]
  }
  const groups: Array<Array<Opcode>> = []
  let group: Array<Opcode> = []
  for (const code of codes) {
    let [tag, i1, i2, j1, j2] = code
    if (tag === "equal" && i2 - i1 > n + n) {
      group.push([tag, i1, Math.min(i2, i1 + n), j1, Math.min(j2, j1 + n)])
      groups.push(group)
      group = []
      i1 = Math.max(i1, i2 - n)
      j1 = Math.max(j1, j2 - n)
    }
    group.push([tag, i1, i2, j1, j2])
  }
  if (group.length > 0 && !(group.length === 1 && group[0]![0] === "equal")) groups.push(group)
  return groups
}

const range = (start: number, stop: number) => {
  const length = stop - start
  if (length === 1) return `${start + 1}`
  return `${length === 0 ? start : start + 1},${length}`
}

/**
 * `difflib.unified_diff(a, b, fromfile, tofile, n=n, lineterm="")` as a list of lines.
 *
 * @since 0.2.0
 */
export const unifiedDiff = (
  a: ReadonlyArray<string>,
  b: ReadonlyArray<string>,
  fromFile: string,
  toFile: string,
  n: number
): Array<string> => {
  const lines: Array<string> = []
  for (const group of groupedOpcodes(a, b, n)) {
    if (lines.length === 0) lines.push(`--- ${fromFile}`, `+++ ${toFile}`)
    const first = group[0]!
    const last = group[group.length - 1]!
    lines.push(`@@ -${range(first[1], last[2])} +${range(first[3], last[4])} @@`)
    for (const [tag, i1, i2, j1, j2] of group) {
      if (tag === "equal") {
        for (const line of a.slice(i1, i2)) lines.push(` ${line}`)
        continue
      }
      if (tag === "replace" || tag === "delete") for (const line of a.slice(i1, i2)) lines.push(`-${line}`)
      if (tag === "replace" || tag === "insert") for (const line of b.slice(j1, j2)) lines.push(`+${line}`)
    }
  }
  return lines
}

/**
 * openhands-aci's `get_diff`: a zero-context unified diff of the two texts' lines, each line right-trimmed.
 *
 * @since 0.2.0
 */
export const getDiff = (oldContents: string, newContents: string, path: string): string =>
  unifiedDiff(oldContents.split("\n"), newContents.split("\n"), path, path, 0)
    .map((line) => line.replace(/\s+$/u, ""))
    .join("\n")
