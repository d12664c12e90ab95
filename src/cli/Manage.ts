/**
 * The commands on existing sandboxes: `list` (those carrying the SID label), `stop --sid S` and
 * `delete --sid S` (every sandbox carrying that SID).
 *
 * @since 0.1.0
 */
import { Console, Effect, Option } from "effect"
import { DaytonaClient, OWNER_LABEL, OWNER_VALUE, SID_LABEL } from "../services/DaytonaClient.js"
import type { Sandbox } from "../services/DaytonaClient.js"
import * as Env from "./Env.js"
import { NoSandbox } from "./Errors.js"
import * as Output from "./Output.js"

/**
 * A sandbox as the CLI shows it (in `list --json` and `reap --json`).
 *
 * @since 0.1.0
 */
export const sandboxJson = (sandbox: Sandbox) => ({
  id: sandbox.id,
  name: sandbox.name,
  sid: sandbox.labels[SID_LABEL] ?? null,
  state: sandbox.state,
  public: sandbox.public,
  ownedByEffectDaytona: sandbox.labels[OWNER_LABEL] === OWNER_VALUE,
  createdAt: Option.getOrNull(Option.map(sandbox.createdAt, (date) => date.toISOString()))
})

/**
 * Formats rows as columns padded to their widest cell.
 *
 * @since 0.1.0
 */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

/**
 * `list`: the sandboxes carrying the SID label — id, SID, state, creation time.
 *
 * @since 0.1.0
 */
export const list = (flags: Env.CommonFlags) =>
  Effect.gen(function* () {
    const client = yield* DaytonaClient
    const sandboxes = (yield* client.list({})).filter((sandbox) => sandbox.labels[SID_LABEL] !== undefined)
    if (flags.json) return yield* Output.printJson({ ok: true, sandboxes: sandboxes.map(sandboxJson) })
    if (sandboxes.length === 0) return yield* Console.log(`No sandbox carries the ${SID_LABEL} label.`)
    yield* Console.log(
      table([
        ["ID", "SID", "STATE", "CREATED"],
        ...sandboxes.map((sandbox) => [
          sandbox.id,
          sandbox.labels[SID_LABEL] ?? "",
          sandbox.state,
          Option.match(sandbox.createdAt, { onNone: () => "-", onSome: (date) => date.toISOString() })
        ])
      ])
    )
  }).pipe(Effect.provide(Env.clientLayer(flags)))

/** States in which a sandbox can be stopped. */
const STOPPABLE = new Set(["started", "starting"])

/**
 * `stop --sid S` and `delete --sid S`: stops (when running) or deletes every sandbox carrying the SID.
 *
 * @since 0.1.0
 */
export const stopOrDelete = (flags: Env.CommonFlags & { readonly sid: string }, what: "stop" | "delete") =>
  Effect.gen(function* () {
    const client = yield* DaytonaClient
    const sandboxes = yield* client.list({ [SID_LABEL]: flags.sid })
    if (sandboxes.length === 0) return yield* new NoSandbox({ sid: flags.sid })
    const results = yield* Effect.forEach(sandboxes, (sandbox) =>
      what === "delete"
        ? Effect.as(client.delete(sandbox.id), { id: sandbox.id, action: "deleted" })
        : STOPPABLE.has(sandbox.state)
          ? Effect.as(client.stop(sandbox.id), { id: sandbox.id, action: "stopped" })
          : Effect.succeed({ id: sandbox.id, action: `already-${sandbox.state}` })
    )
    if (flags.json) return yield* Output.printJson({ ok: true, sid: flags.sid, sandboxes: results })
    yield* Effect.forEach(results, (result) => Console.log(`${result.id} (sid ${flags.sid}): ${result.action}`))
  }).pipe(Effect.provide(Env.clientLayer(flags)))
