/**
 * The engine against the wire: a 2-day slice of each of the seed's four scenarios, simulated by the engine
 * (in-process providers over the simulators' models) and by the wire path (`--wire`: the real plugins over the
 * simulators' HTTP APIs), must agree per provider on tasks completed and failed, cold starts, and the bill within
 * 1%. Both run through the built CLI (turbo builds it before this test), the wire path on worker threads.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { assert, describe, it } from "vitest"

const main = new URL("../dist/main.js", import.meta.url).pathname
const run = promisify(execFile)

interface Side {
  readonly provider: string
  readonly usd: number
  readonly tasks: number
  readonly failed: number
  readonly coldStarts: number
  readonly failureReasons: ReadonlyArray<{ readonly reason: string; readonly count: number }>
  readonly hoursByState: Readonly<Record<string, number>>
}

interface Compare {
  readonly scenarios: ReadonlyArray<{ readonly name: string; readonly ecs: Side; readonly fly: Side }>
}

const compare = async (dir: string, wire: boolean): Promise<Compare> => {
  const out = join(dir, wire ? "wire" : "engine")
  await run(
    process.execPath,
    [
      main,
      "compare",
      "--days",
      "2",
      "--out",
      out,
      ...(wire ? ["--wire", "--workers", "2"] : ["--workers", "1"])
    ],
    { maxBuffer: 16 * 1024 * 1024 }
  )
  return JSON.parse(readFileSync(join(out, "latest", "compare.json"), "utf8")) as Compare
}

/** What differs between the engine's side and the wire's, each difference with its figures and its likely cause. */
const differences = (name: string, engine: Side, wire: Side): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const reasons = (s: Side) => s.failureReasons.map((r) => `${r.count}× ${r.reason}`).join("; ") || "none"
  if (engine.tasks - engine.failed !== wire.tasks - wire.failed || engine.failed !== wire.failed)
    problems.push(
      `${name}: ${engine.tasks - engine.failed} completed and ${engine.failed} failed on the engine (${reasons(engine)}), ${wire.tasks - wire.failed} and ${wire.failed} on the wire (${reasons(wire)}): the providers handle a failure differently`
    )
  if (engine.coldStarts !== wire.coldStarts)
    problems.push(
      `${name}: ${engine.coldStarts} cold starts on the engine, ${wire.coldStarts} on the wire: a session is reused or put to sleep differently (idle hand-off, or a wake racing a sleep)`
    )
  const relative = Math.abs(engine.usd - wire.usd) / Math.max(wire.usd, 1e-9)
  if (relative > 0.01) {
    const hours = (s: Side) =>
      Object.entries(s.hoursByState)
        .map(([state, h]) => `${state} ${h.toFixed(3)} h`)
        .join(", ")
    problems.push(
      `${name}: bill $${engine.usd.toFixed(4)} on the engine, $${wire.usd.toFixed(4)} on the wire (${(relative * 100).toFixed(2)}% apart): time in a billed state differs (engine ${hours(engine)}; wire ${hours(wire)})`
    )
  }
  return problems
}

describe("the engine agrees with the wire path", () => {
  it("per provider on a 2-day slice of every seed scenario: tasks, failures, cold starts, bill within 1%", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hangar-cross-check-"))
    const [engine, wire] = await Promise.all([compare(dir, false), compare(dir, true)])
    // Each seed scenario, tuned (tuned.yaml) and as its file configures it.
    assert.isAtLeast(engine.scenarios.length, 4)
    assert.strictEqual(wire.scenarios.length, engine.scenarios.length)
    const problems: Array<string> = []
    for (const scenario of engine.scenarios) {
      const other = wire.scenarios.find((s) => s.name === scenario.name)
      if (other === undefined) {
        problems.push(`${scenario.name}: missing from the wire path's results`)
        continue
      }
      for (const provider of ["fly", "ecs"] as const) {
        const e = scenario[provider]
        const w = other[provider]
        console.log(
          `${scenario.name} ${provider}: completed ${e.tasks - e.failed} / ${w.tasks - w.failed}, failed ${e.failed} / ${w.failed}, cold starts ${e.coldStarts} / ${w.coldStarts}, bill $${e.usd.toFixed(4)} / $${w.usd.toFixed(4)} (engine / wire)`
        )
        assert.isAbove(e.tasks, 0, `${scenario.name} ${provider}: no tasks`)
        problems.push(...differences(`${scenario.name} ${provider}`, e, w))
      }
    }
    assert.deepStrictEqual(problems, [])
  }, 900_000)
})
