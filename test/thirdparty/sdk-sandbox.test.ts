/**
 * `@daytonaio/sdk` 0.218, unchanged, in its default mode (state waits on Socket.IO events), against the standalone
 * emulator: the Sandbox lifecycle and settings surface — create (name, labels, env, snapshot), get, list by labels
 * and page by page, stop/start/archive/delete with Daytona's refusals, labels, intervals, public, preview links and
 * signed URLs, SSH access, snapshots and warm pools.
 */
import type { Daytona, Sandbox } from "@daytonaio/sdk"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { eventsConnected, rejectionOf, sdkDefaultMode, useStandaloneEmulator } from "./support.js"

const emulator = useStandaloneEmulator()
let daytona: Daytona

beforeAll(() => {
  daytona = sdkDefaultMode(emulator())
})

afterAll(async () => {
  await daytona?.[Symbol.asyncDispose]()
})

const SNAPSHOT = "daytonaio/sandbox:emulator"

/** GET `url` without following a redirect. */
const fetchManual = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers, redirect: "manual" }).then(async (response) => {
    await response.arrayBuffer()
    return { status: response.status, location: response.headers.get("location") }
  })

describe("SDK 0.218 (default mode): sandboxes", () => {
  it("create with name, labels, env and snapshot; get by id and by name; Daytona's refusals", async () => {
    const sandbox = await daytona.create({
      name: "tp-named",
      snapshot: SNAPSHOT,
      labels: { suite: "thirdparty", case: "create" },
      envVars: { GREETING: "hi" }
    })
    assert.strictEqual(sandbox.state, "started")
    assert.strictEqual(sandbox.name, "tp-named")
    assert.strictEqual(sandbox.snapshot, SNAPSHOT)
    assert.isTrue(eventsConnected(daytona), "the SDK's event socket is connected (default mode)")
    const byId = await daytona.get(sandbox.id)
    const byName = await daytona.get("tp-named")
    assert.strictEqual(byName.id, sandbox.id)
    assert.deepInclude(byId.labels, { suite: "thirdparty", case: "create" })
    assert.deepStrictEqual(byId.env, { GREETING: "hi" })

    const taken = await rejectionOf(() => daytona.create({ name: "tp-named" }))
    assert.strictEqual(taken.constructor.name, "DaytonaConflictError")
    assert.strictEqual(taken.message, "Sandbox with name tp-named already exists")
    const unknown = await rejectionOf(() => daytona.create({ snapshot: "no-such-snapshot" }))
    assert.strictEqual(unknown.statusCode, 400)
    assert.match(unknown.message, /^Snapshot no-such-snapshot not found/)
    const missing = await rejectionOf(() => daytona.get("no-such-sandbox"))
    assert.strictEqual(missing.constructor.name, "DaytonaNotFoundError")
    assert.strictEqual(missing.message, "Sandbox with ID or name no-such-sandbox not found")
    await sandbox.delete(60, true)
  })

  it("list by labels, one page at a time", async () => {
    const made = await Promise.all(
      [1, 2, 3].map(() => daytona.create({ labels: { suite: "thirdparty", case: "list" } }))
    )
    const seen: Array<string> = []
    for await (const sandbox of daytona.list({ labels: { case: "list" }, limit: 1 })) seen.push(sandbox.id)
    assert.sameMembers(
      seen,
      made.map((sandbox) => sandbox.id)
    )
    const none: Array<string> = []
    for await (const sandbox of daytona.list({ labels: { case: "no-such-label" } })) none.push(sandbox.id)
    assert.deepStrictEqual(none, [])
    await Promise.all(made.map((sandbox) => sandbox.delete()))
  })

  it("stop, stop again (400), archive, start from archived, delete, delete again (409), get (404)", async () => {
    const sandbox = await daytona.create({ labels: { suite: "thirdparty", case: "lifecycle" } })
    await sandbox.stop()
    assert.strictEqual(sandbox.state, "stopped")
    const again = await rejectionOf(() => sandbox.stop())
    assert.deepStrictEqual([again.statusCode, again.message], [400, "Sandbox is not in a stoppable state"])
    await sandbox.archive()
    for (let i = 0; i < 50 && sandbox.state !== "archived"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      await sandbox.refreshData()
    }
    assert.strictEqual(sandbox.state, "archived")
    await sandbox.start()
    assert.strictEqual(sandbox.state, "started")
    await sandbox.delete()
    const twice = await rejectionOf(() => sandbox.delete())
    assert.deepStrictEqual([twice.statusCode, twice.message], [409, "Sandbox state change in progress"])
    for (let i = 0; i < 50; i++) {
      const gone = await rejectionOf(() => daytona.get(sandbox.id)).catch(() => undefined)
      if (gone !== undefined) {
        assert.strictEqual(gone.statusCode, 404)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.fail("the sandbox was never destroyed")
  })

  it("settings: setLabels, auto-stop/archive/delete intervals, public", async () => {
    const sandbox = await daytona.create({ labels: { suite: "thirdparty", case: "settings" } })
    assert.deepStrictEqual(await sandbox.setLabels({ case: "settings", step: "2" }), { case: "settings", step: "2" })
    await sandbox.setAutostopInterval(30)
    await sandbox.setAutoArchiveInterval(60)
    await sandbox.setAutoDeleteInterval(120)
    const read = await daytona.get(sandbox.id)
    assert.deepStrictEqual(read.labels, { case: "settings", step: "2" })
    assert.deepStrictEqual([read.autoStopInterval, read.autoArchiveInterval, read.autoDeleteInterval], [30, 60, 120])
    const negative = await rejectionOf(() => sandbox.setAutostopInterval(-1))
    assert.include(negative.message, "non-negative")
    assert.isFalse(read.public)
    // SDK 0.218 has no method for it: its generated API client's `PUT /sandbox/{id}/public/{isPublic}`.
    const api = (
      daytona as unknown as { sandboxApi: { updatePublicStatus: (id: string, on: boolean) => Promise<unknown> } }
    ).sandboxApi
    await api.updatePublicStatus(sandbox.id, true)
    assert.isTrue((await daytona.get(sandbox.id)).public)
    await sandbox.delete()
  })

  it("preview links and signed URLs: their own origin, 307 to the login page without a credential", async () => {
    const sandbox: Sandbox = await daytona.create({ labels: { suite: "thirdparty", case: "preview" } })
    const link = await sandbox.getPreviewLink(3000)
    assert.match(link.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.match(link.token, /^[\w-]{32}$/)
    const anonymous = await fetchManual(link.url)
    assert.strictEqual(anonymous.status, 307)
    assert.match(anonymous.location ?? "", /\/oauth\/authorize\?/)
    // With the token the proxy lets it through; nothing listens on 3000: a bare 502.
    assert.strictEqual((await fetchManual(link.url, { "x-daytona-preview-token": link.token })).status, 502)
    assert.strictEqual((await fetchManual(link.url, { authorization: `Bearer ${emulator().apiKey}` })).status, 502)

    const signed = await sandbox.getSignedPreviewUrl(3000, 60)
    assert.match(signed.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.notStrictEqual(signed.url, link.url, "a signed URL is an origin of its own")
    assert.strictEqual((await fetchManual(signed.url)).status, 502)
    await sandbox.expireSignedPreviewUrl(3000, signed.token)
    assert.strictEqual((await fetchManual(signed.url)).status, 307)
    const tooLong = await rejectionOf(() => sandbox.getSignedPreviewUrl(3000, 90_000))
    assert.strictEqual(tooLong.message, "expiresInSeconds must be between 1 second and 24 hours")

    // A restart gives a new token; the old one is refused.
    await sandbox.stop()
    await sandbox.start()
    const renewed = await sandbox.getPreviewLink(3000)
    assert.notStrictEqual(renewed.token, link.token)
    assert.strictEqual((await fetchManual(link.url, { "x-daytona-preview-token": link.token })).status, 307)
    await sandbox.delete()
  })

  it("SSH access: create, validate (403 with an organization's key, as Daytona), revoke", async () => {
    const sandbox = await daytona.create({ labels: { suite: "thirdparty", case: "ssh" } })
    const access = await sandbox.createSshAccess(30)
    assert.strictEqual(access.sandboxId, sandbox.id)
    assert.include(access.sshCommand, access.token)
    const minutes = (new Date(access.expiresAt).getTime() - Date.now()) / 60_000
    assert.isTrue(minutes > 29 && minutes <= 30, String(minutes))
    const validate = await rejectionOf(() => sandbox.validateSshAccess(access.token))
    assert.deepStrictEqual([validate.statusCode, validate.message], [403, "Invalid authentication context"])
    await sandbox.revokeSshAccess(access.token)
    await sandbox.delete()
  })

  it("snapshot.list and warm pools: list, create, update, delete", async () => {
    const snapshots = await daytona.snapshot.list()
    assert.include(
      snapshots.items.map((snapshot) => snapshot.name),
      SNAPSHOT
    )
    const before = await daytona.warmPool.list()
    const pool = await daytona.warmPool.create({ snapshot: SNAPSHOT, pool: 1 })
    assert.strictEqual(pool.snapshot, SNAPSHOT)
    assert.strictEqual(pool.pool, 1)
    assert.strictEqual((await daytona.warmPool.update(pool.id, { pool: 2 })).pool, 2)
    assert.include(
      (await daytona.warmPool.list()).map((p) => p.id),
      pool.id
    )
    await daytona.warmPool.delete(pool.id)
    assert.deepStrictEqual(
      (await daytona.warmPool.list()).map((p) => p.id),
      before.map((p) => p.id)
    )
  })
})
