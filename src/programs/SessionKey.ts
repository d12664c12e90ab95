/**
 * The session key of a sandbox's action execution server (`SESSION_API_KEY`, sent as `X-Session-API-Key`).
 *
 * It is derived, not stored: HMAC-SHA-256 of the sandbox id under the Daytona API key. The sandbox is created
 * without custom env vars (so Daytona can serve it from a warm pool); the key reaches the server through its start
 * command, and any process on any machine that holds the same API key derives the same key when it attaches —
 * nothing to read back, nothing in a label or a log.
 *
 * @since 0.2.0
 */
import { Effect, Redacted } from "effect"

const CONTEXT = "effect-daytona/session-key/v1/"

const encoder = new TextEncoder()

/**
 * The session key of sandbox `sandboxId` under `apiKey` (64 hex digits).
 *
 * @since 0.2.0
 */
export const derive = (
  apiKey: Redacted.Redacted<string>,
  sandboxId: string
): Effect.Effect<Redacted.Redacted<string>> =>
  Effect.promise(async () => {
    const key = await globalThis.crypto.subtle.importKey(
      "raw",
      encoder.encode(Redacted.value(apiKey)),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"]
    )
    const mac = await globalThis.crypto.subtle.sign("HMAC", key, encoder.encode(CONTEXT + sandboxId))
    return Redacted.make(Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join(""))
  })
