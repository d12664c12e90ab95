/**
 * DAYTONA-FIDELITY.md §2: listing (`sandbox-typeorm-search.adapter.ts`, the deprecated `/paginated`), create
 * validation and intervals, as Daytona's API decides them.
 */
import type { Sandbox } from "@daytonaio/sdk"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Emulator from "../../src/emulator/Emulator.js"
import { call, http, sdk } from "./support.js"

const raw = (control: Emulator.EmulatorControlService, path: string, init: RequestInit = {}) =>
  Effect.map(
    http(`${control.apiUrl}${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${Redacted.value(control.apiKey)}`, "Content-Type": "application/json" }
    }),
    (r) => ({ status: r.status, body: r.text === "" ? undefined : JSON.parse(r.text) })
  )
const post = (control: Emulator.EmulatorControlService, body: unknown) =>
  raw(control, "/sandbox", { method: "POST", body: JSON.stringify(body) })

const collect = (iterator: AsyncIterableIterator<Sandbox>) =>
  call(async () => {
    const ids: Array<string> = []
    for await (const sandbox of iterator) ids.push(sandbox.id)
    return ids
  })

describe("Daytona fidelity: lists, create validation, intervals", () => {
  it.scopedLive(
    "list: by lastActivityAt descending (id tie-break), sort/order honoured, base64 {sortValue,id} cursor",
    () =>
      Effect.gen(function* () {
        const control = yield* Emulator.make()
        const daytona = yield* sdk(control)
        const a = yield* call(() => daytona.create({ name: "a-one" }))
        const b = yield* call(() => daytona.create({ name: "b-two" }))
        const c = yield* call(() => daytona.create({ name: "c-three" }))
        yield* Effect.sleep("5 millis")
        yield* call(() => a.refreshActivity())
        const newestActivity = (yield* raw(control, "/sandbox")).body.items.map((i: { id: string }) => i.id)
        assert.strictEqual(newestActivity[0], a.id)
        assert.sameMembers(newestActivity, [a.id, b.id, c.id])

        const byName = yield* raw(control, "/sandbox?sort=name&order=asc")
        assert.deepStrictEqual(
          byName.body.items.map((i: { name: string }) => i.name),
          ["a-one", "b-two", "c-three"]
        )
        const firstPage = yield* raw(control, "/sandbox?sort=name&order=desc&limit=2")
        assert.deepStrictEqual(
          firstPage.body.items.map((i: { name: string }) => i.name),
          ["c-three", "b-two"]
        )
        const cursor = JSON.parse(Buffer.from(firstPage.body.nextCursor, "base64").toString())
        assert.deepStrictEqual(cursor, { sortValue: "b-two", id: b.id })
        const rest = yield* raw(control, `/sandbox?sort=name&order=desc&limit=2&cursor=${firstPage.body.nextCursor}`)
        assert.deepStrictEqual(
          rest.body.items.map((i: { name: string }) => i.name),
          ["a-one"]
        )
        assert.isNull(rest.body.nextCursor)
        assert.sameMembers(yield* collect(daytona.list({ limit: 1 })), [a.id, b.id, c.id])

        const badSort = yield* raw(control, "/sandbox?sort=colour")
        assert.strictEqual(
          badSort.body.message,
          "sort must be one of the following values: name, cpu, memoryGib, diskGib, lastActivityAt, createdAt"
        )
        const badStates = yield* raw(control, "/sandbox?states=started&states=sleeping")
        assert.strictEqual(badStates.status, 400)
        assert.match(badStates.body.message, /^each value must be one of the following values: creating, restoring, /)
        const limit = yield* raw(control, "/sandbox?limit=500")
        assert.strictEqual(limit.body.message, "limit must not be greater than 200")
      })
  )

  it.scopedLive("the deprecated /paginated: full sandboxes, page numbers, createdAt descending, labels", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const daytona = yield* sdk(control)
      const first = yield* call(() => daytona.create({ labels: { team: "x" }, envVars: { A: "1" } }))
      yield* Effect.sleep("5 millis")
      const second = yield* call(() => daytona.create({ labels: { team: "x" } }))
      yield* call(() => daytona.create({ labels: { team: "y" } }))
      const labels = encodeURIComponent(JSON.stringify({ team: "x" }))
      const page = yield* raw(control, `/sandbox/paginated?labels=${labels}&page=1&limit=1`)
      assert.strictEqual(page.status, 200)
      assert.deepStrictEqual([page.body.total, page.body.page, page.body.totalPages], [2, 1, 2])
      assert.strictEqual(page.body.items[0].id, second.id)
      assert.deepStrictEqual(page.body.items[0].env, {})
      const next = yield* raw(control, `/sandbox/paginated?labels=${labels}&page=2&limit=1`)
      assert.strictEqual(next.body.items[0].id, first.id)
      assert.deepStrictEqual(next.body.items[0].env, { A: "1" })
      assert.strictEqual(
        (yield* raw(control, "/sandbox/paginated?page=0")).body.message,
        "page must not be less than 1"
      )
    })
  )

  it.scopedLive("create validation: names, unknown snapshot, resources with a snapshot, unknown target, volumes", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make({ snapshots: ["my-snapshot"] })
      for (const name of ["<script>x</script>", "see https://evil", "tab\u0007bell"]) {
        const refused = yield* post(control, { name })
        assert.strictEqual(refused.status, 400, name)
        assert.strictEqual(refused.body.message, "name must not contain HTML tags, URLs, or control characters")
      }
      const snapshot = yield* post(control, { snapshot: "ghost" })
      assert.strictEqual(snapshot.status, 400)
      assert.strictEqual(
        snapshot.body.message,
        "Snapshot ghost not found. Did you add it through the Daytona Dashboard?"
      )
      assert.strictEqual((yield* post(control, { snapshot: "my-snapshot" })).body.snapshot, "my-snapshot")
      const resources = yield* post(control, { cpu: 2, memory: 4 })
      assert.strictEqual(resources.status, 400)
      assert.strictEqual(resources.body.message, "Cannot specify Sandbox resources when using a snapshot")
      const target = yield* post(control, { target: "mars" })
      assert.strictEqual(target.status, 404)
      assert.strictEqual(target.body.message, "Region not found")
      assert.strictEqual((yield* post(control, { target: "eu" })).body.target, "eu")
      const volume = yield* post(control, { volumes: [{ volumeId: "data", mountPath: "/data" }] })
      assert.strictEqual(volume.body.message, "Volume 'data' could not be resolved to a valid volume ID")
      // A declarative build is answered at once, with the requested resources, and starts in the background.
      const build = yield* post(control, { buildInfo: { dockerfileContent: "FROM alpine" }, cpu: 2 })
      assert.strictEqual(build.status, 200)
      assert.strictEqual(build.body.cpu, 2)
      assert.notStrictEqual(build.body.state, "started")
      assert.strictEqual(
        (yield* post(control, { buildInfo: { dockerfileContent: "FROM alpine" }, snapshot: "my-snapshot" })).body
          .message,
        "Cannot specify a snapshot when using a build info entry"
      )
    })
  )

  it.scopedLive("intervals: auto-stop never negative, auto-archive 0 is the maximum, capped at 43200", () =>
    Effect.gen(function* () {
      const control = yield* Emulator.make()
      const negative = yield* post(control, { autoStopInterval: -1 })
      assert.strictEqual(negative.status, 400)
      assert.strictEqual(negative.body.message, "Auto-stop interval must be non-negative")
      const created = yield* post(control, { autoArchiveInterval: 0, autoDeleteInterval: -1 })
      assert.strictEqual(created.body.autoArchiveInterval, 43200)
      const id: string = created.body.id
      const capped = yield* raw(control, `/sandbox/${id}/autoarchive/100000`, { method: "POST" })
      assert.strictEqual(capped.status, 201)
      assert.strictEqual(capped.body.autoArchiveInterval, 43200)
      const stopRefused = yield* raw(control, `/sandbox/${id}/autostop/-5`, { method: "POST" })
      assert.strictEqual(stopRefused.body.message, "Auto-stop interval must be non-negative")
      const daytona = yield* sdk(control)
      const sandbox = yield* call(() => daytona.get(id))
      yield* call(() => sandbox.setAutostopInterval(0))
      yield* call(() => sandbox.setAutoDeleteInterval(30))
      yield* call(() => sandbox.refreshData())
      assert.deepStrictEqual([sandbox.autoStopInterval, sandbox.autoDeleteInterval], [0, 30])
    })
  )
})
