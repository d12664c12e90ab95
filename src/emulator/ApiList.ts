/**
 * The two sandbox lists of Daytona's API: `GET /api/sandbox` (cursor pages; sorted by `lastActivityAt`
 * descending by default, the id breaking ties in the same direction; the cursor is base64 JSON
 * `{sortValue, id}`, as `sandbox-typeorm-search.adapter.ts` makes it) and the deprecated
 * `GET /api/sandbox/paginated` (numbered pages of full sandboxes, `createdAt` descending by default, used by
 * SDKs before 0.192).
 *
 * @since 0.1.0
 */
import { Effect, Either } from "effect"
import { arrayQuery, dateQuery, intQuery, labelsQuery, LISTABLE_STATES, queryMessages } from "./ApiValidation.js"
import { HttpFailure } from "./Dto.js"
import type { SandboxRecord } from "./Dto.js"

const SORT_FIELDS = ["name", "cpu", "memoryGib", "diskGib", "lastActivityAt", "createdAt"] as const
const DEPRECATED_SORT_FIELDS = [
  "id",
  "name",
  "state",
  "snapshot",
  "region",
  "updatedAt",
  "createdAt",
  "lastActivityAt"
] as const
const ORDERS = ["asc", "desc"] as const
const ERRORED = new Set(["error", "build_failed"])

type SortValue = string | number

const sortValue = (record: SandboxRecord, field: string): SortValue => {
  switch (field) {
    case "id":
      return record.id
    case "name":
      return record.name
    case "state":
      return record.state
    case "snapshot":
      return record.snapshot
    case "region":
      return record.target
    case "cpu":
      return record.cpu
    case "memoryGib":
      return record.memory
    case "diskGib":
      return record.disk
    case "updatedAt":
      return record.updatedAt.getTime()
    case "createdAt":
      return record.createdAt.getTime()
    default:
      return record.lastActivityAt.getTime()
  }
}

const compare = (a: SortValue, b: SortValue) => (a < b ? -1 : a > b ? 1 : 0)
const isDateField = (field: string) => field === "lastActivityAt" || field === "createdAt" || field === "updatedAt"

/** The filters both lists share. */
const commonFilters = (params: URLSearchParams, errors: Array<string>, regionKey: string) => {
  const states = arrayQuery(params, "states")
  if (states !== undefined && states.some((state) => !LISTABLE_STATES.includes(state))) {
    errors.push(`each value must be one of the following values: ${LISTABLE_STATES.join(", ")}`)
  }
  const range = (name: string) => intQuery(params, name, undefined, 1, undefined, errors)
  const filters = {
    id: params.get("id") ?? "",
    name: params.get("name") ?? "",
    states,
    snapshots: arrayQuery(params, "snapshots"),
    regions: arrayQuery(params, regionKey),
    minCpu: range("minCpu"),
    maxCpu: range("maxCpu"),
    minMemory: range("minMemoryGiB"),
    maxMemory: range("maxMemoryGiB"),
    minDisk: range("minDiskGiB"),
    maxDisk: range("maxDiskGiB"),
    lastEventAfter: dateQuery(params, "lastEventAfter", errors),
    lastEventBefore: dateQuery(params, "lastEventBefore", errors),
    createdAtAfter: dateQuery(params, "createdAtAfter", errors),
    createdAtBefore: dateQuery(params, "createdAtBefore", errors),
    isPublic: params.get("isPublic"),
    isRecoverable: params.get("isRecoverable")
  }
  return (record: SandboxRecord, labels: Record<string, unknown> | undefined) => {
    const within = (value: number, min: number | undefined, max: number | undefined) =>
      (min === undefined || value >= min) && (max === undefined || value <= max)
    const time = (value: Date, after: number | undefined, before: number | undefined) =>
      (after === undefined || value.getTime() >= after) && (before === undefined || value.getTime() <= before)
    return (
      record.id.toLowerCase().startsWith(filters.id.toLowerCase()) &&
      record.name.toLowerCase().startsWith(filters.name.toLowerCase()) &&
      (labels === undefined || Object.entries(labels).every(([key, value]) => record.labels[key] === value)) &&
      (filters.states === undefined || filters.states.includes(record.state)) &&
      (filters.snapshots === undefined || filters.snapshots.includes(record.snapshot)) &&
      (filters.regions === undefined || filters.regions.includes(record.target)) &&
      within(record.cpu, filters.minCpu, filters.maxCpu) &&
      within(record.memory, filters.minMemory, filters.maxMemory) &&
      within(record.disk, filters.minDisk, filters.maxDisk) &&
      time(record.lastActivityAt, filters.lastEventAfter, filters.lastEventBefore) &&
      time(record.createdAt, filters.createdAtAfter, filters.createdAtBefore) &&
      (filters.isPublic === null || String(record.public) === filters.isPublic) &&
      (filters.isRecoverable === null || String(record.recoverable) === filters.isRecoverable) &&
      // Errored sandboxes on their way out are listed only when asked for.
      !(
        ERRORED.has(record.state) &&
        record.desiredState === "destroyed" &&
        params.get("includeErroredDeleted") !== "true"
      )
    )
  }
}

const enumQuery = <A extends string>(
  params: URLSearchParams,
  name: string,
  values: ReadonlyArray<A>,
  fallback: A,
  errors: Array<string>
): A => {
  const text = params.get(name)
  if (text === null || text === "") return fallback
  if (!(values as ReadonlyArray<string>).includes(text)) {
    errors.push(queryMessages.oneOf(name, values))
    return fallback
  }
  return text as A
}

const fail = (errors: ReadonlyArray<string>) => Effect.fail(new HttpFailure({ status: 400, detail: errors }))

/**
 * One page of `GET /api/sandbox`.
 *
 * @since 0.1.0
 */
export const listPage = (
  params: URLSearchParams,
  all: ReadonlyArray<SandboxRecord>
): Effect.Effect<{ readonly items: ReadonlyArray<SandboxRecord>; readonly nextCursor: string | null }, HttpFailure> =>
  Effect.gen(function* () {
    const errors: Array<string> = []
    const limit = intQuery(params, "limit", 100, 1, 200, errors) ?? 100
    const matches = commonFilters(params, errors, "regionIds")
    const sort = enumQuery(params, "sort", SORT_FIELDS, "lastActivityAt", errors)
    const order = enumQuery(params, "order", ORDERS, "desc", errors)
    if (errors.length > 0) return yield* fail(errors)
    const labels = yield* Either.match(labelsQuery(params.get("labels")), {
      onLeft: Effect.fail,
      onRight: Effect.succeed
    })
    const direction = order === "asc" ? 1 : -1
    const cursorText = params.get("cursor")
    let cursor: { readonly value: SortValue; readonly id: string } | undefined
    if (cursorText !== null && cursorText !== "") {
      const decoded = yield* Effect.try({
        try: () => JSON.parse(Buffer.from(cursorText, "base64").toString()) as { sortValue?: unknown; id?: unknown },
        catch: () => new HttpFailure({ status: 400, detail: `Invalid cursor provided: ${cursorText}` })
      })
      const raw = decoded?.sortValue
      cursor = {
        value: isDateField(sort) && typeof raw === "string" ? new Date(raw).getTime() : (raw as SortValue),
        id: String(decoded?.id ?? "")
      }
    }
    const sorted = all
      .filter((record) => matches(record, labels))
      .map((record) => ({ record, value: sortValue(record, sort) }))
      .filter(
        ({ record, value }) =>
          cursor === undefined ||
          compare(value, cursor.value) * direction > 0 ||
          (compare(value, cursor.value) === 0 && compare(record.id, cursor.id) * direction > 0)
      )
      .sort((a, b) => (compare(a.value, b.value) || compare(a.record.id, b.record.id)) * direction)
    const page = sorted.slice(0, limit)
    const last = page[page.length - 1]
    const nextCursor =
      sorted.length > limit && last !== undefined
        ? Buffer.from(
            JSON.stringify({
              sortValue: isDateField(sort) ? new Date(last.value as number).toISOString() : last.value,
              id: last.record.id
            })
          ).toString("base64")
        : null
    return { items: page.map(({ record }) => record), nextCursor }
  })

/**
 * One page of the deprecated `GET /api/sandbox/paginated`.
 *
 * @since 0.1.0
 */
export const paginatedPage = (
  params: URLSearchParams,
  all: ReadonlyArray<SandboxRecord>
): Effect.Effect<
  {
    readonly items: ReadonlyArray<SandboxRecord>
    readonly total: number
    readonly page: number
    readonly totalPages: number
  },
  HttpFailure
> =>
  Effect.gen(function* () {
    const errors: Array<string> = []
    const page = intQuery(params, "page", 1, 1, undefined, errors) ?? 1
    const limit = intQuery(params, "limit", 100, 1, 200, errors) ?? 100
    const matches = commonFilters(params, errors, "regions")
    const sort = enumQuery(params, "sort", DEPRECATED_SORT_FIELDS, "createdAt", errors)
    const order = enumQuery(params, "order", ORDERS, "desc", errors)
    if (errors.length > 0) return yield* fail(errors)
    const labels = yield* Either.match(labelsQuery(params.get("labels")), {
      onLeft: Effect.fail,
      onRight: Effect.succeed
    })
    const direction = order === "asc" ? 1 : -1
    const sorted = all
      .filter((record) => matches(record, labels))
      .sort(
        (a, b) =>
          compare(sortValue(a, sort), sortValue(b, sort)) * direction ||
          (sort === "createdAt" ? 0 : b.createdAt.getTime() - a.createdAt.getTime())
      )
    return {
      items: sorted.slice((page - 1) * limit, page * limit),
      total: sorted.length,
      page,
      totalPages: Math.ceil(sorted.length / limit)
    }
  })
