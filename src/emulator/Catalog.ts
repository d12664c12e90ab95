/**
 * What the emulator's organization can create sandboxes from and where: its snapshots (the default one, listed
 * as a general snapshot, plus any names given in the options) and its regions. Daytona answers a create with an
 * unknown snapshot 400 and with an unknown target 404 "Region not found".
 *
 * @since 0.1.0
 */
import { Option } from "effect"
import { randomUUID } from "node:crypto"
import { DEFAULT_SNAPSHOT } from "./Dto.js"

/**
 * One snapshot of the catalog.
 *
 * @since 0.1.0
 */
export interface SnapshotEntry {
  readonly id: string
  readonly name: string
  /** General snapshots are Daytona's own, shared by every organization. */
  readonly general: boolean
  readonly createdAt: Date
}

/**
 * The catalog.
 *
 * @since 0.1.0
 */
export interface Catalog {
  readonly snapshots: ReadonlyArray<SnapshotEntry>
  /** By name, or by id. */
  readonly findSnapshot: (idOrName: string) => Option.Option<SnapshotEntry>
  readonly regions: ReadonlyArray<string>
  readonly defaultRegion: string
}

/**
 * Makes the catalog: the default snapshot and `extraSnapshots`; the default region and `extraRegions`.
 *
 * @since 0.1.0
 */
export const makeCatalog = (options: {
  readonly defaultRegion: string
  readonly extraRegions?: ReadonlyArray<string> | undefined
  readonly extraSnapshots?: ReadonlyArray<string> | undefined
}): Catalog => {
  const createdAt = new Date()
  const snapshots: Array<SnapshotEntry> = [{ id: randomUUID(), name: DEFAULT_SNAPSHOT, general: true, createdAt }]
  for (const name of options.extraSnapshots ?? []) {
    if (!snapshots.some((entry) => entry.name === name)) {
      snapshots.push({ id: randomUUID(), name, general: false, createdAt })
    }
  }
  const regions = [...new Set([options.defaultRegion, "us", "eu", ...(options.extraRegions ?? [])])]
  return {
    snapshots,
    findSnapshot: (idOrName) =>
      Option.fromNullable(snapshots.find((entry) => entry.name === idOrName || entry.id === idOrName)),
    regions,
    defaultRegion: options.defaultRegion
  }
}

/**
 * The `SnapshotDto` of a catalog entry (resources of the emulator's sandboxes: 1 CPU, 1 GiB, 3 GiB disk).
 *
 * @since 0.1.0
 */
export const toSnapshotDto = (entry: SnapshotEntry, organizationId: string, regions: ReadonlyArray<string>) => ({
  id: entry.id,
  ...(entry.general ? {} : { organizationId }),
  general: entry.general,
  name: entry.name,
  imageName: entry.name,
  state: "active",
  size: null,
  entrypoint: null,
  cpu: 1,
  gpu: 0,
  mem: 1,
  disk: 3,
  errorReason: null,
  createdAt: entry.createdAt.toISOString(),
  updatedAt: entry.createdAt.toISOString(),
  lastUsedAt: null,
  regionIds: [...regions],
  ref: entry.name,
  sourceSandboxId: null,
  sandboxClass: "container"
})
