/**
 * Paths of a sandbox resolved on the host the way the sandbox itself would resolve them: the sandbox folder is the
 * filesystem root, `..` stops at it, and symbolic links are followed *inside* it (an absolute link target starts at
 * the sandbox root, as under `chroot`). What the emulator reads or writes for a sandbox (its toolbox's file routes,
 * its built-in action server) goes through here, so a sandbox path never reaches a host file outside its folder.
 *
 * @since 0.2.0
 */
import { lstatSync, readlinkSync } from "node:fs"
import * as NodePath from "node:path"

/** Links followed in one resolution before giving up (Linux's own limit is 40). */
const MAX_LINKS = 40

/**
 * A sandbox path that cannot be resolved: a loop of symbolic links.
 *
 * @since 0.2.0
 */
export class SymlinkLoop extends Error {
  constructor(readonly path: string) {
    super(`Too many levels of symbolic links: ${path}`)
    this.name = "SymlinkLoop"
  }
}

/**
 * The host path of `path` as the sandbox sees it (relative paths from `cwd`, a sandbox path). Every existing
 * component that is a symbolic link is replaced by its target, resolved inside the sandbox; missing components are
 * kept as they are (so the result can be created). The result is always `root` or inside it.
 *
 * @since 0.2.0
 */
export const resolveInside = (root: string, path: string, cwd = "/"): string => {
  const hostRoot = NodePath.resolve(root)
  let pending = NodePath.posix
    .resolve("/", cwd, path)
    .split("/")
    .filter((part) => part !== "")
  const resolved: Array<string> = []
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === ".") continue
    if (part === "..") {
      resolved.pop()
      continue
    }
    const candidate = NodePath.join(hostRoot, ...resolved, part)
    let target: string | undefined
    try {
      target = lstatSync(candidate).isSymbolicLink() ? readlinkSync(candidate) : undefined
    } catch {
      target = undefined
    }
    if (target === undefined) {
      resolved.push(part)
      continue
    }
    if (++links > MAX_LINKS) throw new SymlinkLoop(path)
    const rest = target.split("/").filter((segment) => segment !== "")
    if (target.startsWith("/")) resolved.length = 0
    pending = [...rest, ...pending]
  }
  return NodePath.join(hostRoot, ...resolved)
}

/**
 * The sandbox path of a host path inside the sandbox folder (`<root>/workspace/a` → `/workspace/a`).
 *
 * @since 0.2.0
 */
export const toSandboxPath = (root: string, hostPath: string): string => {
  const relative = NodePath.relative(NodePath.resolve(root), NodePath.resolve(hostPath))
  return relative === "" ? "/" : `/${relative.split(NodePath.sep).join("/")}`
}
