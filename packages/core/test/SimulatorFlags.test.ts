import { assert, describe, it } from "@effect/vitest"
import * as SimulatorFlags from "../src/SimulatorFlags.js"

describe("SimulatorFlags", () => {
  it("parses the shared flags and the extra one", () => {
    const flags = SimulatorFlags.parse("sim", 4280, "token", [
      "--port",
      "0",
      "--seed",
      "7",
      "--clock",
      "virtual",
      "--token",
      "a",
      "--token",
      "b"
    ])
    assert.deepStrictEqual(
      [flags.port, flags.seed, flags.clockName, flags.clock.mode, flags.exec.kind],
      [0, 7, "virtual", "virtual", "scripted"]
    )
    assert.deepStrictEqual(flags.extra, ["a", "b"])
  })
  it("names the bad flag", () => {
    assert.throws(
      () => SimulatorFlags.parse("sim", 1, "token", ["--port", "99999"]),
      /sim: --port must be 0-65535/
    )
    assert.throws(
      () => SimulatorFlags.parse("sim", 1, "token", ["--clock", "sundial"]),
      /--clock must be real or virtual/
    )
    assert.throws(() => SimulatorFlags.parse("sim", 1, "token", ["--colour", "blue"]), /colour/)
  })
})
