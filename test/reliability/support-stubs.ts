/**
 * Tiny HTTP servers on 127.0.0.1 for the malformed-response suites: a stub that answers each request
 * with whatever the test says (to feed the Daytona SDK and the action-server client bodies no real server
 * sends), a valid sandbox DTO to start from, and a rewriting proxy that stands in front of a standalone
 * emulator and spoils chosen answers (so the built CLI meets a broken action server).
 */
import * as Http from "node:http"
import * as Net from "node:net"
import type { AddressInfo } from "node:net"

/** What the stub answers to one request. */
export interface StubAnswer {
  readonly status?: number | undefined
  readonly contentType?: string | undefined
  readonly body?: string | undefined
  /** Announce the full length, send this many bytes of the body, then destroy the connection. */
  readonly truncateAt?: number | undefined
}

/** A request as the stub's handler sees it. */
export interface StubRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
}

/** Answers a request; `undefined` means 404. */
export type StubHandler = (request: StubRequest) => StubAnswer | undefined

/** A running stub. */
export interface Stub {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string
  /** Every request so far, as `METHOD /path`. */
  readonly requests: Array<string>
  readonly close: () => Promise<void>
}

const listen = async (server: Http.Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const closeServer = (server: Http.Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

const send = (response: Http.ServerResponse, answer: StubAnswer) => {
  const body = Buffer.from(answer.body ?? "")
  response.writeHead(answer.status ?? 200, {
    "content-type": answer.contentType ?? "application/json",
    "content-length": String(body.length)
  })
  if (answer.truncateAt === undefined) return void response.end(body)
  response.write(body.subarray(0, answer.truncateAt))
  setTimeout(() => response.socket?.destroy(), 20)
}

/** Starts a stub that answers every request through `handler` (which may be swapped through `set`). */
export const startStub = async (handler: StubHandler): Promise<Stub & { set: (next: StubHandler) => void }> => {
  let current = handler
  const requests: Array<string> = []
  const server = Http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://stub")
    requests.push(`${request.method} ${url.pathname}`)
    // Drain the request body before answering.
    request.resume()
    request.on("end", () => {
      const answer = current({ method: request.method ?? "GET", path: url.pathname, query: url.searchParams })
      send(response, answer ?? { status: 404, body: JSON.stringify({ statusCode: 404, message: "Not Found" }) })
    })
  })
  const origin = await listen(server)
  return {
    origin,
    requests,
    set: (next) => {
      current = next
    },
    close: () => closeServer(server)
  }
}

/** A JSON answer. */
export const json = (value: unknown, status = 200): StubAnswer => ({ status, body: JSON.stringify(value) })

/** An HTML error page, as a proxy or load balancer sends it. */
export const htmlPage = (status: number, title: string): StubAnswer => ({
  status,
  contentType: "text/html",
  body: `<html>\r\n<head><title>${status} ${title}</title></head>\r\n<body>\r\n<center><h1>${status} ${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
})

/** A valid `Sandbox` DTO of the Daytona API (the fields the SDK reads), with `overrides` on top. */
export const sandboxDto = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
  const now = new Date().toISOString()
  return {
    id: "sbx-stub-1",
    organizationId: "org-stub",
    name: "sbx-stub-1",
    snapshot: "daytonaio/sandbox:stub",
    user: "daytona",
    env: {},
    labels: { OpenHands_SID: "stub" },
    public: false,
    networkBlockAll: false,
    target: "us",
    cpu: 1,
    gpu: 0,
    memory: 1,
    disk: 3,
    state: "started",
    desiredState: "started",
    recoverable: false,
    backupState: "None",
    autoStopInterval: 15,
    autoArchiveInterval: 10080,
    autoDeleteInterval: -1,
    createdAt: now,
    updatedAt: now,
    lastActivityAt: now,
    sandboxClass: "container",
    toolboxProxyUrl: "http://127.0.0.1:9/toolbox",
    volumes: [],
    ...overrides
  }
}

/**
 * A Daytona API whose sandbox is `sandbox` (for get, list, start, stop, delete), with `override` asked first
 * for every request.
 */
export const daytonaApi =
  (sandbox: Record<string, unknown>, override: StubHandler = () => undefined): StubHandler =>
  (request) => {
    const answer = override(request)
    if (answer !== undefined) return answer
    if (!request.path.startsWith("/api/sandbox")) return undefined
    if (request.method === "GET" && request.path === "/api/sandbox") return json({ items: [sandbox], nextCursor: null })
    if (request.path.endsWith("/toolbox-proxy-url")) return json({ url: "http://127.0.0.1:9/toolbox" })
    return json(sandbox)
  }

/** A running proxy. */
export interface Proxy {
  /** `http://127.0.0.1:PORT`: use `${origin}/api` as the API URL. */
  readonly origin: string
  /** The upstream origins it stands in front of (the API's first), each with the proxy's origin for it. */
  readonly origins: () => ReadonlyArray<readonly [upstream: string, proxy: string]>
  readonly close: () => Promise<void>
}

const LOOPBACK_ORIGIN = /http:\/\/127\.0\.0\.1:\d+/g

/**
 * A proxy in front of `target` (an origin such as `http://127.0.0.1:1234`) and of every origin its answers lead to:
 * Daytona gives each preview (sandbox, port) an origin of its own, so each loopback origin named in a JSON answer or a
 * `Location` header gets a listener of the proxy, and is rewritten to it (preview links, the toolbox URL and
 * redirects lead back through the proxy). Every listener forwards requests and WebSocket upgrades (the SDK's event
 * socket, the toolbox's log stream) to its origin, and answers the requests `spoil` picks itself.
 */
export const startRewritingProxy = async (target: string, spoil: StubHandler): Promise<Proxy> => {
  const listeners = new Map<string, { readonly origin: Promise<string>; readonly server: Http.Server }>()
  const resolved = new Map<string, string>()
  const sockets = new Set<Net.Socket>()

  /** The proxy's origin for `upstream`, opening its listener on first use. */
  const proxyFor = (upstream: string): Promise<string> => {
    const known = listeners.get(upstream)
    if (known !== undefined) return known.origin
    const server = Http.createServer((request, response) => forward(upstream, request, response))
    server.on("upgrade", (request: Http.IncomingMessage, socket: Net.Socket, head: Buffer) =>
      tunnel(upstream, request, socket, head)
    )
    const origin = listen(server).then((opened) => {
      resolved.set(upstream, opened)
      return opened
    })
    listeners.set(upstream, { origin, server })
    return origin
  }

  /** `text` with every loopback origin replaced by the proxy's origin for it. */
  const rewrite = async (text: string): Promise<string> => {
    const found = [...new Set(text.match(LOOPBACK_ORIGIN) ?? [])]
    const ours = new Set(await Promise.all([...listeners.values()].map((listener) => listener.origin)))
    const mapping = await Promise.all(
      found.filter((origin) => !ours.has(origin)).map(async (origin) => [origin, await proxyFor(origin)] as const)
    )
    return mapping.reduce((acc, [from, to]) => acc.split(from).join(to), text)
  }

  const forward = (upstream: string, request: Http.IncomingMessage, response: Http.ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://proxy")
    const spoiled = spoil({ method: request.method ?? "GET", path: url.pathname, query: url.searchParams })
    if (spoiled !== undefined) {
      request.resume()
      request.on("end", () => send(response, spoiled))
      return
    }
    const headers = { ...request.headers, host: new URL(upstream).host }
    const outgoing = Http.request(`${upstream}${request.url ?? "/"}`, { method: request.method, headers }, (answer) => {
      const chunks: Array<Buffer> = []
      answer.on("data", (chunk: Buffer) => chunks.push(chunk))
      answer.on("end", () => {
        void (async () => {
          let body = Buffer.concat(chunks)
          if ((answer.headers["content-type"] ?? "").includes("json")) {
            body = Buffer.from(await rewrite(body.toString("utf8")))
          }
          const out: Http.OutgoingHttpHeaders = { ...answer.headers, "content-length": String(body.length) }
          if (typeof answer.headers.location === "string") out.location = await rewrite(answer.headers.location)
          delete out["transfer-encoding"]
          delete out["connection"]
          response.writeHead(answer.statusCode ?? 502, out)
          response.end(body)
        })()
      })
    })
    outgoing.on("error", () => send(response, htmlPage(502, "Bad Gateway")))
    request.pipe(outgoing)
  }

  /** A WebSocket upgrade: the request as it came (its host set to the upstream's), then bytes both ways. */
  const tunnel = (upstream: string, request: Http.IncomingMessage, socket: Net.Socket, head: Buffer) => {
    const { hostname, host, port } = new URL(upstream)
    const outgoing = Net.connect(Number(port), hostname, () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`]
      for (let i = 0; i < request.rawHeaders.length; i += 2) {
        const name = request.rawHeaders[i]!
        lines.push(`${name}: ${name.toLowerCase() === "host" ? host : request.rawHeaders[i + 1]}`)
      }
      outgoing.write(`${lines.join("\r\n")}\r\n\r\n`)
      if (head.length > 0) outgoing.write(head)
      outgoing.pipe(socket)
      socket.pipe(outgoing)
    })
    for (const end of [outgoing, socket]) {
      sockets.add(end)
      end.on("close", () => sockets.delete(end))
    }
    outgoing.on("error", () => socket.destroy())
    socket.on("error", () => outgoing.destroy())
  }

  const origin = await proxyFor(target)
  return {
    origin,
    origins: () => [...resolved.entries()],
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all([...listeners.values()].map((listener) => closeServer(listener.server)))
    }
  }
}
