/**
 * Request overhead: the `ActionServer` client (HttpClient over undici's keep-alive pool) against raw
 * `undici.request` to the same built-in action server's `GET /alive`, one request at a time, in
 * alternating blocks so that both see the same machine state. A third client, `HttpClient` itself with nothing
 * of ours on top, shows the floor of any client built on `@effect/platform`.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Duration, Effect, Exit, Layer, ManagedRuntime, Metric, Option, Redacted, Scope } from "effect"
import { Agent, request } from "undici"
import { serve } from "../src/emulator/ActionServerApp.js"
import * as ActionServerHttp from "../src/layers/ActionServerHttp.js"
import * as Retry from "../src/policies/Retry.js"
import * as Metrics from "../src/programs/Metrics.js"
import { ActionServer, type Endpoint, RequestTimeout } from "../src/services/ActionServer.js"
import { type BenchOptions, collectGarbage, now, quantile, round, tempDir } from "./support.js"

/** What `results.overhead` holds. */
export interface OverheadResult {
  readonly requests_each: number
  readonly block: number
  readonly ours_p50_us: number
  readonly raw_p50_us: number
  readonly ratio_p50: number
  readonly ours_p99_us: number
  readonly raw_p99_us: number
  readonly ratio_p99: number
  readonly ours_rps: number
  readonly raw_rps: number
  /** The bare `HttpClient` (undici, `filterStatusOk`, its own span), nothing of ours. */
  readonly platform_p50_us: number
  readonly platform_p99_us: number
  readonly platform_rps: number
  readonly platform_ratio_p50: number
  /**
   * CPU time of this process per request (client and the in-process server together, so the difference between two
   * clients is the client's own), in µs.
   */
  readonly ours_cpu_us?: number
  readonly raw_cpu_us?: number
  readonly platform_cpu_us?: number
  /** What our client adds to raw undici per request, in CPU µs (ours − raw). */
  readonly added_cpu_us?: number
  /** What the bare `HttpClient` adds (platform − raw): the part of `added_cpu_us` that is `@effect/platform`'s. */
  readonly platform_added_cpu_us?: number
  /**
   * What each guarantee of an action request costs: `HttpClient` with its tracing off, then each layer the runtime
   * puts around a request added on top of the previous, in CPU µs per request and what that layer added.
   */
  readonly guarantees?: ReadonlyArray<GuaranteeCost>
}

/** One row of the guarantee costs. */
export interface GuaranteeCost {
  readonly layer: string
  readonly cpu_us: number
  readonly added_us: number
}

/** The layers of the guarantee costs, each on top of the ones before it. */
const GUARANTEES = [
  "HttpClient, tracing off",
  "+ a timeout",
  "+ a span",
  "+ one action at a time",
  "+ the retry policy",
  "+ the duration metric"
] as const

const SESSION_KEY = "bench-session-key"

/** Runs the benchmark: `requests` each (20 000 full, 3 000 quick), in blocks of `block`. */
export const run = async (options: BenchOptions): Promise<OverheadResult> => {
  const requests = options.quick ? 3_000 : 20_000
  const block = 500
  const warmup = options.quick ? 500 : 2_000
  const dir = tempDir("overhead")
  const scope = Effect.runSync(Scope.make())
  const runtime = ManagedRuntime.make(
    Layer.merge(ActionServerHttp.layer, NodeHttpClient.layerUndici).pipe(Layer.provide(NodeHttpClient.layerUndici))
  )
  const agent = new Agent()
  try {
    const running = await Effect.runPromise(
      serve({
        port: 0,
        workingDir: dir.path,
        env: {},
        sessionApiKey: Option.some(SESSION_KEY),
        previewToken: Option.none(),
        vscodeToken: "",
        bootDelay: 0,
        badGatewayBurst: 0
      }).pipe(Scope.extend(scope))
    )
    const url = `http://127.0.0.1:${running.port}`
    const endpoint: Endpoint = { url, sessionApiKey: Redacted.make(SESSION_KEY), previewToken: Option.none() }

    const oursBlock = (n: number, into: Array<number>) =>
      Effect.gen(function* () {
        const server = yield* ActionServer
        for (let i = 0; i < n; i++) {
          const start = now()
          yield* server.alive(endpoint)
          into.push(now() - start)
        }
      })
    const platformBlock = (n: number, into: Array<number>) =>
      Effect.gen(function* () {
        const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
        const request = HttpClientRequest.get(`${url}/alive`).pipe(
          HttpClientRequest.setHeader("x-session-api-key", SESSION_KEY)
        )
        for (let i = 0; i < n; i++) {
          const start = now()
          yield* Effect.flatMap(client.execute(request), (response) => response.text)
          into.push(now() - start)
        }
      })
    // The guarantees, stacked one by one on the bare client (its own span off, as the runtime has it).
    const stacked = (layers: number) =>
      Effect.gen(function* () {
        const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient).pipe(
          HttpClient.withTracerDisabledWhen(() => true)
        )
        const oneAtATime = yield* Effect.makeSemaphore(1)
        const request = HttpClientRequest.get(`${url}/alive`).pipe(
          HttpClientRequest.setHeader("x-session-api-key", SESSION_KEY)
        )
        const timeout = Duration.seconds(5)
        const metric = Metrics.actionDurationOf("alive")
        let one: Effect.Effect<unknown, unknown> = Effect.flatMap(client.execute(request), (response) => response.text)
        if (layers > 1) {
          one = Effect.timeoutFail(one, { duration: timeout, onTimeout: () => new RequestTimeout({ url, timeout }) })
        }
        if (layers > 2) one = Effect.withSpan(one, "ActionServer.alive", { kind: "client", captureStackTrace: false })
        if (layers > 3) one = oneAtATime.withPermits(1)(one)
        if (layers > 4) one = Effect.retry(one as Effect.Effect<unknown, never>, Retry.actionRequest)
        if (layers > 5) {
          const inner = one
          one = Effect.flatMap(
            Effect.clockWith((clock) => clock.currentTimeMillis),
            (start) =>
              Effect.ensuring(
                inner,
                Effect.flatMap(
                  Effect.clockWith((clock) => clock.currentTimeMillis),
                  (end) => Metric.update(metric, end - start)
                )
              )
          )
        }
        return one
      })
    const guaranteeBlock = (layers: number) => (n: number, into: Array<number>) =>
      runtime.runPromise(
        Effect.gen(function* () {
          const one = yield* stacked(layers)
          for (let i = 0; i < n; i++) {
            const start = now()
            yield* Effect.orDie(one)
            into.push(now() - start)
          }
        })
      )
    const rawBlock = async (n: number, into: Array<number>) => {
      for (let i = 0; i < n; i++) {
        const start = now()
        const response = await request(`${url}/alive`, {
          dispatcher: agent,
          headers: { "x-session-api-key": SESSION_KEY }
        })
        await response.body.text()
        if (response.statusCode !== 200) throw new Error(`raw /alive answered ${response.statusCode}`)
        into.push(now() - start)
      }
    }

    // Warm both paths (JIT, connection pools), then measure in alternating blocks.
    const blocks = {
      ours: (n: number, into: Array<number>) => runtime.runPromise(oursBlock(n, into)),
      raw: rawBlock,
      platform: (n: number, into: Array<number>) => runtime.runPromise(platformBlock(n, into)),
      ...Object.fromEntries(GUARANTEES.map((layer, i) => [layer, guaranteeBlock(i + 1)]))
    } as Record<
      "ours" | "raw" | "platform" | (typeof GUARANTEES)[number],
      (n: number, into: Array<number>) => Promise<unknown>
    >
    type Client = keyof typeof blocks
    const clients: ReadonlyArray<Client> = ["ours", "raw", "platform", ...GUARANTEES]
    for (const client of clients) await blocks[client](warmup, [])
    collectGarbage()
    const samples = Object.fromEntries(clients.map((client) => [client, [] as Array<number>])) as Record<
      Client,
      Array<number>
    >
    const spent = Object.fromEntries(clients.map((client) => [client, 0])) as Record<Client, number>
    const cpu = Object.fromEntries(clients.map((client) => [client, 0])) as Record<Client, number>
    for (let done = 0, turn = 0; done < requests; turn++) {
      const n = Math.min(block, requests - done)
      // Rotate which goes first, so none always follows another's garbage.
      for (let k = 0; k < clients.length; k++) {
        const client = clients[(turn + k) % clients.length]!
        const start = now()
        const used = process.cpuUsage()
        await blocks[client](n, samples[client])
        const after = process.cpuUsage(used)
        spent[client] += now() - start
        cpu[client] += after.user + after.system
      }
      done += n
    }
    const { ours, raw, platform } = samples
    const result: OverheadResult = {
      requests_each: requests,
      block,
      ours_p50_us: round(quantile(ours, 0.5) * 1000, 1),
      raw_p50_us: round(quantile(raw, 0.5) * 1000, 1),
      ratio_p50: round(quantile(ours, 0.5) / quantile(raw, 0.5), 3),
      ours_p99_us: round(quantile(ours, 0.99) * 1000, 1),
      raw_p99_us: round(quantile(raw, 0.99) * 1000, 1),
      ratio_p99: round(quantile(ours, 0.99) / quantile(raw, 0.99), 3),
      ours_rps: Math.round(requests / (spent.ours / 1000)),
      raw_rps: Math.round(requests / (spent.raw / 1000)),
      platform_p50_us: round(quantile(platform, 0.5) * 1000, 1),
      platform_p99_us: round(quantile(platform, 0.99) * 1000, 1),
      platform_rps: Math.round(requests / (spent.platform / 1000)),
      platform_ratio_p50: round(quantile(platform, 0.5) / quantile(raw, 0.5), 3),
      ours_cpu_us: round(cpu.ours / requests, 1),
      raw_cpu_us: round(cpu.raw / requests, 1),
      platform_cpu_us: round(cpu.platform / requests, 1),
      added_cpu_us: round((cpu.ours - cpu.raw) / requests, 1),
      platform_added_cpu_us: round((cpu.platform - cpu.raw) / requests, 1),
      guarantees: GUARANTEES.map((layer, i) => ({
        layer,
        cpu_us: round(cpu[layer] / requests, 1),
        added_us: round((cpu[layer] - cpu[i === 0 ? "raw" : GUARANTEES[i - 1]!]) / requests, 1)
      }))
    }
    options.log(
      `overhead: ours p50 ${result.ours_p50_us} µs, raw p50 ${result.raw_p50_us} µs (×${result.ratio_p50}); ` +
        `${result.ours_rps} vs ${result.raw_rps} req/s; bare HttpClient p50 ${result.platform_p50_us} µs ` +
        `(×${result.platform_ratio_p50}); CPU per request ${result.ours_cpu_us} vs ${result.raw_cpu_us} µs ` +
        `(+${result.added_cpu_us} µs; bare HttpClient +${result.platform_added_cpu_us} µs)`
    )
    options.log(
      `overhead: guarantees ${result.guarantees!.map((row) => `${row.layer} ${row.added_us >= 0 ? "+" : ""}${row.added_us} µs`).join(", ")}`
    )
    return result
  } finally {
    await agent.close()
    await runtime.dispose()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    dir.remove()
  }
}
