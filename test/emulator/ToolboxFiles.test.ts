import {
  DaytonaConflictError,
  DaytonaFileNotFoundError,
  DaytonaNotFoundError,
  DaytonaValidationError
} from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, http, rejection, sdk } from "./support.js"

const scratch = () =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(NodePath.join(tmpdir(), "toolbox-files-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

describe("Emulator toolbox files (real SDK)", () => {
  it.scopedLive("every fs method, answered as the daemon answers", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const fs = sandbox.fs

      assert.strictEqual(yield* call(() => sandbox.getWorkDir()), "/home/daytona")
      assert.strictEqual(yield* call(() => sandbox.getUserHomeDir()), "/home/daytona")

      yield* call(() => fs.createFolder("app/data", "755"))
      yield* call(() => fs.uploadFile(Buffer.from("one needle\ntwo\nneedle three\n"), "app/data/a.txt"))
      yield* call(() => fs.uploadFiles([{ source: Buffer.from("{}"), destination: "/home/daytona/app/b.json" }]))

      const listed = yield* call(() => fs.listFiles("app/data"))
      assert.deepStrictEqual(
        listed.map((file) => file.name),
        ["a.txt"]
      )
      const info = listed[0]!
      assert.deepInclude(info, {
        name: "a.txt",
        size: 28,
        mode: "-rw-r--r--",
        isDir: false,
        owner: "1000",
        group: "1000",
        permissions: "0644",
        path: "/home/daytona/app/data/a.txt"
      })
      assert.match(info.modifiedAt!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
      assert.match(info.modTime, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/)
      const folder = yield* call(() => fs.getFileDetails("app/data"))
      assert.deepInclude(folder, { name: "data", isDir: true, mode: "drwxr-xr-x", permissions: "0755" })
      const tree = yield* call(() => fs.listFiles("app", { depth: 2 }))
      assert.deepStrictEqual(
        tree.map((file) => file.path),
        ["/home/daytona/app/b.json", "/home/daytona/app/data", "/home/daytona/app/data/a.txt"]
      )

      const found = yield* call(() => fs.findFiles("app", "needle"))
      assert.deepStrictEqual(found, [
        { file: "app/data/a.txt", line: 1, content: "one needle" },
        { file: "app/data/a.txt", line: 3, content: "needle three" }
      ])
      assert.deepStrictEqual(yield* call(() => fs.searchFiles("app", "*.txt")), { files: ["app/data/a.txt"] })
      assert.deepStrictEqual(yield* call(() => fs.searchFiles("/home/daytona/app", "[ab].*")), {
        files: ["/home/daytona/app/b.json", "/home/daytona/app/data/a.txt"]
      })

      const replaced = yield* call(() => fs.replaceInFiles(["app/data/a.txt", "app/missing.txt"], "needle", "pin"))
      assert.deepStrictEqual(replaced, [
        { file: "app/data/a.txt", success: true },
        { file: "app/missing.txt", success: false, error: "open app/missing.txt: no such file or directory" }
      ])
      assert.strictEqual((yield* call(() => fs.downloadFile("app/data/a.txt"))).toString(), "one pin\ntwo\npin three\n")

      yield* call(() => fs.moveFiles("app/data/a.txt", "app/c.txt"))
      assert.instanceOf(yield* rejection(() => fs.moveFiles("app/c.txt", "app/b.json")), DaytonaConflictError)
      yield* call(() => fs.setFilePermissions("app/c.txt", { mode: "600" }))
      assert.strictEqual((yield* call(() => fs.getFileDetails("app/c.txt"))).permissions, "0600")
      yield* call(() => fs.setFilePermissions("app/c.txt", { owner: "daytona", group: "1000" }))
      const chown = yield* rejection(() => fs.setFilePermissions("app/c.txt", { owner: "root" }))
      assert.instanceOf(chown, DaytonaValidationError)
      assert.include((chown as Error).message, "operation not permitted")

      const notEmpty = yield* rejection(() => fs.deleteFile("app"))
      assert.instanceOf(notEmpty, DaytonaValidationError)
      assert.strictEqual((notEmpty as Error).message, "cannot delete directory without recursive flag")
      yield* call(() => fs.deleteFile("app/c.txt"))
      yield* call(() => fs.deleteFile("app", true))
      const gone = yield* rejection(() => fs.getFileDetails("app"))
      assert.instanceOf(gone, DaytonaFileNotFoundError)
      assert.strictEqual((gone as DaytonaFileNotFoundError).statusCode, 404)
      const missing = yield* rejection(() => fs.downloadFile("app/nothing.txt"))
      assert.instanceOf(missing, DaytonaNotFoundError)
      assert.strictEqual((missing as Error).message, "file not found: app/nothing.txt")
    })
  )

  it.scopedLive("uploads and downloads are streamed: a 48 MB file both ways", () =>
    Effect.gen(function* () {
      const dir = yield* scratch()
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const local = NodePath.join(dir, "big.bin")
      const content = randomBytes(48 * 1024 * 1024)
      writeFileSync(local, content)
      const digest = createHash("sha256").update(content).digest("hex")

      yield* call(() => sandbox.fs.uploadFile(local, "big/big.bin"))
      const info = yield* call(() => sandbox.fs.getFileDetails("big/big.bin"))
      assert.strictEqual(info.size, content.length)
      const back = NodePath.join(dir, "back.bin")
      yield* call(() => sandbox.fs.downloadFile("big/big.bin", back))
      assert.strictEqual(statSync(back).size, content.length)
      assert.strictEqual(createHash("sha256").update(readFileSync(back)).digest("hex"), digest)
    })
  )

  it.scopedLive("paths never leave the sandbox: .., absolute paths and symbolic links resolve inside it", () =>
    Effect.gen(function* () {
      const dataDir = yield* scratch()
      const control = yield* Emulator.make({ dataDir })
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const root = NodePath.join(dataDir, "sandboxes", sandbox.id)

      yield* call(() => sandbox.fs.uploadFile(Buffer.from("up"), "../../../../escape.txt"))
      assert.strictEqual(readFileSync(NodePath.join(root, "escape.txt"), "utf8"), "up")
      assert.isFalse(existsSync(NodePath.join(dataDir, "escape.txt")))
      yield* call(() => sandbox.fs.uploadFile(Buffer.from("abs"), "/etc/emulator-test"))
      assert.strictEqual(readFileSync(NodePath.join(root, "etc/emulator-test"), "utf8"), "abs")
      assert.isFalse(existsSync("/etc/emulator-test"))

      yield* call(() => sandbox.process.executeCommand("ln -s /etc/passwd passwd; ln -s ../../.. up"))
      const throughLink = yield* rejection(() => sandbox.fs.downloadFile("passwd"))
      assert.instanceOf(throughLink, DaytonaNotFoundError)
      yield* call(() => sandbox.fs.uploadFile(Buffer.from("link"), "up/through.txt"))
      assert.strictEqual(readFileSync(NodePath.join(root, "through.txt"), "utf8"), "link")
      const listed = yield* call(() => sandbox.fs.listFiles("up"))
      assert.includeMembers(
        listed.map((file) => file.name),
        ["escape.txt", "etc", "home", "through.txt"]
      )
    })
  )

  it.scopedLive("unknown paths, stopped and unknown sandboxes answer as Daytona's daemon, runner and proxy", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create())
      const toolbox = `${control.apiUrl.replace(/\/api$/, "/toolbox")}`
      const auth = { Authorization: `Bearer ${Redacted.value(control.apiKey)}` }

      const unknown = yield* http(`${toolbox}/${sandbox.id}/no/such/route`, { headers: auth })
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.text, "404 page not found")
      assert.strictEqual(unknown.headers.get("content-type"), "text/plain; charset=utf-8")
      const wrongMethod = yield* http(`${toolbox}/${sandbox.id}/files/info`, { method: "PUT", headers: auth })
      assert.strictEqual(wrongMethod.status, 404)

      const missing = yield* http(`${toolbox}/${sandbox.id}/files/info?path=nope`, { headers: auth })
      assert.strictEqual(missing.status, 404)
      assert.deepInclude(JSON.parse(missing.text), {
        statusCode: 404,
        code: "FILE_NOT_FOUND",
        source: "DAYTONA_DAEMON",
        path: "/files/info",
        method: "GET"
      })

      yield* call(() => sandbox.stop())
      const stopped = yield* rejection(() => sandbox.fs.listFiles("."))
      assert.instanceOf(stopped, DaytonaValidationError)
      assert.strictEqual((stopped as Error).message, "bad request: no IP address found. Is the Sandbox started?")
      const raw = yield* http(`${toolbox}/${sandbox.id}/files?path=.`, { headers: auth })
      assert.deepInclude(JSON.parse(raw.text), { path: `/sandboxes/${sandbox.id}/toolbox/files`, method: "GET" })

      const nobody = yield* http(`${toolbox}/no-such-sandbox/files`, { headers: auth })
      assert.strictEqual(nobody.status, 401)
      assert.strictEqual(
        JSON.parse(nobody.text).message,
        "unauthorized: authentication failed: Bearer token is invalid"
      )
    })
  )

  it.scopedLive("process.executeCommand and codeRun run one process each, as the daemon runs them", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.create({ language: "python" }))
      const once = yield* call(() => sandbox.process.executeCommand("echo $X; pwd; echo err >&2", "/tmp", { X: "y" }))
      assert.deepInclude(once, { exitCode: 0, result: "y\n/tmp\nerr\n" })
      const badCwd = yield* call(() => sandbox.process.executeCommand("pwd", "/nope"))
      assert.deepInclude(badCwd, { exitCode: -1, result: "chdir /nope: no such file or directory" })
      const slow = yield* rejection(() => sandbox.process.executeCommand("sleep 5", undefined, undefined, 1))
      assert.strictEqual((slow as { statusCode?: number }).statusCode, 408)

      const code = yield* call(() =>
        sandbox.process.codeRun('import sys\nprint("py", sys.argv[1:])\nsys.exit(3)', { argv: ["a", "b"] })
      )
      assert.deepInclude(code, { exitCode: 3, result: "py ['a', 'b']\n" })
    })
  )
})
