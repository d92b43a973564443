import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as ExecBackend from "../src/simulation/ExecBackend.js"
import * as VirtualClock from "../src/VirtualClock.js"

describe("ExecBackend", () => {
  it("scripted: sleep takes simulated time, echo prints, unknown commands exit 127", async () => {
    const clock = new VirtualClock.VirtualClock(0)
    const backend = ExecBackend.scripted()
    const slept = await VirtualClock.runToCompletion(clock, backend.run({ command: ["sleep", "30"] }, clock))
    assert.strictEqual(slept.durationMillis, 30_000)
    assert.strictEqual(clock.now(), 30_000)
    const echoed = await VirtualClock.runToCompletion(
      clock,
      backend.run({ command: ["echo", "a", "b"] }, clock)
    )
    assert.strictEqual(echoed.stdout, "a b\n")
    const missing = await VirtualClock.runToCompletion(clock, backend.run({ command: ["nope"] }, clock))
    assert.strictEqual(missing.exitCode, 127)
    assert.include(missing.stderr, "nope: command not found")
  })

  it("scripted: a timeout cuts the command short with exit 124; an abort kills it with 137", async () => {
    const clock = new VirtualClock.VirtualClock(0)
    const backend = ExecBackend.scripted()
    const cut = await VirtualClock.runToCompletion(
      clock,
      backend.run({ command: ["sleep", "60"], timeoutMillis: 5_000 }, clock)
    )
    assert.strictEqual(cut.exitCode, 124)
    assert.isTrue(cut.timedOut)
    assert.strictEqual(cut.durationMillis, 5_000)
    const controller = new AbortController()
    const running = backend.run({ command: ["sleep", "60"], signal: controller.signal }, clock)
    clock.schedule(clock.now() + 1_000, () => controller.abort())
    const killed = await VirtualClock.runToCompletion(clock, running)
    assert.strictEqual(killed.exitCode, 137)
  })

  it("process: runs argv without a shell in the workspace", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "hangar-exec-"))
    const backend = ExecBackend.processBackend()
    const clock = new VirtualClock.RealClock()
    const pwd = await backend.run({ command: ["pwd"], workspace }, clock)
    assert.strictEqual(pwd.stdout.trim(), workspace)
    const literal = await backend.run({ command: ["echo", "$HOME;", "rm -rf /"] }, clock)
    assert.strictEqual(literal.stdout, "$HOME; rm -rf /\n")
    const missing = await backend.run({ command: ["definitely-not-a-program"] }, clock)
    assert.strictEqual(missing.exitCode, 127)
    const status = await backend.run({ command: ["sh", "-c", "echo oops >&2; exit 3"] }, clock)
    assert.strictEqual(status.exitCode, 3)
    assert.strictEqual(status.stderr, "oops\n")
  })
})
