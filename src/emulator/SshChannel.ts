/**
 * What one SSH session channel runs in a sandbox, as Daytona's daemon does (`apps/daemon/pkg/ssh/server.go`): an
 * `exec` request runs `/bin/sh -c COMMAND` without a terminal (also when the client asked for one); a `shell` without a
 * terminal runs `/bin/sh` reading the channel; a `shell` with a terminal runs an interactive `bash` on a
 * pseudo-terminal. Everything runs through the sandbox's isolation, as the sandbox user, in its home folder, with the
 * sandbox's environment; stdout, stderr and stdin are the channel's, and the exit status is passed on.
 *
 * The pseudo-terminal comes from `script` (util-linux) inside the sandbox, so no native addon is needed: its size is
 * set from the client's request, and a window change reaches it through a FIFO that a small loop beside the shell reads
 * (`stty rows R cols C`, which makes the kernel send SIGWINCH to the shell's foreground job).
 *
 * The channel's processes live in a child scope of the sandbox's run: they end with the channel, with the sandbox (a
 * stop or delete) and with the emulator; while the channel is open the sandbox's activity is refreshed every 45 s, as
 * Daytona's gateway does, so auto-stop does not fire under an open session.
 *
 * @since 0.2.0
 */
import { Effect, ExecutionStrategy, Exit, Runtime, Schedule, Scope } from "effect"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { close, constants as fsConstants, existsSync, fstat, open, rm, write } from "node:fs"
import { constants as osConstants, tmpdir } from "node:os"
import * as NodePath from "node:path"
import type { ServerChannel } from "ssh2"
import type { SandboxRun } from "./Runs.js"
import { resolveInside } from "./SandboxPaths.js"
import { terminateGroup } from "./System.js"
import { commandEnv } from "./Toolbox.js"
import type { ProcessHost } from "./Toolbox.js"

/**
 * A terminal asked for with a `pty-req`.
 *
 * @since 0.2.0
 */
export interface PtyRequest {
  readonly term: string
  readonly cols: number
  readonly rows: number
}

/**
 * What a session channel asked to run.
 *
 * @since 0.2.0
 */
export type ChannelRequest =
  | { readonly _tag: "Exec"; readonly command: string }
  | { readonly _tag: "Shell"; readonly pty: PtyRequest | undefined }
  | { readonly _tag: "Subsystem"; readonly argv: ReadonlyArray<string> }

/**
 * A running channel: the window-change hook.
 *
 * @since 0.2.0
 */
export interface RunningChannel {
  readonly resize: (cols: number, rows: number) => void
}

/** OpenSSH's SFTP server, run inside the sandbox for the `sftp` subsystem when this machine has it. */
export const SFTP_SERVER = ["/usr/lib/openssh/sftp-server", "/usr/lib/sftp-server", "/usr/libexec/sftp-server"].find(
  (path) => existsSync(path)
)

const dimension = (value: number, fallback: number) =>
  Number.isInteger(value) && value > 0 && value < 10_000 ? value : fallback

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/**
 * The script `script -c` runs for an interactive shell: the terminal's size, the window-change loop (it stops within a
 * second of the shell's end), then `bash` in its place.
 */
const ptyShell = (pty: PtyRequest, fifo: string | undefined): string => {
  const lines = [`stty rows ${dimension(pty.rows, 24)} cols ${dimension(pty.cols, 80)} 2>/dev/null`]
  if (fifo !== undefined) {
    const f = quote(fifo)
    lines.push(
      `t=$(tty)`,
      `if mkfifo -m 600 ${f} 2>/dev/null; then (exec 3<>${f}; while kill -0 $$ 2>/dev/null; do` +
        ` read -r -t 1 r c <&3 && stty -F "$t" rows "$r" cols "$c" 2>/dev/null; done) >/dev/null 2>&1 & fi`
    )
  }
  lines.push("exec /bin/bash")
  return lines.join("\n")
}

/**
 * Where the window-size FIFO of a channel lives: in the sandbox's `/tmp` (resolved on the host as the sandbox would,
 * links followed inside it), or — unisolated — in the host's temporary folder.
 */
const fifoPaths = (
  host: ProcessHost,
  run: SandboxRun
): { readonly inside: string; readonly host: string } | undefined => {
  const name = `.effect-daytona-ssh-${randomUUID()}`
  if (host.isolation.mode === "host") {
    const path = NodePath.join(tmpdir(), name)
    return { inside: path, host: path }
  }
  try {
    return { inside: `/tmp/${name}`, host: resolveInside(run.sandbox.dir, `/tmp/${name}`) }
  } catch {
    return undefined
  }
}

const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number => {
  if (code !== null) return code < 0 ? 1 : code
  const number = signal === null ? undefined : (osConstants.signals as Record<string, number>)[signal]
  return number === undefined ? 1 : 128 + number
}

/**
 * Writes one window size to the FIFO without ever blocking (no reader: the size is dropped). The sandbox user owns the
 * folder, so the path is opened without following a link and written only when it is still a FIFO.
 */
const writeSize = (path: string, cols: number, rows: number) =>
  open(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW, (error, fd) => {
    if (error !== null) return
    fstat(fd, (statError, stats) => {
      if (statError !== null || !stats.isFIFO()) return close(fd, () => {})
      write(fd, `${dimension(rows, 24)} ${dimension(cols, 80)}\n`, () => close(fd, () => {}))
    })
  })

/**
 * Starts what a channel asked for in the sandbox's run. `onRunEnded` is called when the run ends (the sandbox stops)
 * while the channel is still open.
 *
 * @since 0.2.0
 */
export const startChannel = (options: {
  readonly host: ProcessHost
  readonly run: SandboxRun
  readonly touch: Effect.Effect<void>
  readonly channel: ServerChannel
  readonly request: ChannelRequest
  readonly onRunEnded: () => void
}): Effect.Effect<RunningChannel> =>
  Effect.gen(function* () {
    const { channel, host, request, run } = options
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const scope = yield* Scope.fork(run.scope, ExecutionStrategy.sequential)
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      runFork(Scope.close(scope, Exit.void))
    }
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        if (!ended) {
          ended = true
          options.onRunEnded()
        }
      })
    )

    const pty = request._tag === "Shell" ? request.pty : undefined
    // The FIFO of window sizes: a sandbox path, and where the emulator reaches it on the host.
    const fifo = pty === undefined ? undefined : fifoPaths(host, run)
    const argv =
      request._tag === "Exec"
        ? ["/bin/sh", "-c", request.command]
        : request._tag === "Subsystem"
          ? request.argv
          : pty === undefined
            ? ["/bin/sh"]
            : ["script", "-qfec", ptyShell(pty, fifo?.inside), "/dev/null"]
    const process = host.isolation.command(run.sandbox, argv, {
      env: commandEnv(run.sandbox, pty === undefined ? {} : { TERM: pty.term || "xterm" })
    })
    const child = spawn(process.file, [...process.args], {
      cwd: process.cwd,
      env: { ...process.env },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"]
    })
    const pid = child.pid
    if (pid !== undefined) {
      host.groups.add(pid)
      yield* Scope.addFinalizer(
        scope,
        terminateGroup(pid).pipe(Effect.ensuring(Effect.sync(() => host.groups.delete(pid))))
      )
    }
    if (fifo !== undefined) {
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => rm(fifo.host, { force: true }, () => {}))
      )
    }
    yield* options.touch.pipe(Effect.repeat(Schedule.spaced("45 seconds")), Effect.interruptible, Effect.forkIn(scope))

    let finished = false
    const finish = (status: number) => {
      if (finished) return
      finished = true
      child.stdout.unpipe(channel)
      child.stderr.unpipe(channel.stderr)
      try {
        channel.exit(status)
        channel.end()
      } catch {
        // the channel is closed already
      }
      end()
    }
    child.on("error", (error) => {
      if (channel.writable) channel.stderr.write(`ssh: cannot start ${argv[0]}: ${error.message}\n`)
      finish(127)
    })
    child.stdin.on("error", () => {})
    child.stdout.pipe(channel, { end: false })
    child.stderr.pipe(channel.stderr, { end: false })
    channel.pipe(child.stdin)
    // A background job may keep the pipes open after the command exits: wait for them at most 250 ms.
    child.on("exit", (code, signal) => setTimeout(() => finish(exitStatus(code, signal)), 250).unref())
    child.on("close", (code, signal) => finish(exitStatus(code, signal)))
    channel.on("close", end)

    return {
      resize: (cols: number, rows: number) => {
        if (fifo !== undefined && !ended) writeSize(fifo.host, cols, rows)
      }
    }
  }).pipe(Effect.uninterruptible)
