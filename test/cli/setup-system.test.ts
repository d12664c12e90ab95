/**
 * `scripts/setup-system.sh` (run before `npm start` and `npm test`) with stand-ins on `PATH` for `id`, `apt-get` and
 * the programs it looks for: silent when everything is there; as root with apt-get it installs what is missing; else
 * one line saying what to install. It never fails its caller.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { ROOT } from "./support.js"

const SCRIPT = Path.join(ROOT, "scripts/setup-system.sh")
const folders: Array<string> = []
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })))

/** Runs the script with a `PATH` of stand-ins only: `uid` for `id -u`, `present` programs, an `apt-get` that exits `aptStatus`. */
const run = (options: {
  readonly uid: number
  readonly present: ReadonlyArray<string>
  readonly aptStatus?: number
}) => {
  const bin = mkdtempSync(Path.join(tmpdir(), "effect-daytona-setup-"))
  folders.push(bin)
  const log = Path.join(bin, "apt-get.log")
  const stub = (name: string, body: string) => {
    writeFileSync(Path.join(bin, name), `#!/bin/sh\n${body}\n`)
    chmodSync(Path.join(bin, name), 0o755)
  }
  stub("id", `echo ${options.uid}`)
  if (options.aptStatus !== undefined) stub("apt-get", `echo "$*" >> ${log}\nexit ${options.aptStatus}`)
  for (const program of options.present) stub(program, "exit 0")
  const result = spawnSync("/bin/sh", [SCRIPT], { env: { PATH: bin }, encoding: "utf8" })
  return {
    status: result.status,
    stderr: result.stderr,
    stdout: result.stdout,
    apt: existsSync(log) ? readFileSync(log, "utf8") : ""
  }
}

describe("scripts/setup-system.sh", () => {
  it("does nothing and says nothing when bwrap, ssh and tmux are there", () => {
    const result = run({ uid: 0, present: ["bwrap", "ssh", "tmux"], aptStatus: 0 })
    assert.deepStrictEqual(result, { status: 0, stderr: "", stdout: "", apt: "" })
  })

  it("as root with apt-get, installs what is missing", () => {
    const result = run({ uid: 0, present: ["tmux"], aptStatus: 0 })
    assert.strictEqual(result.status, 0)
    assert.strictEqual(result.stderr, "effect-daytona: installing bubblewrap openssh-client with apt-get\n")
    assert.strictEqual(result.apt, "update -qq\ninstall -y -qq --no-install-recommends bubblewrap openssh-client\n")
  })

  it("when apt-get fails, says so in one line and still exits 0", () => {
    const result = run({ uid: 0, present: ["ssh", "tmux"], aptStatus: 100 })
    assert.strictEqual(result.status, 0)
    assert.match(
      result.stderr,
      /^effect-daytona: installing bubblewrap with apt-get\neffect-daytona: apt-get could not install bubblewrap: .*--unsafe-host-processes\)\n$/
    )
  })

  it("not root (or no apt-get): one line saying what to install, nothing installed", () => {
    for (const options of [
      { uid: 1000, present: [], aptStatus: 0 },
      { uid: 0, present: [] }
    ]) {
      const result = run(options)
      assert.strictEqual(result.status, 0)
      assert.strictEqual(result.apt, "")
      assert.strictEqual(
        result.stderr,
        "effect-daytona: missing bubblewrap openssh-client tmux: install them (Debian/Ubuntu: sudo apt-get install " +
          "bubblewrap openssh-client tmux); without bubblewrap the emulator needs --unsafe-host-processes\n"
      )
    }
  })
})
