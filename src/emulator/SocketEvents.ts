/**
 * The Socket.IO gateway of Daytona's API (`apps/api/src/notification/gateways/notification.gateway.ts`): served
 * at `/api/socket.io/`, WebSocket transport only, authenticated by the `auth.token` of the CONNECT packet (the
 * API key; anything else is refused "Unauthorized"), each socket in its organization's room. It forwards the
 * store's events as the gateway emits them: `sandbox.created` (the sandbox), `sandbox.state.updated`
 * (`{sandbox, oldState, newState}`) and `sandbox.desired-state.updated` (`{sandbox, oldDesiredState,
 * newDesiredState}`). With no socket connected nothing is serialized.
 *
 * The engine is bound to the emulator's Node server beside the Effect router: upgrades and requests under the
 * path go to Socket.IO, everything else to the router as before.
 *
 * @since 0.1.0
 */
import { Effect, Ref } from "effect"
import type { Scope } from "effect"
import type * as Http from "node:http"
import { timingSafeEqual } from "node:crypto"
import { createServer } from "node:http"
import { Server } from "socket.io"
import type { SandboxRecord } from "./Dto.js"
import type { Store } from "./Store.js"

/**
 * The path the SDK connects to (`{apiUrl path}/socket.io/`).
 *
 * @since 0.1.0
 */
export const SOCKET_PATH = "/api/socket.io/"

/**
 * Counts of Socket.IO clients.
 *
 * @since 0.1.0
 */
export interface SocketStats {
  /** Connected now. */
  readonly connected: number
  /** Connected since the emulator started. */
  readonly total: number
  /** Connections refused (bad or missing token). */
  readonly refused: number
}

/**
 * The running gateway.
 *
 * @since 0.1.0
 */
export interface SocketEvents {
  readonly stats: Effect.Effect<SocketStats>
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Attaches the gateway to the emulator's Node server (after the Effect router serves on it); it closes with the
 * calling scope.
 *
 * @since 0.1.0
 */
export const attachSocketEvents = (options: {
  readonly server: Http.Server
  readonly store: Store
  readonly apiKey: Ref.Ref<string>
  readonly organizationId: string
  readonly toDto: (record: SandboxRecord) => unknown
}): Effect.Effect<SocketEvents, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { organizationId, server, store, toDto } = options
    // Socket.IO is bound to a server that never listens; the emulator's server hands it its own requests.
    const io = new Server(createServer(), {
      path: SOCKET_PATH,
      transports: ["websocket"],
      serveClient: false,
      allowUpgrades: false
    })
    const counts = { total: 0, refused: 0 }
    const apiKey = options.apiKey
    io.use((socket, next) => {
      const token: unknown = socket.handshake.auth?.["token"]
      const key = Effect.runSync(Ref.get(apiKey))
      if (typeof token === "string" && same(token, key)) {
        counts.total++
        void socket.join(organizationId)
        next()
      } else {
        counts.refused++
        next(new Error("Unauthorized"))
      }
    })

    const inPath = (url: string | undefined) => url !== undefined && url.startsWith(SOCKET_PATH)
    const upgrades = server.listeners("upgrade") as Array<(...args: Array<unknown>) => void>
    const requests = server.listeners("request") as Array<(...args: Array<unknown>) => void>
    server.removeAllListeners("upgrade")
    server.removeAllListeners("request")
    server.on("upgrade", (request: Http.IncomingMessage, socket, head) => {
      if (inPath(request.url)) io.engine.handleUpgrade(request, socket, head)
      else for (const listener of upgrades) listener.call(server, request, socket, head)
    })
    server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      if (inPath(request.url)) io.engine.handleRequest(request, response)
      else for (const listener of requests) listener.call(server, request, response)
    })

    const unsubscribe = store.subscribe((event) => {
      if (io.engine.clientsCount === 0) return
      const room = io.to(organizationId)
      switch (event._tag) {
        case "Created":
          room.emit("sandbox.created", toDto(event.record))
          break
        case "StateUpdated":
          room.emit("sandbox.state.updated", {
            sandbox: toDto(event.record),
            oldState: event.oldState,
            newState: event.newState
          })
          break
        case "DesiredStateUpdated":
          room.emit("sandbox.desired-state.updated", {
            sandbox: toDto(event.record),
            oldDesiredState: event.oldDesiredState,
            newDesiredState: event.newDesiredState
          })
          break
      }
    })

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        unsubscribe()
        await io.close()
      })
    )

    return {
      stats: Effect.sync(() => ({ connected: io.engine.clientsCount, total: counts.total, refused: counts.refused }))
    }
  })
