/**
 * The unit-test harness of the runtime: the in-memory client, the scripted action server, a
 * recording event bus and a config — all under TestClock.
 */
import { Duration, Effect, Exit, Fiber, Layer, Option, Ref, TestClock } from "effect"
import * as DaytonaClientMemory from "../../src/layers/DaytonaClientMemory.js"
import * as Coordinator from "../../src/programs/Coordinator.js"
import { DaytonaClient, type DaytonaClientService } from "../../src/services/DaytonaClient.js"
import { DaytonaConfig, type DaytonaSettingsInput } from "../../src/services/DaytonaConfig.js"
import { type RuntimeEvent, RuntimeEvents } from "../../src/services/RuntimeEvents.js"
import * as Scripted from "./ScriptedActionServer.js"
import { Stream } from "effect"

export const API_KEY = "dtn_CANARY_api_key_0123456789"

export class RecordedEvents extends Effect.Tag("test/RecordedEvents")<
  RecordedEvents,
  { readonly all: Effect.Effect<ReadonlyArray<RuntimeEvent>> }
>() {}

/** An event bus that also keeps every event, in order. */
export const recordingEvents = Layer.unwrapEffect(
  Effect.gen(function* () {
    const log = yield* Ref.make<ReadonlyArray<RuntimeEvent>>([])
    const events = RuntimeEvents.of({
      publish: (event) => Ref.update(log, (all) => [...all, event]),
      subscribe: Effect.succeed(Stream.empty),
      stream: Stream.empty
    })
    return Layer.merge(Layer.succeed(RuntimeEvents, events), Layer.succeed(RecordedEvents, { all: Ref.get(log) }))
  })
)

/** Wraps chosen client methods with a delay (to open a window for an interruption in that phase). */
export const delayed = (
  client: DaytonaClientService,
  delays: Partial<Record<keyof DaytonaClientService, Duration.DurationInput>>
): DaytonaClientService => {
  const wrapped: Record<string, unknown> = { ...client }
  for (const [method, delay] of Object.entries(delays)) {
    const original = (
      client as unknown as Record<string, (...args: Array<unknown>) => Effect.Effect<unknown, unknown>>
    )[method]!
    wrapped[method] = (...args: Array<unknown>) => Effect.zipRight(Effect.sleep(delay!), original(...args))
  }
  return wrapped as unknown as DaytonaClientService
}

export interface HarnessOptions {
  readonly config?: Partial<DaytonaSettingsInput>
  readonly memory?: DaytonaClientMemory.MemoryOptions
  readonly delays?: Partial<Record<keyof DaytonaClientService, Duration.DurationInput>>
  /** Changes the client the runtime sees (e.g. answers the in-memory client does not give). */
  readonly wrap?: (client: DaytonaClientService) => DaytonaClientService
}

/** Everything `DaytonaRuntime.acquire` needs, in memory, plus the controls. */
export const harness = (options: HarnessOptions = {}) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const made = yield* DaytonaClientMemory.make(options.memory)
      const { control } = made
      const client = options.wrap === undefined ? made.client : options.wrap(made.client)
      const config = DaytonaConfig.layerFrom({ apiKey: API_KEY, ...options.config })
      return Layer.mergeAll(
        Layer.succeed(DaytonaClient, options.delays === undefined ? client : delayed(client, options.delays)),
        Layer.succeed(DaytonaClientMemory.DaytonaClientMemoryControl, control),
        Scripted.layer,
        recordingEvents,
        Layer.provide(Coordinator.layer, config),
        Layer.orDie(config)
      )
    })
  )

/** Runs `effect` while advancing the TestClock in steps, until it ends (or `limit` of virtual time). */
export const clocked = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly step?: Duration.DurationInput; readonly limit?: Duration.DurationInput } = {}
): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  Effect.gen(function* () {
    const step = Duration.decode(options.step ?? "100 millis")
    const limit = Duration.toMillis(Duration.decode(options.limit ?? "10 minutes"))
    const fiber = yield* Effect.fork(effect)
    for (let elapsed = 0; elapsed <= limit; elapsed += Duration.toMillis(step)) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.interrupt(fiber)
  })

/** Runs an effect that needs a scope in its own scope, under the clock; returns its exit. */
export const clockedScoped = <A, E, R>(effect: Effect.Effect<A, E, R>) => clocked(Effect.scoped(effect))

/** The tags of events, in order. */
export const tags = (events: ReadonlyArray<RuntimeEvent>): ReadonlyArray<string> =>
  events.map((event) => (event._tag === "StatusChanged" ? `status:${event.status}` : event._tag))
