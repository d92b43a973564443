/**
 * Three hangar-serve processes (the built dist/main.js) on one real Postgres and both simulators (processes, in
 * virtual time). 1,000 tasks are posted at random to the three, each twice to two different instances, while one
 * instance is killed with SIGKILL midway and restarted under a new id. Afterwards, from the database, the
 * simulators and the instances' own logs:
 *
 * - none is lost: every acknowledged task is in the book and finished;
 * - every task ran exactly once: its command was sent once (each instance logs "sending the command" only after
 *   recording it under a live lease) and the providers list exactly one session for it;
 * - no compute bills without an owner: every session the providers list running has a live record owned by a
 *   live instance (the killed instance's sessions were adopted by another one).
 *
 * Task durations are scaled down (2 s of virtual time), not their number. turbo builds dist before this test.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ProviderRegistry, type Session } from "@hangar/core"
import { EcsProvider } from "@hangar/provider-ecs"
import { FlyProvider } from "@hangar/provider-fly"
import { TestPostgres } from "@hangar/router/testing"
import { Effect, Layer, Redacted } from "effect"
import * as Fleet from "../bench/Fleet.js"
import * as Simulators from "../bench/Simulators.js"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const token = "multi-instance-token"
const seed = 20261206
/** 1,000 in CI; HANGAR_MULTI_TASKS changes it for a quick local look. */
const taskCount = Number(process.env.HANGAR_MULTI_TASKS ?? 1000)
const prefix = "mi"

/** A seeded generator (mulberry32), so that a run's choices can be replayed from the printed seed. */
const random = (() => {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
})()

let db: TestPostgres.TestDatabase
let sims: Simulators.Simulators
let dir: string
const instances: Array<Simulators.SimulatorProcess> = []
const outputs: Array<() => string> = []

const psql = (query: string) => Fleet.psql(db.url, query)

const configFile = () =>
  Fleet.writeConfig(join(dir, "hangar.toml"), {
    prefix,
    concurrencyPerProvider: 48,
    reconcileSeconds: 30,
    extra: ["[leases]", "ttl_seconds = 10", "heartbeat_seconds = 1"]
  })

const startInstance = (file: string, id: string) =>
  Simulators.spawnListening(main, ["--config", file, "--instance-id", id], {
    ...process.env,
    ...sims.env,
    HANGAR_API_TOKEN: token,
    HANGAR_DATABASE_URL: db.url
  })

const began = Date.now()
const phase = (what: string) => console.log(`+${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hangar-multi-"))
  db = await TestPostgres.start()
  phase("postgres up")
  sims = await Simulators.start({ seed: 11, stepMillis: 10_000, everyMillis: 10, maxInstances: 60 })
  const file = configFile()
  const started = await Promise.all(["i1", "i2", "i3"].map((id) => startInstance(file, id)))
  for (const instance of started) {
    instances.push(instance)
    outputs.push(instance.output)
  }
  phase("simulators and instances up")
})

afterAll(async () => {
  // Killed, not stopped: a graceful stop would put every session to sleep, which the checks no longer need.
  for (const instance of instances) await Simulators.killed(instance.child)
  await sims?.stop()
  await db?.stop()
  phase("stopped")
  rmSync(dir, { recursive: true, force: true })
})

const taskOf = (n: number) => {
  const id = String(n).padStart(4, "0")
  // One in eight has no expected duration: the rules send it to ECS; the others are short and go to Fly.
  const long = n % 8 === 0
  return {
    taskId: `task-${id}`,
    repository: `acme/repo-${id}`,
    size: "dev",
    command: ["work", "2"],
    ...(long ? {} : { expectedDurationSeconds: 60 })
  }
}

const post = async (instance: number, body: unknown): Promise<boolean> => {
  try {
    const response = await fetch(`${instances[instance]!.url}/v1/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    await response.arrayBuffer()
    return response.status === 202 || response.status === 200
  } catch {
    return false
  }
}

/** The providers as reconciliation sees them: every session they list, over the simulators' HTTP. */
const listed = () =>
  Effect.runPromise(
    Effect.gen(function* () {
      const registry = yield* ProviderRegistry.ProviderRegistry
      const all: Array<Session.Session> = []
      for (const provider of registry.all) all.push(...(yield* provider.list()))
      return all
    }).pipe(
      Effect.provide(
        ProviderRegistry.layer(FlyProvider.FlyProvider, EcsProvider.EcsProvider).pipe(
          Layer.provide(
            Layer.merge(
              FlyProvider.layer({
                token: Redacted.make(sims.flyToken),
                baseUrl: sims.fly.url,
                appPrefix: prefix,
                regions: ["iad"],
                autostop: "off"
              }),
              EcsProvider.layer({
                cluster: "hangar",
                capacityProviderStrategy: [{ capacityProvider: "cp" }],
                endpoint: sims.ecs.url,
                credentials: sims.ecsCredentials,
                familyPrefix: prefix,
                regions: ["iad"]
              })
            )
          )
        )
      )
    )
  )

describe("three hangar-serve instances on one Postgres", () => {
  it("run 1,000 tasks posted twice each exactly once through a SIGKILL and restart, and leave nothing unowned", async () => {
    const posts: Array<{ task: number; instance: number }> = []
    for (let n = 1; n <= taskCount; n++) {
      const first = Math.floor(random() * 3)
      const second = (first + 1 + Math.floor(random() * 2)) % 3
      posts.push({ task: n, instance: first }, { task: n, instance: second })
    }
    // Shuffled, so a task's two posts come at different times (sometimes together).
    for (let i = posts.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[posts[i], posts[j]] = [posts[j]!, posts[i]!]
    }
    const targets = new Map<number, Array<number>>()
    for (const { instance, task } of posts) targets.set(task, [...(targets.get(task) ?? []), instance])
    const otherOf = (_index: number, task: number, instance: number) =>
      targets.get(task)!.find((i) => i !== instance) ?? (instance + 1) % 3
    const victim = Math.floor(random() * 3)
    const acknowledged = new Set<number>()
    let retried = 0
    let next = 0
    let killedAt = -1
    let restarting: Promise<void> | undefined
    const worker = async () => {
      while (next < posts.length) {
        const index = next++
        const { instance, task } = posts[index]!
        if (index === posts.length / 2 && killedAt < 0) {
          killedAt = index
          const killed = instances[victim]!
          restarting = Simulators.killed(killed.child).then(async () => {
            const restarted = await startInstance(join(dir, "hangar.toml"), `i${victim + 1}-restarted`)
            instances[victim] = restarted
            outputs.push(restarted.output)
          })
        }
        let ok = await post(instance, taskOf(task))
        // The instance is down: the client sends the task to the instance its other post does not go to (still
        // two different instances), and else waits for the restart.
        if (!ok) {
          retried++
          ok = await post(3 - instance - otherOf(index, task, instance), taskOf(task))
        }
        while (!ok) {
          await (restarting ?? new Promise((resolve) => setTimeout(resolve, 50)))
          ok = await post(instance, taskOf(task))
        }
        acknowledged.add(task)
      }
    }
    await Promise.all(Array.from({ length: 24 }, worker))
    await restarting
    phase("all posted")

    // Every task finished (or the wait ends and the counts below say which did not).
    let unfinished = taskCount
    for (let i = 0; i < 900 && unfinished > 0; i++) {
      unfinished = Number(
        psql("SELECT count(*) FROM hangar_tasks WHERE state IN ('queued', 'running')")[0]![0]
      )
      if (unfinished > 0) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    phase("all finished")
    // One more round after the last task, so the killed instance's sessions are adopted by a live one.
    const victimExpired = () =>
      psql(
        `SELECT count(*) FROM hangar_instances WHERE instance_id = 'i${victim + 1}' AND expires_at >= (extract(epoch from now()) * 1000)::bigint`
      )[0]![0] === "0"
    while (!victimExpired()) await new Promise((resolve) => setTimeout(resolve, 200))
    let reconciled = 0
    for (let i = 0; i < 50 && reconciled !== 200; i++) {
      const response = await fetch(`${instances[(victim + 1) % 3]!.url}/v1/reconcile`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` }
      })
      reconciled = response.status
      await response.arrayBuffer()
      if (reconciled !== 200) await new Promise((resolve) => setTimeout(resolve, 200))
    }

    phase("reconciled")
    const rows = psql("SELECT task_id, state, attempts, exec_sent, COALESCE(error, '-') FROM hangar_tasks")
    const byState = new Map<string, number>()
    for (const [, state] of rows) byState.set(state!, (byState.get(state!) ?? 0) + 1)
    const inBook = new Set(rows.map((r) => r[0]!))
    const lost = [...acknowledged].filter((n) => !inBook.has(taskOf(n).taskId)).length + unfinished
    const unknown = rows.filter((r) => r[4]!.includes("result is unknown")).length
    const adoptedTasks = rows.filter((r) => Number(r[2]) > 1).length

    const sends = new Map<string, number>()
    for (const output of outputs)
      for (const match of output().matchAll(/message="sending the command".* task=(\S+)/g))
        sends.set(match[1]!, (sends.get(match[1]!) ?? 0) + 1)
    const succeeded = rows.filter((r) => r[1] === "succeeded")
    const sentOnce = succeeded.filter((r) => sends.get(r[0]!) === 1).length
    const sentTwice = [...sends.values()].filter((n) => n > 1).length

    const sessions = await listed()
    const computePerTask = new Map<string, number>()
    for (const s of sessions) computePerTask.set(s.taskId, (computePerTask.get(s.taskId) ?? 0) + 1)
    const oneCompute = rows.filter((r) => computePerTask.get(r[0]!) === 1).length
    const live = new Set(
      psql(
        "SELECT instance_id FROM hangar_instances WHERE expires_at >= (extract(epoch from now()) * 1000)::bigint"
      ).map((r) => r[0]!)
    )
    const owners = new Map(
      psql(
        "SELECT provider, session_id, owner FROM hangar_sessions WHERE state NOT IN ('released', 'failed')"
      ).map((r) => [`${r[0]}/${r[1]}`, r[2]!] as const)
    )
    const billing = sessions.filter(
      (s) =>
        s.status !== "destroyed" &&
        s.status !== "failed" &&
        s.status !== "stopped" &&
        s.status !== "suspended"
    )
    const unowned = billing.filter((s) => !live.has(owners.get(`${s.provider}/${s.id}`) ?? "")).length
    const victimId = `i${victim + 1}`
    const stillVictims = [...owners.values()].filter((owner) => owner === victimId).length

    const cpu = (pid: number | undefined) => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
      return ((Number(fields[11]) + Number(fields[12])) / 100).toFixed(1)
    }
    console.log(
      [
        `cpu seconds: instances ${instances.map((i) => cpu(i.child.pid)).join(", ")}; fly-sim ${cpu(sims.fly.child.pid)}, ecs-sim ${cpu(sims.ecs.child.pid)}`,
        `multi-instance (seed ${seed}): ${taskCount} tasks, ${posts.length} posts (${retried} retried while i${victim + 1} was down), i${victim + 1} SIGKILLed after post ${killedAt} and restarted`,
        `tasks: ${rows.length} in the book, ${byState.get("succeeded") ?? 0} succeeded, ${byState.get("failed") ?? 0} failed (${unknown} with an unknown result), ${lost} lost, ${adoptedTasks} adopted from the killed instance`,
        `ran: ${sentOnce} of ${succeeded.length} succeeded tasks' commands sent exactly once, ${sentTwice} sent more than once, ${oneCompute} tasks with exactly one session on the providers`,
        `compute: ${billing.length} sessions billing, ${unowned} without a live owner; ${stillVictims} records still owned by the killed instance; live instances ${[...live].sort().join(", ")}; reconcile answered ${reconciled}`
      ].join("\n")
    )
    assert.strictEqual(acknowledged.size, taskCount, `seed ${seed}`)
    assert.strictEqual(rows.length, taskCount, `seed ${seed}`)
    assert.strictEqual(lost, 0, `seed ${seed}`)
    assert.strictEqual(
      byState.get("succeeded") ?? 0,
      taskCount - unknown,
      `seed ${seed}: ${JSON.stringify(rows.filter((r) => r[1] !== "succeeded").slice(0, 5))}`
    )
    assert.strictEqual(sentTwice, 0, `seed ${seed}`)
    assert.strictEqual(sentOnce, succeeded.length, `seed ${seed}`)
    assert.strictEqual(
      oneCompute,
      taskCount,
      `seed ${seed}: ${JSON.stringify(rows.filter((r) => computePerTask.get(r[0]!) !== 1).map((r) => [...r, sessions.filter((s) => s.taskId === r[0]).map((s) => `${s.provider}/${s.id} ${s.status}`)]))}`
    )
    assert.strictEqual(unowned, 0, `seed ${seed}`)
    assert.strictEqual(stillVictims, 0, `seed ${seed}`)
    assert.strictEqual(reconciled, 200)
    assert.isAtLeast(killedAt, 0)
  })
})
