/**
 * The terminal of the built-in action server's shell: `bash -i` on a pseudo-terminal (`script`, from util-linux,
 * started through the sandbox's isolation), its output played on an {@link ActionScreen} as tmux shows it. What the
 * shell sees is a terminal as in OpenHands' tmux pane: 1000 × 1000, `TERM=tmux-256color`, job control, echo.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { clearToPrompt, feed, makeScreen, paneContent } from "./ActionScreen.js"
import type { HostProcess } from "./Isolation.js"

/**
 * How a shell is started and what it sees.
 *
 * @since 0.2.0
 */
export interface ShellOptions {
  /** The host process for `argv`, started in `cwd` (a path as the shell sees it) with `env` on top of its defaults. */
  readonly command: (
    argv: ReadonlyArray<string>,
    options: { readonly cwd: string; readonly env: Readonly<Record<string, string>> }
  ) => HostProcess
  readonly workDir: string
  readonly env: Readonly<Record<string, string>>
  /** `NO_CHANGE_TIMEOUT_SECONDS` (the real default is 10). */
  readonly noChangeTimeoutSeconds: number
  /** Process groups of the shells started, so that whoever owns them can end them. */
  readonly groups: Set<number>
}

/**
 * One shell on its terminal.
 *
 * @since 0.2.0
 */
export class Terminal {
  private readonly screen = makeScreen()
  private process: ChildProcess.ChildProcess | undefined
  private readonly decoder = new TextDecoder()
  private readonly listeners = new Set<() => void>()
  /** Set once {@link close} ended it. */
  closed = false

  constructor(private readonly options: ShellOptions) {}

  /** Whether the shell process runs. */
  get running(): boolean {
    return this.process !== undefined
  }

  /** What tmux's `capture-pane` would show. */
  pane(): string {
    return paneContent(this.screen)
  }

  /** Types text (the bytes a terminal receives for keys). */
  write(text: string): void {
    this.process?.stdin?.write(text)
  }

  /** The screen cleared, `prompt` drawn at its top (what C-l and `clear-history` leave). */
  clear(prompt: string): void {
    clearToPrompt(this.screen, prompt)
  }

  private notify() {
    for (const listener of [...this.listeners]) listener()
  }

  /** Resolves on the next output of the shell, or after `ms`. */
  waitChange(ms: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const done = () => {
        clearTimeout(timer)
        this.listeners.delete(done)
        resume(Effect.void)
      }
      const timer = setTimeout(done, Math.max(0, ms))
      this.listeners.add(done)
      return Effect.sync(() => {
        clearTimeout(timer)
        this.listeners.delete(done)
      })
    })
  }

  /** Starts the shell on its terminal; resolves once the process runs. */
  start(): Promise<void> {
    const host = this.options.command(
      ["script", "-qfec", "stty cols 1000 rows 1000 2>/dev/null; exec bash -i", "/dev/null"],
      {
        cwd: this.options.workDir,
        env: { ...this.options.env, TERM: "tmux-256color", SHELL: "/bin/bash" }
      }
    )
    const child = ChildProcess.spawn(host.file, [...host.args], {
      cwd: host.cwd,
      env: { ...host.env },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"]
    })
    this.process = child
    return new Promise<void>((resolve, reject) => {
      child.once("error", (error) => reject(new Error(`The shell could not be started: ${error.message}`)))
      child.once("spawn", () => {
        if (child.pid !== undefined) this.options.groups.add(child.pid)
        const onData = (chunk: Buffer) => {
          feed(this.screen, this.decoder.decode(chunk, { stream: true }))
          this.notify()
        }
        child.stdout!.on("data", onData)
        child.stderr!.on("data", onData)
        child.stdin!.on("error", () => {})
        // A shell that exits (`exit`) leaves the real session's pane empty and every later command unanswered
        // until a timeout: the same here, the shell is not restarted.
        child.once("exit", () => {
          if (child.pid !== undefined) this.options.groups.delete(child.pid)
          if (this.process === child) {
            this.process = undefined
            clearToPrompt(this.screen, "")
          }
          this.notify()
        })
        resolve()
      })
    })
  }

  /**
   * Ends the shell and everything it started.
   *
   * @since 0.2.0
   */
  close(): void {
    this.closed = true
    const child = this.process
    this.process = undefined
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // already gone
      }
      this.options.groups.delete(child.pid)
    }
    this.notify()
  }
}
