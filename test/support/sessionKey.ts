/**
 * The session key of a sandbox's action server as the runtime derives it (HMAC-SHA-256 of the sandbox id under
 * the API key; see `src/programs/SessionKey.ts`), computed here independently with Node's crypto, so that tests
 * can look for it in outputs and send it themselves.
 */
import { createHmac } from "node:crypto"

export const sessionKeyOf = (apiKey: string, sandboxId: string): string =>
  createHmac("sha256", apiKey).update(`effect-daytona/session-key/v1/${sandboxId}`).digest("hex")
