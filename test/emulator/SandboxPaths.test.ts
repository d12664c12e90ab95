import { assert, describe, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import { afterAll } from "vitest"
import { resolveInside, SymlinkLoop, toSandboxPath } from "../../src/emulator/SandboxPaths.js"

const root = mkdtempSync(NodePath.join(tmpdir(), "effect-daytona-paths-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
mkdirSync(NodePath.join(root, "workspace/sub"), { recursive: true })
symlinkSync("/etc/passwd", NodePath.join(root, "workspace/abs"))
symlinkSync("../../../../../../etc", NodePath.join(root, "workspace/up"))
symlinkSync("sub", NodePath.join(root, "workspace/rel"))
symlinkSync("loop", NodePath.join(root, "workspace/loop"))

describe("sandbox paths", () => {
  it("absolute, relative and dot-dot paths stay under the sandbox root", () => {
    assert.strictEqual(resolveInside(root, "/workspace/a.txt"), NodePath.join(root, "workspace/a.txt"))
    assert.strictEqual(resolveInside(root, "a.txt", "/workspace/sub"), NodePath.join(root, "workspace/sub/a.txt"))
    assert.strictEqual(resolveInside(root, "../../../../etc/passwd", "/workspace"), NodePath.join(root, "etc/passwd"))
    assert.strictEqual(resolveInside(root, "/"), root)
  })

  it("symbolic links are followed inside the sandbox, never out of it", () => {
    assert.strictEqual(resolveInside(root, "/workspace/abs"), NodePath.join(root, "etc/passwd"))
    assert.strictEqual(resolveInside(root, "/workspace/up/shadow"), NodePath.join(root, "etc/shadow"))
    assert.strictEqual(resolveInside(root, "/workspace/rel/x"), NodePath.join(root, "workspace/sub/x"))
    assert.throws(() => resolveInside(root, "/workspace/loop/x"), SymlinkLoop)
  })

  it("maps a host path back to the sandbox's view", () => {
    assert.strictEqual(toSandboxPath(root, NodePath.join(root, "workspace/a")), "/workspace/a")
    assert.strictEqual(toSandboxPath(root, root), "/")
  })
})
