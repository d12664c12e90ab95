/**
 * The faults the emulator injects into its built-in action execution server, one request at a time: a status, a
 * body that is not JSON, a crash, a slow body, latency.
 *
 * @since 0.2.0
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/** The routes a fault can be injected into. */
export type ActionServerRoute = "alive" | "execute_action" | "list_files" | "vscode_token" | "upload_file"

/**
 * A fault injected into one request.
 *
 * @since 0.1.0
 */
export type ActionServerFault = Data.TaggedEnum<{
  /** Answer this status with `{"detail": body ?? reason}`. */
  Status: { readonly status: number; readonly body?: string | undefined }
  /** Answer 200 with a body that is not JSON. */
  Malformed: {}
  /** The server dies mid-request: the socket is destroyed and the server stops listening. */
  Crash: {}
  /** Send the headers, then trickle the body over `duration`. */
  SlowLoris: { readonly duration: Duration.DurationInput }
  /** Wait `duration`, then answer normally. */
  Latency: { readonly duration: Duration.DurationInput }
}>

/**
 * Constructors and matchers for {@link ActionServerFault}.
 *
 * @since 0.1.0
 */
export const ActionServerFault = Data.taggedEnum<ActionServerFault>()

/**
 * What a Crash fault needs of the server: where to signal it, and how to take the server down.
 *
 * @since 0.2.0
 */
export interface Crashable {
  readonly crashed: Deferred.Deferred<void>
  /** Stops listening, drops every connection and ends the shells. */
  readonly halt: Effect.Effect<void>
}

/**
 * The response sent over `duration` in up to 8 pieces, its headers at once.
 *
 * @since 0.1.0
 */
export const trickle = (response: HttpServerResponse.HttpServerResponse, duration: Duration.DurationInput) => {
  const bytes = response.body._tag === "Uint8Array" ? response.body.body : new TextEncoder().encode("{}")
  const count = Math.max(1, Math.min(8, bytes.length))
  const size = Math.ceil(bytes.length / count)
  const pieces = Array.from({ length: count }, (_, i) => bytes.subarray(i * size, (i + 1) * size))
  const step = Duration.unsafeDivide(Duration.decode(duration), Math.max(1, count - 1))
  const rest = count === 1 ? Stream.drain(Stream.fromEffect(Effect.sleep(step))) : Stream.empty
  const body = Stream.fromIterable(pieces).pipe(
    Stream.zipWithIndex,
    Stream.mapEffect(([piece, i]) => (i === 0 ? Effect.succeed(piece) : Effect.as(Effect.sleep(step), piece))),
    Stream.concat(rest)
  )
  return HttpServerResponse.stream(body, { status: response.status, contentType: "application/json" })
}

/**
 * The server dies mid-request: the socket is destroyed and the server halts.
 *
 * @since 0.1.0
 */
export const crash = (state: Crashable, log: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    yield* log("ERROR:    the action execution server crashed (injected fault)")
    yield* Deferred.succeed(state.crashed, undefined)
    yield* Effect.sync(() => NodeHttpServerRequest.toIncomingMessage(request).socket.destroy())
    yield* state.halt
    return yield* Effect.interrupt
  })
