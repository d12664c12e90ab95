import { assert, describe, it } from "@effect/vitest"
import {
  compareVersions,
  demux,
  labelled,
  logFormatOf,
  markerStripper,
  sdkVersionOf,
  stripMarkers,
  text
} from "../../src/emulator/SessionLogs.js"

const bytes = (value: string) => new TextEncoder().encode(value)

describe("The daemon's session log format", () => {
  it("compares versions as semver, pre-releases before releases", () => {
    assert.strictEqual(compareVersions("0.143.0", "0.167.0-0"), -1)
    assert.strictEqual(compareVersions("0.167.0", "0.167.0-0"), 1)
    assert.strictEqual(compareVersions("0.167.0-alpha.1", "0.167.0-0"), 1)
    assert.strictEqual(compareVersions("1.2.3", "1.2.3"), 0)
    assert.isUndefined(compareVersions("", "0.27.0-0"))
    assert.isUndefined(compareVersions("latest", "0.27.0-0"))
  })

  it("answers each SDK version as the daemon does", () => {
    assert.deepStrictEqual(logFormatOf({}), { combined: true, skipDemux: true })
    assert.deepStrictEqual(logFormatOf({ "x-daytona-split-output": "true" }), { combined: false, skipDemux: true })
    assert.deepStrictEqual(logFormatOf({ "x-daytona-sdk-version": "0.26.1" }), { combined: true, skipDemux: true })
    assert.deepStrictEqual(logFormatOf({ "x-daytona-sdk-version": "0.143.0" }), { combined: false, skipDemux: true })
    assert.deepStrictEqual(logFormatOf({ "x-daytona-sdk-version": "0.218.0" }), { combined: false, skipDemux: false })
    assert.deepStrictEqual(logFormatOf({ "x-daytona-sdk-version": "0.0.0-dev" }), { combined: false, skipDemux: false })
    assert.strictEqual(sdkVersionOf({ "sec-websocket-protocol": "a, X-Daytona-SDK-Version~0.150.0" }), "0.150.0")
  })

  it("labels lines, splits and strips markers, also across chunks", () => {
    const log = labelled("stdout", "a\nb") + labelled("stderr", "e\n") + labelled("stdout", "c\n")
    assert.strictEqual(log, "\u0001\u0001\u0001a\n\u0001\u0001\u0001b\u0002\u0002\u0002e\n\u0001\u0001\u0001c\n")
    const split = demux(bytes(log))
    assert.deepStrictEqual([text(split.stdout), text(split.stderr)], ["a\nbc\n", "e\n"])
    assert.strictEqual(text(stripMarkers(bytes(log))), "a\nbe\nc\n")
    const stripper = markerStripper()
    const whole = bytes(log)
    const pieces = [whole.subarray(0, 1), whole.subarray(1, 2), whole.subarray(2, 9), whole.subarray(9)]
    const out = [...pieces.map(stripper.push), stripper.flush()].map(text).join("")
    assert.strictEqual(out, "a\nbe\nc\n")
  })
})
