/**
 * hangar-serve's throughput: tasks per second through POST /v1/tasks with one instance and with three on one
 * Postgres, against both simulators in virtual time, side by side in one run (the same tasks, each side on a
 * fresh database and fresh simulators). For each side: tasks accepted per second (the POSTs' rate), tasks
 * finished per second (from the first POST to the last task done), and the POST latency's p50 and p95; then the
 * ratio of three instances to one. `pnpm --filter @hangar/server bench [--tasks N] [--concurrency N]`.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { TestPostgres } from "@hangar/router/testing"
import * as Fleet from "./Fleet.js"
import * as Simulators from "./Simulators.js"

const main = fileURLToPath(new URL("../main.js", import.meta.url))
const token = "bench-token"

const flag = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  const value = at < 0 ? fallback : Number(process.argv[at + 1])
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`--${name} must be a positive whole number`)
    process.exit(2)
  }
  return value
}

const taskCount = flag("tasks", 300)
const concurrency = flag("concurrency", 32)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

interface SideResult {
  readonly instances: number
  readonly acceptedPerSecond: number
  readonly finishedPerSecond: number
  readonly p50Millis: number
  readonly p95Millis: number
  readonly failed: number
}

const configFile = (dir: string, prefix: string) =>
  Fleet.writeConfig(join(dir, `${prefix}.toml`), {
    prefix,
    concurrencyPerProvider: 64,
    reconcileSeconds: 600
  })

const taskOf = (n: number) => ({
  taskId: `bench-${n}`,
  repository: `acme/bench-${n}`,
  size: "dev",
  command: ["work", "2"],
  ...(n % 8 === 0 ? {} : { expectedDurationSeconds: 60 })
})

const side = async (instanceCount: number, dir: string): Promise<SideResult> => {
  const db = await TestPostgres.start()
  const sims = await Simulators.start({ seed: 5, stepMillis: 10_000, everyMillis: 10, maxInstances: 60 })
  const file = configFile(dir, `b${instanceCount}`)
  const instances: Array<Simulators.SimulatorProcess> = []
  try {
    for (let i = 0; i < instanceCount; i++)
      instances.push(
        await Simulators.spawnListening(main, ["--config", file, "--instance-id", `bench-${i + 1}`], {
          ...process.env,
          ...sims.env,
          HANGAR_API_TOKEN: token,
          HANGAR_DATABASE_URL: db.url
        })
      )
    const latencies: Array<number> = []
    let next = 0
    const started = performance.now()
    const worker = async () => {
      while (next < taskCount) {
        const n = next++
        const at = performance.now()
        const response = await fetch(`${instances[n % instanceCount]!.url}/v1/tasks`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(taskOf(n))
        })
        await response.arrayBuffer()
        latencies.push(performance.now() - at)
        if (response.status !== 202) throw new Error(`POST answered ${response.status}`)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    const accepted = performance.now()
    const psql = (query: string) => Fleet.psql(db.url, query)[0]![0]!
    while (Number(psql("SELECT count(*) FROM hangar_tasks WHERE state IN ('queued', 'running')")) > 0)
      await new Promise((resolve) => setTimeout(resolve, 100))
    const finished = performance.now()
    const failed = Number(psql("SELECT count(*) FROM hangar_tasks WHERE state = 'failed'"))
    latencies.sort((a, b) => a - b)
    return {
      instances: instanceCount,
      acceptedPerSecond: taskCount / ((accepted - started) / 1000),
      finishedPerSecond: taskCount / ((finished - started) / 1000),
      p50Millis: percentile(latencies, 50),
      p95Millis: percentile(latencies, 95),
      failed
    }
  } finally {
    for (const instance of instances) await Simulators.killed(instance.child)
    await sims.stop()
    await db.stop()
  }
}

const run = async () => {
  const dir = mkdtempSync(join(tmpdir(), "hangar-serve-bench-"))
  try {
    console.log(
      `hangar-serve bench: ${taskCount} tasks, ${concurrency} concurrent POSTs, simulators in virtual time`
    )
    const one = await side(1, dir)
    const three = await side(3, dir)
    const row = (r: SideResult) =>
      `| ${r.instances} | ${r.acceptedPerSecond.toFixed(1)} | ${r.finishedPerSecond.toFixed(1)} | ${r.p50Millis.toFixed(1)} | ${r.p95Millis.toFixed(1)} | ${r.failed} |`
    console.log("| instances | accepted tasks/s | finished tasks/s | POST p50 ms | POST p95 ms | failed |")
    console.log("|---|---|---|---|---|---|")
    console.log(row(one))
    console.log(row(three))
    console.log(
      `three instances / one: accepted ${(three.acceptedPerSecond / one.acceptedPerSecond).toFixed(2)}×, finished ${(three.finishedPerSecond / one.finishedPerSecond).toFixed(2)}×, p95 ${(three.p95Millis / one.p95Millis).toFixed(2)}×`
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

run().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
