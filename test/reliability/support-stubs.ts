/**
 * Tiny HTTP servers on 127.0.0.1 for the malformed-response suites: a stub that answers each request
 * with whatever the test says (to feed the Daytona SDK and the action-server client bodies no real server
 * sends), a valid sandbox DTO to start from, and a rewriting proxy that stands in front of a standalone
 * emulator and spoils chosen answers (so the built CLI meets a broken action server).
 */
import * as Http from "node:http"
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
  readonly close: () => Promise<void>
}

/**
 * A proxy in front of `target` (an origin such as `http://127.0.0.1:1234`): it forwards every request, writes its
 * own origin in place of the target's in JSON answers (so preview links lead back through it), and answers the
 * requests `spoil` picks itself.
 */
export const startRewritingProxy = async (target: string, spoil: StubHandler): Promise<Proxy> => {
  let origin = ""
  const targetHost = new URL(target).host
  const server = Http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://proxy")
    const spoiled = spoil({ method: request.method ?? "GET", path: url.pathname, query: url.searchParams })
    if (spoiled !== undefined) {
      request.resume()
      request.on("end", () => send(response, spoiled))
      return
    }
    const headers = { ...request.headers, host: targetHost }
    const upstream = Http.request(`${target}${request.url ?? "/"}`, { method: request.method, headers }, (answer) => {
      const chunks: Array<Buffer> = []
      answer.on("data", (chunk: Buffer) => chunks.push(chunk))
      answer.on("end", () => {
        let body = Buffer.concat(chunks)
        if ((answer.headers["content-type"] ?? "").includes("json")) {
          body = Buffer.from(body.toString("utf8").split(target).join(origin))
        }
        const out: Http.OutgoingHttpHeaders = { ...answer.headers, "content-length": String(body.length) }
        delete out["transfer-encoding"]
        delete out["connection"]
        response.writeHead(answer.statusCode ?? 502, out)
        response.end(body)
      })
    })
    upstream.on("error", () => send(response, htmlPage(502, "Bad Gateway")))
    request.pipe(upstream)
  })
  origin = await listen(server)
  return { origin, close: () => closeServer(server) }
}
