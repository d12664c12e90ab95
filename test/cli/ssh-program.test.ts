/**
 * What `ssh` prints, against the in-memory client: the command alone on stdout (or one JSON document with the token),
 * notes on stderr without the token, a warning for a sandbox that is not started, `--revoke`, and the errors.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import type { Console } from "effect"
import * as Ssh from "../../src/cli/Ssh.js"
import * as Memory from "../../src/layers/DaytonaClientMemory.js"
import { DaytonaClient, SID_LABEL } from "../../src/services/DaytonaClient.js"

const flags = (extra: Partial<Ssh.SshFlags> = {}): Ssh.SshFlags => ({
  emulator: false,
  json: false,
  verbose: false,
  sid: "s1",
  expires: 30,
  revoke: Option.none(),
  ...extra
})

/** Runs `ssh` with a fresh in-memory client holding `state` sandboxes of SID s1; collects stdout and stderr. */
const run = (options: { readonly flags: Ssh.SshFlags; readonly states?: ReadonlyArray<string> }) =>
  Effect.gen(function* () {
    const { client, control } = yield* Memory.make()
    for (const state of options.states ?? ["started"]) yield* control.seed({ state, labels: { [SID_LABEL]: "s1" } })
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    const current = yield* Effect.console
    const console: Console.Console = {
      ...current,
      log: (...args) => Effect.sync(() => void stdout.push(args.join(" "))),
      error: (...args) => Effect.sync(() => void stderr.push(args.join(" ")))
    }
    const exit = yield* Ssh.program(options.flags).pipe(
      Effect.provideService(DaytonaClient, client),
      Effect.withConsole(console),
      Effect.exit
    )
    return { exit, stdout, stderr, client, control }
  })

describe("ssh (the command's output)", () => {
  it.effect("prints the ssh command alone on stdout and notes without the token on stderr", () =>
    Effect.gen(function* () {
      const { client, exit, stderr, stdout } = yield* run({ flags: flags() })
      assert.strictEqual(exitTag(exit), "Success")
      assert.lengthOf(stdout, 1)
      const token = /^ssh (\S+)@ssh\.app\.daytona\.io$/.exec(stdout[0]!)?.[1]
      assert.isDefined(token)
      assert.isTrue((yield* client.validateSshAccess("sbx-1", Redacted.make(token!))).valid)
      assert.match(stderr.join("\n"), /SSH access to sandbox sbx-1 \(sid s1\) until 1970-01-01T00:30:00\.000Z/)
      assert.notInclude(stderr.join("\n"), token!)
      assert.notInclude(stderr.join("\n"), "note: the sandbox is")
    })
  )

  it.effect("--json: one document with the command, the token and the expiry", () =>
    Effect.gen(function* () {
      const { stderr, stdout } = yield* run({ flags: flags({ json: true }) })
      assert.lengthOf(stdout, 1)
      const doc = JSON.parse(stdout[0]!) as Record<string, unknown>
      assert.deepInclude(doc, { ok: true, sid: "s1", sandboxId: "sbx-1", state: "started" })
      assert.strictEqual(doc.sshCommand, `ssh ${doc.token}@ssh.app.daytona.io`)
      assert.strictEqual(doc.expiresAt, "1970-01-01T00:30:00.000Z")
      assert.deepStrictEqual(stderr, [])
    })
  )

  it.effect("a sandbox that is not started: the access is made, with a note to start it first", () =>
    Effect.gen(function* () {
      const { exit, stderr } = yield* run({ flags: flags(), states: ["stopped"] })
      assert.strictEqual(exitTag(exit), "Success")
      assert.match(stderr.join("\n"), /note: the sandbox is stopped.*connect --sid s1 --attach/)
    })
  )

  it.effect("--revoke ends a token", () =>
    Effect.gen(function* () {
      const { client, control } = yield* Memory.make()
      yield* control.seed({ state: "started", labels: { [SID_LABEL]: "s1" } })
      const access = yield* client.createSshAccess("sbx-1")
      const revoke = flags({ revoke: Option.some(Redacted.value(access.token)) })
      yield* Ssh.program(revoke).pipe(Effect.provideService(DaytonaClient, client), Effect.withConsole(silent))
      assert.isFalse((yield* client.validateSshAccess("sbx-1", access.token)).valid)
    })
  )

  it.effect("no sandbox of the SID is NoSandbox; two are AmbiguousSandbox", () =>
    Effect.gen(function* () {
      const none = yield* run({ flags: flags(), states: [] })
      assert.strictEqual(exitTag(none.exit), "NoSandbox")
      const two = yield* run({ flags: flags(), states: ["started", "started"] })
      assert.strictEqual(exitTag(two.exit), "AmbiguousSandbox")
    })
  )
})

const exitTag = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isFailure(exit)
    ? Option.match(Cause.failureOption(exit.cause), {
        onNone: () => "a defect",
        onSome: (error) => (error as { readonly _tag: string })._tag
      })
    : "Success"

const silent: Console.Console = {
  ...(Effect.runSync(Effect.console) as Console.Console),
  log: () => Effect.void,
  error: () => Effect.void
}
