/**
 * The emulator's SSH endpoint with Debian's real `ssh` client (and the `ssh2` client for window changes): a token
 * opens its sandbox's shell as the sandbox user; wrong, expired and revoked tokens are refused; sessions end with the
 * sandbox and with the emulator.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeContext } from "@effect/platform-node"
import { Effect, Exit, Option, Redacted, Schedule, Scope } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import * as Isolation from "../../src/emulator/Isolation.js"
import { runSsh, ptyShell, ssh2Client, sshAvailable, startSsh } from "./ssh-support.js"
import { call, sdk, waitUntil } from "./support.js"

const bwrap = await Effect.runPromise(Isolation.detect.pipe(Effect.provide(NodeContext.layer)))
const skip = !sshAvailable || Option.isNone(bwrap)
if (skip) {
  console.log("SSH endpoint tests skipped: they need /usr/bin/ssh (openssh-client) and a working bubblewrap (bwrap)")
}

/** An emulator with one started sandbox and a token for it. */
const setup = Effect.gen(function* () {
  const control = yield* Emulator.make({})
  const daytona = yield* sdk(control)
  const sandbox = yield* call(() => daytona.create())
  const grant = yield* control.sshAccess.create(sandbox.id)
  return { control, sandbox, port: control.sshPort!, token: Redacted.value(grant.token) }
})

describe.skipIf(skip)("the emulator's SSH endpoint", () => {
  it.scopedLive("a token runs commands in its sandbox as the sandbox user, with their exit status", () =>
    Effect.gen(function* () {
      const { port, sandbox, token } = yield* setup
      const ok = yield* runSsh(port, token, ["echo ok"])
      assert.deepStrictEqual(ok, { status: 0, stdout: "ok\n", stderr: "" })

      const who = yield* runSsh(port, token, ["id -u; id -un; pwd; hostname; echo err >&2; exit 7"])
      assert.strictEqual(who.status, 7)
      assert.strictEqual(who.stdout, `1000\ndaytona\n/home/daytona\n${sandbox.id}\n`)
      assert.strictEqual(who.stderr, "err\n")

      // Without a command, the shell reads standard input; a file written over SSH is the sandbox's.
      const shell = yield* runSsh(port, token, [], "echo hi > /tmp/ssh-file; cat /tmp/ssh-file; exit 3\n")
      assert.deepStrictEqual(shell, { status: 3, stdout: "hi\n", stderr: "" })
      const seen = yield* call(() => sandbox.process.executeCommand("cat /tmp/ssh-file"))
      assert.strictEqual(seen.result, "hi\n")
    })
  )

  it.scopedLive("a wrong, an expired and a revoked token are refused", () =>
    Effect.gen(function* () {
      const { control, port, sandbox, token } = yield* setup
      const wrong = yield* runSsh(port, `${token.slice(0, -1)}x`, ["echo ok"])
      assert.strictEqual(wrong.status, 255)
      assert.strictEqual(wrong.stdout, "")
      assert.match(wrong.stderr, /Permission denied/)

      // A new token revokes the sandbox's earlier one, as on Daytona.
      const second = Redacted.value((yield* control.sshAccess.create(sandbox.id)).token)
      assert.strictEqual((yield* runSsh(port, token, ["echo ok"])).status, 255)
      assert.strictEqual((yield* runSsh(port, second, ["echo ok"])).stdout, "ok\n")
      yield* control.sshAccess.revoke(sandbox.id, second)
      assert.match((yield* runSsh(port, second, ["echo ok"])).stderr, /Permission denied/)

      // Zero minutes: expired from the next millisecond on.
      const expired = Redacted.value((yield* control.sshAccess.create(sandbox.id, 0)).token)
      const late = yield* runSsh(port, expired, ["echo ok"])
      assert.strictEqual(late.status, 255)
      assert.match(late.stderr, /Permission denied/)
    })
  )

  it.scopedLive("a shell with a terminal: a pseudo-terminal of the requested size that follows window changes", () =>
    Effect.gen(function* () {
      const { port, token } = yield* setup
      const client = yield* ssh2Client(port, token)
      const shell = yield* ptyShell(client, 30, 100)
      const ask = (marker: string) =>
        Effect.sync(() => shell.stream.write(`echo "${marker}|$(stty size)|$(tty)|$TERM"\n`)).pipe(
          Effect.zipRight(
            waitUntil(
              Effect.sync(() => new RegExp(`${marker}\\|(\\d+ \\d+)\\|(\\S+)\\|(\\S+)\\r`).exec(shell.output())),
              (match) => match !== null
            )
          ),
          Effect.map((match) => match!.slice(1))
        )
      assert.deepStrictEqual(yield* ask("first"), ["30 100", "/dev/pts/0", "xterm-256color"])
      yield* Effect.sync(() => shell.stream.setWindow(40, 120, 0, 0))
      // The new size travels through the window-change loop; ask until it has arrived (at most 5 s).
      let attempt = 0
      const resized = yield* Effect.suspend(() => ask(`again${++attempt}`)).pipe(
        Effect.filterOrFail(
          ([size]) => size === "40 120",
          () => "not yet"
        ),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("5 seconds")))
      )
      assert.strictEqual(resized[0], "40 120")
      const status = yield* Effect.async<number>((resume) => {
        shell.stream.on("exit", (code: number) => resume(Effect.succeed(code)))
        shell.stream.write("exit 5\n")
      })
      assert.strictEqual(status, 5)
    })
  )

  it.scopedLive("a session ends when its sandbox stops; a stopped sandbox gets Daytona's reason", () =>
    Effect.gen(function* () {
      const { control, port, sandbox, token } = yield* setup
      const session = startSsh(port, token, ["echo started; sleep 60"])
      yield* waitUntil(
        Effect.sync(() => session.output()),
        (output) => output === "started\n"
      )
      const before = Date.now()
      yield* call(() => sandbox.stop())
      const ended = yield* session.done
      assert.isBelow(Date.now() - before, 10_000)
      assert.notStrictEqual(ended.status, 0)
      assert.strictEqual(yield* control.liveProcesses, 0)

      const refused = yield* runSsh(port, token, ["echo ok"])
      assert.strictEqual(refused.status, 255)
      assert.strictEqual(refused.stdout, "")
      assert.match(refused.stderr, /Sandbox is not started \(state: stopped\)/)
    })
  )

  it.scopedLive("a client that vanishes mid-session (SIGKILL) leaves no process behind; the next one logs in", () =>
    Effect.gen(function* () {
      const { control, port, token } = yield* setup
      const session = startSsh(port, token, ["echo started; sleep 60"])
      yield* waitUntil(
        Effect.sync(() => session.output()),
        (output) => output === "started\n"
      )
      assert.isAbove(yield* control.liveProcesses, 0)
      session.kill()
      yield* session.done
      yield* waitUntil(control.liveProcesses, (live) => live === 0)
      assert.strictEqual((yield* runSsh(port, token, ["echo ok"])).stdout, "ok\n")
    })
  )

  it.live("a session ends with the emulator", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { port, token } = yield* Scope.extend(setup, scope)
      const session = startSsh(port, token, ["echo started; sleep 60"])
      yield* waitUntil(
        Effect.sync(() => session.output()),
        (output) => output === "started\n"
      )
      yield* Scope.close(scope, Exit.void)
      const ended = yield* session.done
      assert.notStrictEqual(ended.status, 0)
    })
  )

  it.scopedLive("ssh: false serves no SSH endpoint", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ ssh: false })
      assert.isUndefined(control.sshPort)
    })
  )
})
