/**
 * `ssh --sid S [--expires M] [--revoke TOKEN]`: SSH access to the sandbox of a SID. It creates an access token valid
 * for M minutes (default 60; Daytona then revokes the sandbox's earlier token) and prints the command that uses it,
 * `ssh TOKEN@ssh.app.daytona.io` — the one output of this tool that holds a secret, because the user asked for it;
 * it goes to stdout only, never into a log. `--revoke TOKEN` revokes a token before it expires.
 *
 * @since 0.2.0
 */
import { Console, Effect, Option, Redacted } from "effect"
import { DaytonaClient } from "../services/DaytonaClient.js"
import type { DaytonaClientService, Sandbox } from "../services/DaytonaClient.js"
import * as Env from "./Env.js"
import { NoSandbox, UsageError } from "./Errors.js"
import * as Output from "./Output.js"

/**
 * The flags of `ssh`.
 *
 * @since 0.2.0
 */
export interface SshFlags extends Env.CommonFlags {
  readonly sid: string
  /** Minutes the access lasts. */
  readonly expires: number
  /** A token to revoke instead of creating one. */
  readonly revoke: Option.Option<string>
}

const sandboxOf = (client: DaytonaClientService, sid: string) =>
  Effect.flatMap(client.findBySid(sid), (found) =>
    Option.match(found, {
      onNone: () => Effect.fail(new NoSandbox({ sid })),
      onSome: (sandbox) => Effect.succeed(sandbox)
    })
  )

const create = (flags: SshFlags, client: DaytonaClientService, sandbox: Sandbox) =>
  Effect.gen(function* () {
    const access = yield* client.createSshAccess(sandbox.id, flags.expires)
    const command = Redacted.value(access.sshCommand)
    if (flags.json) {
      return yield* Output.printJson({
        ok: true,
        sid: flags.sid,
        sandboxId: sandbox.id,
        state: sandbox.state,
        sshCommand: command,
        token: Redacted.value(access.token),
        expiresAt: access.expiresAt.toISOString()
      })
    }
    yield* Console.log(command)
    yield* Output.note(
      `SSH access to sandbox ${sandbox.id} (sid ${flags.sid}) until ${access.expiresAt.toISOString()}; ` +
        "it replaces the sandbox's earlier access. The token is the user name in the command above: keep it secret; " +
        `revoke it early with: effect-daytona ssh --sid ${flags.sid} --revoke <token>`
    )
    if (sandbox.state !== "started") {
      yield* Output.note(
        `note: the sandbox is ${sandbox.state}, and SSH reaches only a started sandbox: start it first ` +
          `(effect-daytona connect --sid ${flags.sid} --attach)`
      )
    }
  })

const revoke = (flags: SshFlags, client: DaytonaClientService, sandbox: Sandbox, token: string) =>
  Effect.gen(function* () {
    yield* client.revokeSshAccess(sandbox.id, Redacted.make(token))
    if (flags.json) return yield* Output.printJson({ ok: true, sid: flags.sid, sandboxId: sandbox.id, revoked: true })
    yield* Console.log(`SSH access to sandbox ${sandbox.id} (sid ${flags.sid}) revoked.`)
  })

/**
 * What `ssh` does, given a `DaytonaClient`.
 *
 * @since 0.2.0
 */
export const program = (flags: SshFlags) =>
  Effect.gen(function* () {
    const client = yield* DaytonaClient
    const sandbox = yield* sandboxOf(client, flags.sid)
    return yield* Option.match(flags.revoke, {
      onNone: () => create(flags, client, sandbox),
      onSome: (token) => revoke(flags, client, sandbox, token)
    })
  })

/**
 * Runs `ssh`. With `--emulator` it is a usage error: the embedded emulator, and the access with it, would end with
 * the command.
 *
 * @since 0.2.0
 */
export const ssh = (flags: SshFlags) =>
  flags.emulator
    ? Effect.fail(
        new UsageError({
          what: "ssh --emulator would give access to an emulator that ends with this command",
          fix: "Run `effect-daytona emulator` in another terminal, export the DAYTONA_API_URL and DAYTONA_API_KEY it prints, then run ssh without --emulator"
        })
      )
    : program(flags).pipe(Effect.provide(Env.clientLayer(flags)))
