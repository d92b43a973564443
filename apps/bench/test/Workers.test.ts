import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { assert, describe, it } from "vitest"

const main = new URL("../dist/main.js", import.meta.url).pathname
const run = promisify(execFile)

// Three jobs: the Fly side and one ECS cluster per region.
const scenario = `
name: two-regions
description: a day of tasks in two regions
seed: 9
days: 1
repositories: 3
regions: [iad, lhr]
size: dev
arrival: { kind: poisson, perDay: 30 }
duration: { kind: fixed, seconds: 240 }
startLatencyP95Seconds: 10
ecs: { instanceType: t3.medium, minInstances: 1, maxInstances: 2, rationale: test }
fly: { idleTimeoutMinutes: 5, sleepsBy: suspend, volumeGb: 10 }
`

describe("hangar-bench on worker threads (the built CLI; turbo builds it before this test)", () => {
  it("writes byte-identical results on two threads and on one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hangar-bench-"))
    const file = join(dir, "two-regions.yaml")
    writeFileSync(file, scenario)
    const outputs = await Promise.all(
      [1, 2].map(async (workers) => {
        const out = join(dir, `out-${workers}`)
        const { stderr } = await run(process.execPath, [
          main,
          "run",
          file,
          "--workers",
          String(workers),
          "--out",
          out
        ])
        assert.include(stderr, `on ${workers} thread(s)`)
        return readFileSync(join(out, "latest", "compare.json"), "utf8")
      })
    )
    const [one, two] = outputs
    assert.strictEqual(two, one)
    const parsed = JSON.parse(one!) as { scenarios: Array<{ ecs: { tasks: number; failed: number } }> }
    assert.isAbove(parsed.scenarios[0]!.ecs.tasks, 10)
    assert.strictEqual(parsed.scenarios[0]!.ecs.failed, 0)
  }, 120_000)
})
