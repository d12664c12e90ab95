/**
 * The runs of started sandboxes. A run is a scope opened when a sandbox enters `started` and closed when it
 * leaves it: everything started inside the sandbox (processes, action servers) lives in it, so a stop, a
 * delete or the end of the emulator ends all of it.
 *
 * @since 0.1.0
 */
import { Effect, ExecutionStrategy, Exit, Option, Scope } from "effect"
import type { SandboxRecord } from "./Dto.js"

/**
 * The open run of one sandbox.
 *
 * @since 0.1.0
 */
export interface OpenRun {
  /** Unique across the emulator's life: a restart gives a new id. */
  readonly id: number
  readonly scope: Scope.Scope
}

/**
 * One run of a started sandbox, with the sandbox as it was when asked: closing its scope ends everything
 * started in it.
 *
 * @since 0.1.0
 */
export interface SandboxRun {
  readonly id: number
  readonly sandbox: SandboxRecord
  readonly scope: Scope.Scope
}

/**
 * The run bookkeeping.
 *
 * @since 0.1.0
 */
export interface Runs {
  /** Opens a run unless one is open already. */
  readonly open: (sandboxId: string) => Effect.Effect<void>
  /**
   * Closes the open run and waits for everything in it to end (uninterruptibly). A call while the run is
   * already closing returns at once.
   */
  readonly close: (sandboxId: string) => Effect.Effect<void>
  /** The open run (not one that is closing). */
  readonly current: (sandboxId: string) => Option.Option<OpenRun>
}

interface Entry {
  readonly id: number
  readonly scope: Scope.CloseableScope
  closing: boolean
}

/**
 * Makes the bookkeeping; every run is a child of the calling scope, so closing it ends every run.
 *
 * @since 0.1.0
 */
export const makeRuns: Effect.Effect<Runs, never, Scope.Scope> = Effect.map(Effect.scope, (root): Runs => {
  const entries = new Map<string, Entry>()
  let counter = 0
  return {
    open: (sandboxId) =>
      Effect.gen(function* () {
        const current = entries.get(sandboxId)
        if (current !== undefined && !current.closing) return
        const scope = yield* Scope.fork(root, ExecutionStrategy.sequential)
        entries.set(sandboxId, { id: ++counter, scope, closing: false })
      }),
    close: (sandboxId) =>
      Effect.suspend(() => {
        const entry = entries.get(sandboxId)
        if (entry === undefined || entry.closing) return Effect.void
        entry.closing = true
        return Scope.close(entry.scope, Exit.void).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              if (entries.get(sandboxId) === entry) entries.delete(sandboxId)
            })
          )
        )
      }).pipe(Effect.uninterruptible),
    current: (sandboxId) => {
      const entry = entries.get(sandboxId)
      return entry === undefined || entry.closing ? Option.none() : Option.some({ id: entry.id, scope: entry.scope })
    }
  }
})
