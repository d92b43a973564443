/**
 * What a durable write costs as the state grows (a program, not a test):
 * `pnpm --filter @hangar/ecs-simulator bench:persistence`.
 *
 * In process, with `dataDir` in a temporary directory: the wall time of RegisterTaskDefinition requests (each
 * answered after its fsynced journal line) with a small state and with a large one, and, side by side in the
 * same run, the same number of whole-state snapshot rewrites (temporary file, fsync, rename: what a
 * save-everything store pays per write). Prints each per-write figure and the large/small ratios.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { VirtualClock } from "@hangar/core"
import * as EcsSimulator from "../src/EcsSimulator.js"
import * as Persistence from "../src/Persistence.js"

const { values } = parseArgs({
  options: {
    small: { type: "string", default: "100" },
    large: { type: "string", default: "20000" },
    writes: { type: "string", default: "200" }
  }
})
const small = Number(values.small)
const large = Number(values.large)
const writes = Number(values.writes)

const dir = mkdtempSync(join(tmpdir(), "ecs-sim-bench-"))
const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
const sim = await EcsSimulator.make({ clock, seed: 1, dataDir: dir, compactAfterBytes: 1 << 30 })

const register = (family: string) =>
  sim.server.inject({
    method: "POST",
    url: "/",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition"
    },
    payload: JSON.stringify({ family, memory: "512", containerDefinitions: [{ name: "c", image: "i" }] })
  })

/** Grows the state to `size` definitions (straight into the model, saved by the next request). */
const grow = async (size: number) => {
  let n = [...sim.model.definitions.values()].reduce((sum, r) => sum + r.length, 0)
  for (; n < size; n++) sim.model.registerTaskDefinition(`fill${n}`, [{ name: "c", image: "i" }], 0, 512)
  await register("warm")
}

const journalWrite = async () => {
  const started = process.hrtime.bigint()
  for (let n = 0; n < writes; n++) {
    const response = await register("measured")
    if (response.statusCode !== 200) throw new Error(response.body)
  }
  return Number(process.hrtime.bigint() - started) / 1e3 / writes
}

const snapshotRewrite = () => {
  const path = join(dir, "rewrite.json")
  const started = process.hrtime.bigint()
  for (let n = 0; n < writes; n++) {
    writeFileSync(`${path}.tmp`, JSON.stringify(Persistence.snapshot(sim.model)))
    const fd = openSync(`${path}.tmp`, "r+")
    fsyncSync(fd)
    closeSync(fd)
    renameSync(`${path}.tmp`, path)
  }
  return Number(process.hrtime.bigint() - started) / 1e3 / writes
}

await grow(small)
const journalSmall = await journalWrite()
const rewriteSmall = snapshotRewrite()
await grow(large)
const journalLarge = await journalWrite()
const rewriteLarge = snapshotRewrite()
const definitions = [...sim.model.definitions.values()].reduce((sum, r) => sum + r.length, 0)
await sim.close()
rmSync(dir, { recursive: true, force: true })

const us = (x: number) => `${Math.round(x).toLocaleString("en-US")} µs`
console.log(`durable writes, ${writes} RegisterTaskDefinition requests at each size (fsync per write):`)
console.log(
  `  journal (this store):      ${us(journalSmall)} with ~${small} definitions, ${us(journalLarge)} with ~${large}: ratio ${(journalLarge / journalSmall).toFixed(2)}`
)
console.log(
  `  whole-state rewrite:       ${us(rewriteSmall)} with ~${small} definitions, ${us(rewriteLarge)} with ~${large}: ratio ${(rewriteLarge / rewriteSmall).toFixed(2)}`
)
console.log(
  `  at the large size a rewrite costs ${(rewriteLarge / journalLarge).toFixed(1)}× a journal write (${definitions} definitions at the end)`
)
