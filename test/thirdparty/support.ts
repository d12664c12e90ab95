/**
 * Third-party Daytona clients, unchanged from node_modules, against the standalone emulator spawned from the built
 * CLI (`effect-daytona emulator --port 0 --json`): one emulator per test file, started before its tests and stopped
 * (SIGTERM) after them.
 */
import { Daytona } from "@daytonaio/sdk"
import { afterAll, beforeAll } from "vitest"
import { startEmulator, type StandaloneEmulator } from "../cli/support.js"

/** The emulator of the current test file (available once `beforeAll` ran). */
export const useStandaloneEmulator = (): (() => StandaloneEmulator) => {
  let emulator: StandaloneEmulator | undefined
  beforeAll(async () => {
    emulator = await startEmulator()
  })
  afterAll(async () => {
    await emulator?.stop()
  })
  return () => {
    if (emulator === undefined) throw new Error("the standalone emulator is not running")
    return emulator
  }
}

/**
 * SDK 0.218 in its default mode: state waits end on the gateway's Socket.IO events (no `useDeprecatedPolling`).
 * Dispose it (`Symbol.asyncDispose`) when done.
 */
export const sdkDefaultMode = (emulator: StandaloneEmulator): Daytona =>
  new Daytona({ apiKey: emulator.apiKey, apiUrl: emulator.apiUrl, target: "us" })

/** Whether the SDK's event socket is connected (its own field, read as the SDK keeps it). */
export const eventsConnected = (daytona: Daytona): boolean =>
  (daytona as unknown as { eventDispatcher?: { isConnected: boolean } }).eventDispatcher?.isConnected === true

/** The rejection of a call, to inspect its class, status and message. */
export const rejectionOf = async (call: () => Promise<unknown>): Promise<Error & { statusCode?: number }> => {
  try {
    await call()
  } catch (error) {
    return error as Error & { statusCode?: number }
  }
  throw new Error("expected the call to be rejected")
}
