/**
 * The emulator's SSH endpoint, in the place of Daytona's SSH gateway (`apps/ssh-gateway/main.go`): a real SSH server
 * on 127.0.0.1 (the `ssh2` library; a fresh ed25519 host key at every start) where the user name is an SSH access
 * token: `ssh -p PORT TOKEN@127.0.0.1`. No password or key is asked for: the token is the credential, as on Daytona,
 * where the gateway accepts the `none` method and checks the token. A valid, unexpired token opens its sandbox's
 * shell; sessions run as Daytona's daemon runs them (see `SshChannel.ts`), through the sandbox's isolation, and end
 * with the sandbox (a stop drops the connection) and with the emulator.
 *
 * Where it differs from Daytona: a wrong, expired or revoked token is refused at authentication ("Permission
 * denied"), where Daytona's gateway lets the handshake finish and then closes the connection without a word; a valid
 * token for a sandbox that is not started gets, per session, the gateway's own reason on stderr and exit status 255,
 * where Daytona closes the connection; port forwarding, agent forwarding and signals are refused (Daytona's daemon
 * serves them); `sftp` works only where this machine has OpenSSH's `sftp-server`.
 *
 * @since 0.2.0
 */
import { Data, Effect, Exit, Option, Runtime } from "effect"
import type { Scope } from "effect"
import { createHash } from "node:crypto"
import ssh2 from "ssh2"
import type { Connection, ServerChannel, Session } from "ssh2"
import type { SandboxRun } from "./Runs.js"
import { SFTP_SERVER, startChannel } from "./SshChannel.js"
import type { ChannelRequest, PtyRequest, RunningChannel } from "./SshChannel.js"
import type { ProcessHost } from "./Toolbox.js"

/**
 * A sandbox as a session finds it: running (with its current run), or not.
 *
 * @since 0.2.0
 */
export type SandboxAccess = Data.TaggedEnum<{
  Running: { readonly run: SandboxRun }
  NotRunning: { readonly state: string }
}>

/**
 * Constructors of {@link SandboxAccess}.
 *
 * @since 0.2.0
 */
export const SandboxAccess = Data.taggedEnum<SandboxAccess>()

/**
 * What the SSH server is built on.
 *
 * @since 0.2.0
 */
export interface SshServerOptions {
  /** The port on 127.0.0.1; 0 = any free port. */
  readonly port: number
  /** The sandbox a token opens, when the token exists and has not expired. */
  readonly authenticate: (token: string) => Effect.Effect<Option.Option<{ readonly sandboxId: string }>>
  /** The sandbox's current run, or its state when it has none. */
  readonly sandbox: (sandboxId: string) => Effect.Effect<SandboxAccess>
  /** Records activity on the sandbox (at a session's start, then every 45 s while it is open). */
  readonly touch: (sandboxId: string) => Effect.Effect<void>
  readonly host: ProcessHost
}

/**
 * A running SSH server.
 *
 * @since 0.2.0
 */
export interface SshServer {
  readonly port: number
  /** The host key's public half, as a `known_hosts` line without the host (`ssh-ed25519 AAAA…`). */
  readonly hostKey: string
  /** The host key's fingerprint as `ssh` prints it (`SHA256:…`). */
  readonly fingerprint: string
  /** Connections open now. */
  readonly connections: Effect.Effect<number>
}

/**
 * The SSH server could not start.
 *
 * @since 0.2.0
 * @category errors
 */
export class SshServerError extends Data.TaggedError("SshServerError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/** The reason Daytona's gateway gives for a sandbox that is not started. */
const notStarted = (state: string) =>
  `Sandbox is not started (state: ${state}). Please start the sandbox before attempting to connect.\n`

/**
 * A fresh ed25519 host key. `ssh2`'s generator writes a malformed key about once in 250 times (a public key starting
 * with a zero byte loses it), so each key is parsed back, and made again until it parses.
 *
 * @since 0.2.0
 */
export const makeHostKey = (): {
  readonly privateKey: string
  readonly publicKey: string
  readonly fingerprint: string
} => {
  for (let attempt = 1; ; attempt++) {
    const keys = ssh2.utils.generateKeyPairSync("ed25519")
    const parsed = ssh2.utils.parseKey(keys.private)
    if (parsed instanceof Error || Array.isArray(parsed)) {
      if (attempt < 20) continue
      throw new Error(`cannot make an SSH host key: ${parsed instanceof Error ? parsed.message : "several keys"}`)
    }
    const blob = parsed.getPublicSSH()
    return {
      privateKey: keys.private,
      publicKey: `${parsed.type} ${blob.toString("base64")}`,
      fingerprint: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`
    }
  }
}

/**
 * Starts the SSH server on 127.0.0.1; closing the scope drops every connection (ending its sessions) and the server.
 *
 * @since 0.2.0
 */
export const make = (options: SshServerOptions): Effect.Effect<SshServer, SshServerError, Scope.Scope> =>
  Effect.gen(function* () {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const keys = yield* Effect.try({
      try: makeHostKey,
      catch: (cause) => new SshServerError({ reason: `The emulator's SSH endpoint has no host key: ${cause}`, cause })
    })
    const clients = new Set<Connection>()

    /** Runs what a session channel asked for in the sandbox the connection's token opened. */
    const start = (
      client: Connection,
      sandboxId: string,
      channel: ServerChannel,
      request: ChannelRequest,
      started: (running: RunningChannel) => void
    ) => {
      // A client that goes away mid-write makes the channel emit an error: never let one reach the process.
      channel.on("error", () => {})
      channel.stderr.on("error", () => {})
      return runFork(
        Effect.gen(function* () {
          const access = yield* options.sandbox(sandboxId)
          if (access._tag === "NotRunning") {
            channel.stderr.write(notStarted(access.state))
            channel.exit(255)
            channel.end()
            return
          }
          yield* options.touch(sandboxId)
          yield* Effect.logDebug(`SSH ${request._tag.toLowerCase()} session in sandbox ${sandboxId}`)
          started(
            yield* startChannel({
              host: options.host,
              run: access.run,
              touch: options.touch(sandboxId),
              channel,
              request,
              onRunEnded: () => client.end()
            })
          )
        })
      )
    }

    const onSession = (client: Connection, sandboxId: string, session: Session) => {
      let pty: PtyRequest | undefined
      let running: RunningChannel | undefined
      const keep = (next: RunningChannel) => {
        running = next
      }
      session.on("pty", (accept, _reject, info) => {
        pty = { term: info.term, cols: info.cols, rows: info.rows }
        accept?.()
      })
      session.on("window-change", (accept, _reject, info) => {
        running?.resize(info.cols, info.rows)
        accept?.()
      })
      // Daytona's daemon accepts environment requests and runs commands in the sandbox's own environment.
      session.on("env", (accept) => accept?.())
      session.on("signal", (_accept, reject) => reject?.())
      session.on("auth-agent", (_accept, reject) => reject?.())
      session.on("x11", (_accept, reject) => reject?.())
      session.on("exec", (accept, _reject, info) =>
        start(client, sandboxId, accept(), { _tag: "Exec", command: info.command }, keep)
      )
      session.on("shell", (accept) => start(client, sandboxId, accept(), { _tag: "Shell", pty }, keep))
      session.on("subsystem", (accept, reject, info) =>
        info.name === "sftp" && SFTP_SERVER !== undefined
          ? start(client, sandboxId, accept(), { _tag: "Subsystem", argv: [SFTP_SERVER] }, keep)
          : reject?.()
      )
    }

    const onConnection = (client: Connection) => {
      clients.add(client)
      let sandboxId: string | undefined
      client.on("error", () => {})
      client.on("close", () => clients.delete(client))
      client.on("authentication", (context) => {
        // The token is the credential: like Daytona's gateway, only the `none` method is accepted.
        if (context.method !== "none") return context.reject(["none"])
        runFork(options.authenticate(context.username)).addObserver((exit) => {
          const found = Exit.isSuccess(exit) ? exit.value : Option.none()
          try {
            if (Option.isNone(found)) return context.reject(["none"])
            sandboxId = found.value.sandboxId
            context.accept()
          } catch {
            // the client left while the token was being checked
          }
        })
      })
      client.on("ready", () => {
        const id = sandboxId!
        client.on("session", (accept) => onSession(client, id, accept()))
        client.on("tcpip", (_accept, reject) => reject())
        client.on("openssh.streamlocal", (_accept, reject) => reject())
        client.on("request", (_accept, reject) => reject?.())
      })
    }

    const server = new ssh2.Server({ hostKeys: [keys.privateKey], ident: "effect-daytona-emulator" }, onConnection)
    const port = yield* Effect.async<number, SshServerError>((resume) => {
      server.once("error", (cause: Error) =>
        resume(
          Effect.fail(
            new SshServerError({
              reason: `The emulator's SSH endpoint cannot listen on 127.0.0.1:${options.port} (${String(cause)}): pick another port, or 0 for any`,
              cause
            })
          )
        )
      )
      server.listen(options.port, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : options.port))
      })
    })
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        for (const client of clients) client.end()
        server.close(() => resume(Effect.void))
      }).pipe(Effect.timeoutOption("2 seconds"))
    )
    return {
      port,
      hostKey: keys.publicKey,
      fingerprint: keys.fingerprint,
      connections: Effect.sync(() => clients.size)
    }
  }).pipe(Effect.withSpan("SshServer.make"))
