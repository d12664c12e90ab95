/**
 * How Daytona's proxy authenticates a preview request (`apps/proxy/pkg/proxy/auth.go`), in its order: an
 * `Authorization: Bearer` API key with access to the sandbox, the `X-Daytona-Preview-Token` header, the
 * `DAYTONA_SANDBOX_AUTH_KEY` query parameter, the `daytona-sandbox-auth-<id>` cookie, and (on a signed origin) the
 * signed token itself, which also sets that cookie. When all fail, the proxy answers **307** to its OIDC login
 * page (`auth_callback.go`: `AuthCodeURL` with PKCE, `redirect_uri=<proxy>/callback` and a state that carries
 * `returnTo` and the sandbox id); the emulator's login page answers 400, as Daytona's Auth0 page does for an
 * expired signed URL (daytonaio/daytona#3891).
 *
 * @since 0.1.0
 */
import { HttpServerResponse } from "@effect/platform"
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"

/**
 * The header, query parameter and cookie prefix of preview auth.
 *
 * @since 0.1.0
 */
export const TOKEN_HEADER = "x-daytona-preview-token"
export const TOKEN_QUERY = "DAYTONA_SANDBOX_AUTH_KEY"
export const COOKIE_PREFIX = "daytona-sandbox-auth-"
export const SKIP_ACTIVITY_HEADER = "x-daytona-skip-last-activity-update"
/** How long the auth cookie is good for (`SANDBOX_AUTH_COOKIE_MAX_AGE_SECONDS`). */
const COOKIE_MAX_AGE = 3600

/**
 * Signs and reads the auth cookies (Daytona uses gorilla `securecookie`; the emulator an HMAC of its own key).
 *
 * @since 0.1.0
 */
export interface CookieJar {
  readonly encode: (name: string, value: string) => string
  readonly decode: (name: string, cookie: string) => string | undefined
  readonly setCookie: (name: string, value: string) => string
}

/**
 * Makes a cookie jar with a fresh secret.
 *
 * @since 0.1.0
 */
export const makeCookieJar = (): CookieJar => {
  const secret = randomBytes(32)
  const mac = (name: string, value: string) => createHmac("sha256", secret).update(`${name}|${value}`).digest()
  const encode = (name: string, value: string) =>
    `${Buffer.from(value).toString("base64url")}.${mac(name, value).toString("base64url")}`
  return {
    encode,
    decode: (name, cookie) => {
      const [data, signature] = cookie.split(".")
      if (data === undefined || signature === undefined) return undefined
      const value = Buffer.from(data, "base64url").toString()
      const expected = mac(name, value)
      const given = Buffer.from(signature, "base64url")
      return given.length === expected.length && timingSafeEqual(given, expected) ? value : undefined
    },
    setCookie: (name, value) => `${name}=${encode(name, value)}; Path=/; Max-Age=${COOKIE_MAX_AGE}; HttpOnly`
  }
}

/**
 * The value of a cookie in a `Cookie` header.
 *
 * @since 0.1.0
 */
export const cookieValue = (header: string | undefined, name: string): string | undefined => {
  if (header === undefined) return undefined
  for (const part of header.split(";")) {
    const index = part.indexOf("=")
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim()
  }
  return undefined
}

/**
 * The 307 to the login page, as Daytona's proxy sends it when no credential works.
 *
 * @since 0.1.0
 */
export const redirectToLogin = (options: {
  /** `http://127.0.0.1:PORT` of the emulator's main server (its login page and `/callback`). */
  readonly baseUrl: string
  /** The URL the browser asked for (`returnTo`). */
  readonly returnTo: string
  readonly sandboxIdOrToken: string
  readonly method: string
  readonly cookies: CookieJar
}): HttpServerResponse.HttpServerResponse => {
  const verifier = randomBytes(32).toString("base64url")
  const state = Buffer.from(
    JSON.stringify({
      returnTo: options.returnTo,
      sandboxId: options.sandboxIdOrToken,
      state: randomBytes(16).toString("base64url")
    })
  ).toString("base64")
  // Go's url.Values.Encode: keys sorted, spaces as "+".
  const query = new URLSearchParams([
    ["audience", "daytona"],
    ["client_id", "daytona-proxy"],
    ["code_challenge", createHash("sha256").update(verifier).digest("base64url")],
    ["code_challenge_method", "S256"],
    ["redirect_uri", `${options.baseUrl}/callback`],
    ["response_type", "code"],
    ["scope", "openid profile"],
    ["state", state.replace(/\+/g, "-").replace(/\//g, "_")]
  ])
  const location = `${options.baseUrl}/oauth/authorize?${query.toString()}`
  const headers = {
    location,
    "set-cookie": `pkce_verifier=${options.cookies.encode("pkce_verifier", verifier)}; Path=/; Max-Age=300; HttpOnly`
  }
  // Go's http.Redirect writes a short HTML body for GET and HEAD.
  return options.method === "GET" || options.method === "HEAD"
    ? HttpServerResponse.text(`<a href="${location.replace(/&/g, "&amp;")}">Temporary Redirect</a>.\n\n`, {
        status: 307,
        contentType: "text/html; charset=utf-8",
        headers
      })
    : HttpServerResponse.empty({ status: 307, headers })
}

/**
 * The emulator's login page: there is nobody to log in, so it answers as Daytona's identity provider does for a
 * request it cannot complete (400, an HTML page).
 *
 * @since 0.1.0
 */
export const loginPage = HttpServerResponse.text(
  `<!DOCTYPE html>
<html><head><title>Error</title></head>
<body><h1>Oops!, something went wrong</h1>
<p>The Daytona emulator has no login. Use the preview token (X-Daytona-Preview-Token), an API key
(Authorization: Bearer), or a signed preview URL that has not expired.</p></body></html>
`,
  { status: 400, contentType: "text/html; charset=utf-8" }
)
