/**
 * The in-memory event bus: an unbounded `PubSub`.
 *
 * @since 0.1.0
 */
import { Effect, Layer, PubSub, Stream } from "effect"
import { RuntimeEvents } from "../services/RuntimeEvents.js"
import type { RuntimeEvent } from "../services/RuntimeEvents.js"

/**
 * Builds an event bus; it is shut down with the scope.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function* () {
  const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<RuntimeEvent>(), PubSub.shutdown)
  return RuntimeEvents.of({
    publish: (event) => Effect.asVoid(PubSub.publish(pubsub, event)),
    subscribe: Effect.map(PubSub.subscribe(pubsub), (queue) => Stream.fromQueue(queue)),
    stream: Stream.fromPubSub(pubsub)
  })
})

/**
 * The in-memory event bus.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<RuntimeEvents> = Layer.scoped(RuntimeEvents, make)
