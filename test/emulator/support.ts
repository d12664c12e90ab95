/**
 * Helpers for the emulator tests: the real SDK as a scoped resource, raw HTTP, and process checks.
 */
import { Daytona } from "@daytonaio/sdk"
import { Duration, Effect, Redacted, Schedule } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import type { EmulatorControlService } from "../../src/emulator/Emulator.js"
import { pidAlive } from "../../src/emulator/System.js"
import { io } from "socket.io-client"

/** A `Daytona` client of the emulator (polling mode), disposed with the scope. */
export const sdk = (control: EmulatorControlService, apiKey?: string) =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new Daytona({
          apiKey: apiKey ?? Redacted.value(control.apiKey),
          apiUrl: control.apiUrl,
          target: "us",
          useDeprecatedPolling: true
        } as ConstructorParameters<typeof Daytona>[0])
    ),
    (daytona) => Effect.promise(() => daytona[Symbol.asyncDispose]())
  )

/** A `Daytona` client of the emulator in the SDK's default mode (events over Socket.IO), disposed with the scope. */
export const sdkWithEvents = (control: EmulatorControlService) =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new Daytona({
          apiKey: Redacted.value(control.apiKey),
          apiUrl: control.apiUrl,
          target: "us"
        } as ConstructorParameters<typeof Daytona>[0])
    ),
    (daytona) => Effect.promise(() => daytona[Symbol.asyncDispose]())
  )

/** Runs a Promise-returning SDK call; a rejection becomes the failure (kept as is, to inspect its class). */
export const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (error) => error })

/** The outcome of a rejected call, for assertions. */
export const rejection = <A>(f: () => Promise<A>) => Effect.flip(call(f))

/** A raw HTTP request; the body is read as text. Never fails on a status; fails on a transport error. */
export const http = (url: string, init: RequestInit = {}) =>
  call(async () => {
    const response = await fetch(url, init)
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** The error code of a failed fetch (`ECONNREFUSED`, `UND_ERR_SOCKET`, …). */
export const transportCode = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string } }).cause
  return cause?.code ?? String(error)
}

/** Retries `effect` every 50 ms until it succeeds, for at most `limit`. */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, limit: Duration.DurationInput = "5 seconds") =>
  effect.pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(limit))))

/** Waits until a predicate over an effect's value holds. */
export const waitUntil = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  predicate: (value: A) => boolean,
  limit: Duration.DurationInput = "5 seconds"
) =>
  eventually(
    Effect.filterOrFail(effect, predicate, () => "not yet"),
    limit
  )

/** Whether a pid is alive (zombies count as dead). */
export const alive = pidAlive

/** The repository root. */
export const root = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "../..")

/** Whether the compiled emulator exists (child-process tests need it). */
export const distBuilt = existsSync(NodePath.join(root, "dist/emulator/ActionServerMain.js"))

/** Measures how long an effect takes. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => ({ millis: Duration.toMillis(duration), value }))

/** The host pid of the process whose command line is exactly `argv` (sandbox processes have their own pid namespace). */
export const hostPid = (argv: ReadonlyArray<string>): number | undefined => {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").slice(0, -1)
      if (cmdline.length === argv.length && cmdline.every((arg, i) => arg === argv[i])) return Number(entry)
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

/** An event seen on the emulator's Socket.IO gateway. */
export interface SeenEvent {
  readonly name: string
  readonly data: any
}

/**
 * Connects to the emulator's Socket.IO gateway as the SDK does (its API key as the token, WebSocket only) and
 * collects every event from then on into the array it returns; disconnects with the scope.
 */
export const watchEvents = (control: Pick<EmulatorControlService, "apiUrl" | "apiKey">) =>
  Effect.gen(function* () {
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() =>
        io(new URL(control.apiUrl).origin, {
          path: "/api/socket.io/",
          transports: ["websocket"],
          auth: { token: Redacted.value(control.apiKey) },
          reconnection: false
        })
      ),
      (s) => Effect.sync(() => s.disconnect())
    )
    yield* Effect.async<void>((resume) => {
      socket.on("connect", () => resume(Effect.void))
    })
    const events: Array<SeenEvent> = []
    socket.onAny((name: string, data: unknown) => events.push({ name, data }))
    return events
  })
