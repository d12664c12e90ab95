/**
 * The raw baselines, written as a user of the SDK, undici and plain async/await would, making the calls our runtime
 * makes over the wire for a new sandbox:
 *
 * 1. admission: at most 16 creates in flight, paced to the create rate (a plain token bucket: a tenth of the rate at
 *    once, the rest spread, one token every `ceil(interval / burst)` ms — the same bucket as the Coordinator's);
 * 2. `daytona.create` without env vars, with the runtime's labels (SID, owner, creation time, acquire id, lease);
 * 3. the session key, HMAC-SHA-256 of the sandbox id under the API key (as `SessionKey.derive`);
 * 4. the preview link of 4444, the server session and its start command (`export …` of the server env, then the
 *    OpenHands launch);
 * 5. `GET /alive` every second until it answers;
 * 6. the shell setup (hidden, non-blocking `run`s: hide the session key, git config) and `run("true")`;
 * 7. `sandbox.stop()`.
 *
 * Its strings and bodies are checked against the runtime's own in `test/bench/raw.test.ts`.
 */
import type * as Sdk from "@daytonaio/sdk"
import { createHmac, randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { performance } from "node:perf_hooks"
import { type Agent, request } from "undici"

/** Polls `${base}/alive` every second until it answers 200 (at most `maxAttempts` polls). */
export const waitAlive = async (
  base: string,
  agent: Agent,
  headers: Record<string, string>,
  maxAttempts = 121
): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    const alive = await request(`${base}/alive`, { dispatcher: agent, headers }).catch(() => undefined)
    await alive?.body.text()
    if (alive?.statusCode === 200) return
    if (attempt >= maxAttempts) throw new Error(`${base}/alive did not answer`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

/** The body of `POST /execute_action` for a `run` of `command`, as the runtime sends it (OpenHands' event). */
export const runBody = (command: string, options: { readonly hidden?: boolean; readonly blocking?: boolean } = {}) => ({
  action: {
    message: `Running command: ${command}`,
    action: "run",
    args: {
      command,
      is_input: false,
      thought: "",
      blocking: options.blocking ?? false,
      is_static: false,
      cwd: null,
      hidden: options.hidden ?? false,
      confirmation_state: "confirmed",
      security_risk: -1
    },
    timeout: 120
  }
})

/** Runs `command` through `${base}/execute_action`; returns its exit code (fails on an HTTP error). */
export const run = async (
  base: string,
  agent: Agent,
  headers: Record<string, string>,
  command: string,
  options: { readonly hidden?: boolean; readonly blocking?: boolean } = {}
): Promise<number | undefined> => {
  const response = await request(`${base}/execute_action`, {
    dispatcher: agent,
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(runBody(command, options))
  })
  const observation = (await response.body.json()) as { extras?: { metadata?: { exit_code?: number } } }
  if (response.statusCode !== 200) {
    throw new Error(`execute_action of ${JSON.stringify(command)} answered ${response.statusCode}`)
  }
  return observation.extras?.metadata?.exit_code
}

/** Runs `true` as `handle.run("true")` does (non-blocking, 120 s); fails unless it exits 0. */
export const runTrue = async (base: string, agent: Agent, headers: Record<string, string>): Promise<void> => {
  const exitCode = await run(base, agent, headers, "true")
  if (exitCode !== 0) throw new Error(`run("true") exited ${exitCode}`)
}

/** The shell setup after the server first answers (`Setup.setupShell` with no env vars). */
export const SETUP_COMMANDS: ReadonlyArray<string> = [
  "touch ~/.bashrc; grep -qx 'unset SESSION_API_KEY' ~/.bashrc || echo 'unset SESSION_API_KEY' >> ~/.bashrc; " +
    'exec env -u SESSION_API_KEY "${BASH:-bash}"',
  `alias git="git --no-pager"; git config --global user.name 'openhands' && ` +
    `git config --global user.email 'openhands@all-hands.dev'`
]

/** The server's start command with its environment (`Options.startCommandFor` with the defaults). */
export const startCommand = (sessionKey: string): string =>
  "mkdir -p /workspace && cd /openhands/code && " +
  `export port=4444 PYTHONUNBUFFERED=1 VSCODE_PORT=4445 SESSION_API_KEY=${sessionKey} && ` +
  "/openhands/micromamba/bin/micromamba run -n openhands poetry run " +
  "python -u -m openhands.runtime.action_execution_server 4444 --working-dir /workspace " +
  "--username openhands --user-id 1000 --no-enable-browser"

/** `SessionKey.derive`: HMAC-SHA-256 of the sandbox id under the API key, in hex. */
export const sessionKeyOf = (apiKey: string, sandboxId: string): string =>
  createHmac("sha256", apiKey).update(`effect-daytona/session-key/v1/${sandboxId}`).digest("hex")

const holder = `${hostname()
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, "-")
  .slice(0, 40)}-${process.pid}-raw`.slice(0, 63)

/** The labels the runtime puts on a sandbox it creates (lease for 15 minutes, as the default keep-alive of 5). */
export const labelsFor = (sid: string, now: number): Record<string, string> => ({
  OpenHands_SID: sid,
  "effect-daytona/owner": "effect-daytona",
  "effect-daytona/created-at": new Date(now).toISOString(),
  "effect-daytona/acquire-id": randomBytes(16).toString("hex"),
  "effect-daytona/holder": holder,
  "effect-daytona/lease-generation": "1",
  "effect-daytona/heartbeat": new Date(now).toISOString(),
  "effect-daytona/lease-expires": new Date(now + 15 * 60_000).toISOString()
})

/** Admission as a plain user writes it: a counting semaphore and a token bucket. */
export interface Pacer {
  readonly admit: <A>(create: () => Promise<A>) => Promise<A>
  readonly close: () => void
}

/**
 * At most `maxConcurrent` creates in flight; with `perMinute` > 0, a bucket of a tenth of the rate refilled one token
 * at a time so that the rest of the rate is spread over the minute (the Coordinator's pacing).
 */
export const makePacer = (maxConcurrent: number, perMinute: number): Pacer => {
  let slots = maxConcurrent
  const slotWaiters: Array<() => void> = []
  const burst = Math.max(1, Math.floor(perMinute / 10))
  const sustained = perMinute - burst
  const intervalMs = sustained <= 0 ? 60_000 : (60_000 * burst) / sustained
  const millisPerToken = Math.ceil(intervalMs / burst)
  let tokens = burst
  const tokenWaiters: Array<() => void> = []
  let timer: NodeJS.Timeout | undefined
  const refill = () => {
    timer = undefined
    const waiter = tokenWaiters.shift()
    if (waiter !== undefined) waiter()
    else tokens++
    if (tokens < burst) timer = setTimeout(refill, millisPerToken)
  }
  const token = (): Promise<void> => {
    if (perMinute <= 0) return Promise.resolve()
    const wait =
      tokens > 0
        ? (tokens--, Promise.resolve())
        : new Promise<void>((resolve) => {
            tokenWaiters.push(resolve)
          })
    if (timer === undefined) timer = setTimeout(refill, millisPerToken)
    return wait
  }
  const slot = (): Promise<void> =>
    slots > 0
      ? (slots--, Promise.resolve())
      : new Promise<void>((resolve) => {
          slotWaiters.push(resolve)
        })
  const free = () => {
    const waiter = slotWaiters.shift()
    if (waiter !== undefined) waiter()
    else slots++
  }
  return {
    admit: async (create) => {
      await slot()
      try {
        await token()
        return await create()
      } finally {
        free()
      }
    },
    close: () => {
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}

/**
 * One lifecycle with the raw SDK, as described at the top. Returns the connect time (until `/alive` answered and the
 * setup ran, as `acquire` returns).
 */
export const lifecycle = async (
  daytona: Sdk.Daytona,
  apiKey: string,
  agent: Agent,
  pacer: Pacer,
  sid: string
): Promise<number> => {
  const begin = performance.now()
  const sandbox = await pacer.admit(() =>
    daytona.create(
      {
        language: "python",
        envVars: {},
        labels: labelsFor(sid, Date.now()),
        public: false,
        autoStopInterval: 60
      },
      { timeout: 60 }
    )
  )
  try {
    const key = sessionKeyOf(apiKey, sandbox.id)
    const link = await sandbox.getPreviewLink(4444)
    await sandbox.process.createSession("action-execution-server")
    await sandbox.process.executeSessionCommand("action-execution-server", {
      command: startCommand(key),
      runAsync: true
    })
    const headers = { "x-session-api-key": key, "x-daytona-preview-token": link.token }
    const base = link.url.replace(/\/+$/, "")
    await waitAlive(base, agent, headers)
    // The key must leave the shell; a failed git config is only a warning (as the runtime's setup).
    const [hide, git] = SETUP_COMMANDS
    const hidden = await run(base, agent, headers, hide!, { hidden: true })
    if (hidden !== 0) throw new Error(`removing SESSION_API_KEY from the shell exited ${hidden}`)
    await run(base, agent, headers, git!, { hidden: true })
    const connected = performance.now() - begin
    await runTrue(base, agent, headers)
    return connected
  } finally {
    await sandbox.stop()
  }
}
