/**
 * The action-server half of the raw baselines, written as a user of undici and plain async/await would:
 * poll `/alive` every second until it answers, then run `true` through `/execute_action`.
 */
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

/** Runs `true` through `${base}/execute_action`; fails unless it exits 0. */
export const runTrue = async (base: string, agent: Agent, headers: Record<string, string>): Promise<void> => {
  const response = await request(`${base}/execute_action`, {
    dispatcher: agent,
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({
      action: {
        action: "run",
        args: { command: "true", is_input: false, thought: "", blocking: true, timeout: 120 },
        timeout: 120
      }
    })
  })
  const observation = (await response.body.json()) as { extras?: { metadata?: { exit_code?: number } } }
  if (response.statusCode !== 200 || observation.extras?.metadata?.exit_code !== 0) {
    throw new Error(`execute_action answered ${response.statusCode}`)
  }
}
