/**
 * `GET /process/session/{id}/command/{cmd}/logs` as Daytona serves it: the whole log in the caller's format
 * (`SessionLogs.ts`); with `follow=true` and a WebSocket upgrade, the log streamed as binary frames while the
 * command runs (closed normally once it has ended and everything was sent); with `follow=true` over plain HTTP, the
 * runner's stream of the combined output.
 *
 * @since 0.2.0
 */
import { HttpServerRequest, HttpServerResponse, Socket } from "@effect/platform"
import { Deferred, Effect, Option, Stream } from "effect"
import { closeSync, openSync, readFileSync, readSync } from "node:fs"
import type { HttpFailure } from "./Dto.js"
import { json } from "./Handler.js"
import type { SessionCommand } from "./Sessions.js"
import { demux, logFormatOf, markerStripper, stripMarkers, text } from "./SessionLogs.js"
import { daemonFailure } from "./ToolboxHttp.js"

const CHUNK = 64 * 1024

const plain = (body: string) => HttpServerResponse.text(body, { contentType: "text/plain; charset=utf-8" })

/**
 * The log of a command as it grows, until the command has ended (or `ended` completes) and all of it was read.
 *
 * @since 0.2.0
 */
export const tailLog = (command: SessionCommand, ended: Deferred.Deferred<void>): Stream.Stream<Uint8Array> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const fd = yield* Effect.acquireRelease(
        Effect.sync(() => {
          try {
            return openSync(command.log, "r")
          } catch {
            return undefined
          }
        }),
        (fd) => Effect.sync(() => fd !== undefined && closeSync(fd))
      )
      if (fd === undefined) return Stream.empty
      let offset = 0
      const next = () => {
        const buffer = Buffer.alloc(CHUNK)
        const read = readSync(fd, buffer, 0, CHUNK, offset)
        offset += read
        return buffer.subarray(0, read)
      }
      const over = Effect.map(
        Effect.all([Deferred.isDone(command.running.done), Deferred.isDone(ended)]),
        ([done, gone]) => done || gone
      )
      const wake = Effect.raceFirst(
        Effect.sleep("20 millis"),
        Effect.raceFirst(Deferred.await(command.running.done), Deferred.await(ended))
      )
      const pull: Effect.Effect<Uint8Array, Option.Option<never>> = Effect.gen(function* () {
        for (;;) {
          const chunk = next()
          if (chunk.length > 0) return new Uint8Array(chunk)
          if (yield* over) {
            const last = next()
            if (last.length > 0) return new Uint8Array(last)
            return yield* Effect.fail(Option.none())
          }
          yield* wake
        }
      })
      return Stream.repeatEffectOption(pull)
    })
  )

/** Removes markers from a stream, markers split across chunks included. */
const stripStream = (stream: Stream.Stream<Uint8Array>) =>
  Stream.suspend(() => {
    const stripper = markerStripper()
    return Stream.concat(
      Stream.map(stream, stripper.push),
      Stream.sync(() => stripper.flush())
    ).pipe(Stream.filter((chunk) => chunk.length > 0))
  })

/** Sends a stream as binary frames over the upgraded connection, then closes it normally. */
const overWebSocket = (request: HttpServerRequest.HttpServerRequest, stream: Stream.Stream<Uint8Array>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const socket = yield* request.upgrade
      const write = yield* socket.writer
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Effect.forkScoped(
            Stream.runForEach(stream, (chunk) => write(chunk)).pipe(
              Effect.zipRight(write(new Socket.CloseEvent(1000))),
              Effect.ignore
            )
          )
          yield* socket.runRaw(() => {}).pipe(Effect.ignore)
        })
      )
      return HttpServerResponse.empty()
    })
  ).pipe(Effect.catchAll(() => Effect.succeed(HttpServerResponse.empty())))

/**
 * The logs answer for one command.
 *
 * @since 0.2.0
 */
export const commandLogs = (
  command: SessionCommand,
  ended: Deferred.Deferred<void>,
  follow: boolean
): Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const format = logFormatOf(request.headers)
    if ((request.headers["upgrade"] ?? "").toLowerCase() === "websocket") {
      const stream = follow ? tailLog(command, ended) : Stream.fromEffect(Effect.sync(() => readLog(command)))
      return yield* overWebSocket(request, format.combined ? stripStream(stream) : stream)
    }
    if (follow) {
      return HttpServerResponse.stream(stripStream(tailLog(command, ended)), {
        contentType: "application/octet-stream"
      })
    }
    const log = yield* Effect.try({
      try: () => readLog(command),
      catch: () => daemonFailure(404, "NOT_FOUND", `not found: open ${command.log}: no such file or directory`)
    })
    if (format.combined) return plain(text(stripMarkers(log)))
    if (!format.skipDemux) {
      const { stderr, stdout } = demux(log)
      return json({ output: text(log), stdout: text(stdout), stderr: text(stderr) })
    }
    return plain(text(log))
  })

/**
 * The whole log of a command.
 *
 * @since 0.2.0
 */
export const readLog = (command: SessionCommand): Uint8Array => new Uint8Array(readFileSync(command.log))
