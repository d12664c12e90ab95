/**
 * Helpers for the SSH tests: Debian's `ssh` client run as a process against the emulator's SSH endpoint (on
 * 127.0.0.1), and the `ssh2` client for what `ssh` cannot be driven to do without a terminal (window changes).
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import ssh2 from "ssh2"
import type { ClientChannel } from "ssh2"

/** Debian's OpenSSH client. */
export const SSH = "/usr/bin/ssh"

/** Whether the OpenSSH client is installed (`apt-get install openssh-client`). */
export const sshAvailable = existsSync(SSH)

/** Options that make `ssh` run unattended against a throw-away host key. */
export const sshOptions = (port: number) => [
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "BatchMode=yes",
  "-o",
  "LogLevel=ERROR",
  "-p",
  String(port)
]

/** The outcome of an `ssh` run. */
export interface SshResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A running `ssh`: its output so far, and its end. */
export interface SshProcess {
  readonly output: () => string
  readonly done: Effect.Effect<SshResult>
  readonly kill: () => void
}

/**
 * Starts `ssh [options] TOKEN@127.0.0.1 [args…]` (never blocking the event loop, which serves the emulator);
 * `input` (or nothing) is its standard input. Killed after `timeoutMs`.
 */
export const startSsh = (
  port: number,
  token: string,
  args: ReadonlyArray<string>,
  input = "",
  timeoutMs = 20_000
): SshProcess => {
  const child = spawn(SSH, [...sshOptions(port), `${token}@127.0.0.1`, ...args], { stdio: ["pipe", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end(input)
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
  const done = new Promise<SshResult>((resolve) =>
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  )
  return { output: () => stdout, done: Effect.promise(() => done), kill: () => child.kill("SIGKILL") }
}

/** Runs `ssh … TOKEN@127.0.0.1 args…` to its end. */
export const runSsh = (port: number, token: string, args: ReadonlyArray<string>, input = "") =>
  startSsh(port, token, args, input).done

/** An `ssh2` client connected as `token`, ended with the scope. */
export const ssh2Client = (port: number, token: string) =>
  Effect.acquireRelease(
    Effect.async<ssh2.Client, Error>((resume) => {
      const client = new ssh2.Client()
      client.once("ready", () => resume(Effect.succeed(client)))
      client.once("error", (error) => resume(Effect.fail(error)))
      client.connect({ host: "127.0.0.1", port, username: token })
    }),
    (client) => Effect.sync(() => client.end())
  )

/** An interactive shell on a terminal of `rows` × `cols`, with everything it prints collected. */
export const ptyShell = (client: ssh2.Client, rows: number, cols: number) =>
  Effect.async<{ readonly stream: ClientChannel; readonly output: () => string }, Error>((resume) => {
    client.shell({ rows, cols, term: "xterm-256color" }, (error, stream) => {
      if (error !== undefined && error !== null) return resume(Effect.fail(error))
      let output = ""
      stream.on("data", (chunk: Buffer) => (output += chunk.toString()))
      resume(Effect.succeed({ stream, output: () => output }))
    })
  })
