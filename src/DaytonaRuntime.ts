/**
 * The runtime: `DaytonaRuntime.acquire(options)` (the scoped handle) and `DaytonaRuntime.layer`
 * (everything `acquire` needs, given a `DaytonaConfig`).
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Layer } from "effect"
import * as ActionServerHttp from "./layers/ActionServerHttp.js"
import * as DaytonaClientLive from "./layers/DaytonaClientLive.js"
import * as RuntimeEventsLive from "./layers/RuntimeEventsLive.js"
import * as Coordinator from "./programs/Coordinator.js"
import { layerShared } from "./programs/DaytonaRuntime.js"
import type { SharedRuntimes } from "./programs/SharedRuntimes.js"
import type { ActionServer } from "./services/ActionServer.js"
import type { DaytonaClient } from "./services/DaytonaClient.js"
import type { DaytonaConfig } from "./services/DaytonaConfig.js"
import type { RuntimeEvents } from "./services/RuntimeEvents.js"

export {
  acquire,
  layerShared,
  type ActionEvent,
  type DaytonaRuntimeHandle,
  type ObservationEvent,
  type RunOptions,
  RunResult,
  type RunResultCommon,
  type RuntimeOrigin,
  type RuntimeRequirements
} from "./programs/DaytonaRuntime.js"
export type { OnClose, RuntimeOptions, ServerLauncher } from "./programs/Options.js"
export { differingOption, SharedRuntimes, type SharedRuntimesService } from "./programs/SharedRuntimes.js"
export { SharedRuntimeConflict } from "./programs/Errors.js"
export {
  layer as layerPool,
  make as pool,
  type PoolAcquireError,
  type PoolAcquireOptions,
  type PoolStats,
  RuntimePool,
  RuntimePoolClosed,
  type RuntimePoolOptions,
  type RuntimePoolService
} from "./programs/RuntimePool.js"

/**
 * The action server client over undici's keep-alive pool, and the event bus: what `acquire` needs
 * besides a `DaytonaClient` and a `DaytonaConfig`.
 *
 * @since 0.1.0
 */
export const layerServices: Layer.Layer<ActionServer | RuntimeEvents | Coordinator.Coordinator, never, DaytonaConfig> =
  Layer.mergeAll(
    ActionServerHttp.layer.pipe(Layer.provide(NodeHttpClient.layerUndici)),
    RuntimeEventsLive.layer,
    Coordinator.layer
  )

/**
 * Everything `acquire` needs, given only a `DaytonaConfig`: the SDK-backed `DaytonaClient`, the
 * `ActionServer` over undici, the event bus, the per-process coordination, and the shared runtimes (acquires of one
 * SID with `share`, the default when attaching, get one runtime).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  DaytonaClient | ActionServer | RuntimeEvents | Coordinator.Coordinator | SharedRuntimes,
  never,
  DaytonaConfig
> = layerShared.pipe(Layer.provideMerge(Layer.merge(DaytonaClientLive.layer, layerServices)))
