/**
 * effect-daytona: Daytona sandboxes for AI agents, as Effect services, layers and programs.
 *
 * Everything a user imports comes from here.
 *
 * @since 0.1.0
 */
export * as DaytonaRuntime from "./DaytonaRuntime.js"
export * as Retry from "./policies/Retry.js"
export * as Logging from "./layers/Logging.js"
export * as RuntimeEventsLive from "./layers/RuntimeEventsLive.js"
export {
  Defaults as DaytonaConfigDefaults,
  DaytonaConfig,
  Variables as DaytonaConfigVariables,
  type DaytonaSettings,
  type DaytonaSettingsInput
} from "./services/DaytonaConfig.js"
export {
  ACQUIRE_LABEL,
  AmbiguousSandbox,
  CREATED_AT_LABEL,
  type CreateSandboxParams,
  type CreateWarmPoolParams,
  DaytonaApiError,
  type DaytonaApiErrorReason,
  DaytonaClient,
  type DaytonaClientService,
  isApiError,
  OWNER_LABEL,
  OWNER_VALUE,
  type PreviewLink,
  type Sandbox,
  type SandboxState,
  type SessionCommandLogs,
  type SessionCommandResult,
  SID_LABEL,
  type SignedPreviewUrl,
  type WarmPool
} from "./services/DaytonaClient.js"
export {
  Action,
  ActionServer,
  type ActionServerError,
  type ActionServerService,
  ConnectionRefused,
  type ActionCommon,
  DecodeError,
  type EditCommand,
  type Endpoint,
  HttpStatusError,
  isActionServerError,
  Observation,
  RequestTimeout,
  type RunMetadata,
  runMetadata,
  TransportError,
  type UploadFile
} from "./services/ActionServer.js"
export * as OpenHandsWire from "./services/OpenHandsWire.js"
export {
  type CloseAction,
  describeEvent,
  RuntimeEvent,
  RuntimeEvents,
  type RuntimeEventsService,
  type RuntimeStatus
} from "./services/RuntimeEvents.js"
export {
  ActionFailed,
  ActionServerNotReady,
  type ConnectError,
  RuntimeFenced,
  SandboxUnusable
} from "./programs/Errors.js"
export * as Lease from "./programs/Lease.js"
export { LeaseHeld, type LiveLeasePolicy } from "./programs/Lease.js"
export * as Reaper from "./programs/Reaper.js"
export { InvalidRuntimeOptions, type OnClose, type RuntimeOptions, type ServerLauncher } from "./programs/Options.js"
export { Coordinator } from "./programs/Coordinator.js"
export * as ActionServerHttp from "./layers/ActionServerHttp.js"
export * as DaytonaClientMemory from "./layers/DaytonaClientMemory.js"
export * as Emulator from "./emulator/Emulator.js"
export {
  EmulatorControl,
  type EmulatorControlService,
  EmulatorError,
  type EmulatorOptions,
  type EmulatorRoute,
  type EmulatorSandbox,
  Fault as EmulatorFault
} from "./emulator/Emulator.js"
