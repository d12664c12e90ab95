/**
 * Packaging: `npm pack` gives a tarball that installs into an empty folder, where
 * `npx effect-daytona --help` works, and the library imports from the package root.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { promisify } from "node:util"
import { afterAll } from "vitest"
import { cleanEnv, requireBuild, ROOT } from "./support.js"

const run = promisify(execFile)
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
const npx = process.platform === "win32" ? "npx.cmd" : "npx"

const work = mkdtempSync(Path.join(tmpdir(), "effect-daytona-pack-"))

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe("packaging", () => {
  it(
    "the packed tarball installs into an empty folder and `npx effect-daytona --help` works",
    { timeout: 240_000 },
    async () => {
      requireBuild()
      // Without the npm_* variables of an enclosing `npm test`, which would steer the nested npm.
      const env = Object.fromEntries(
        Object.entries(cleanEnv()).filter(([key]) => !key.toLowerCase().startsWith("npm_"))
      ) as NodeJS.ProcessEnv
      Object.assign(env, { npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" })
      await run(npm, ["pack", "--pack-destination", work], { cwd: ROOT, env })
      const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"))
      assert.isDefined(tarball)

      const app = Path.join(work, "app")
      mkdirSync(app)
      writeFileSync(Path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }))
      // The npm cache serves what it holds; anything missing comes from the registry.
      await run(npm, ["install", "--prefer-offline", "--no-save", "--ignore-scripts", Path.join(work, tarball!)], {
        cwd: app,
        env,
        timeout: 200_000
      })

      const help = await run(npx, ["--no-install", "effect-daytona", "--help"], { cwd: app, env })
      assert.include(help.stdout, "effect-daytona")
      for (const command of ["connect", "exec", "list", "reap", "doctor", "emulator"])
        assert.include(help.stdout, command)

      // The library's names, as the README imports them, from the installed package.
      const names = ["DaytonaConfig", "DaytonaRuntime", "Emulator", "EmulatorControl", "Logging", "Retry"]
      const script = `const m = await import("effect-daytona"); console.log(${JSON.stringify(names)}.filter((n) => n in m).join(","))`
      const library = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app, env })
      assert.strictEqual(library.stdout.trim(), names.join(","))
    }
  )
})
