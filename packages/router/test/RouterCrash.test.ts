/**
 * The router in a child process, killed with SIGKILL at each step of a dispatch, then restarted on the same
 * SQLite store: after the restarted router's reconciliation, no Fly machine and no ECS task bills without a
 * record owning it, and what nobody owns is destroyed. Both simulators run in this process on 127.0.0.1 (port 0),
 * on the real clock with fast transitions; the child uses the real FlyProvider and EcsProvider plugins over HTTP.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { EcsSimulator } from "@hangar/ecs-simulator"
import { FlySimulator } from "@hangar/fly-simulator"
import { Effect } from "effect"
import { build } from "tsup"
import type * as Router from "../src/Router.js"
import * as SessionStore from "../src/SessionStore.js"
import { SqliteSessionStore } from "../src/sqlite/index.js"
import type { ChildConfig } from "./crash/RouterChild.js"

const here = dirname(fileURLToPath(import.meta.url))
const packageDir = join(here, "..")
/** Inside the package, so that the bundle's external imports (effect, @effect/*) resolve to the package's own. */
const bundleDir = join(packageDir, "node_modules", ".cache", "router-crash-child")
const seed = 19
const flyToken = "crash-test-token"
const ecsCredentials = { accessKeyId: "AKIDCRASHTEST", secretAccessKey: "crash-test-secret" }
const cluster = "hangar"
const capacityProvider = "cp"

const steps: ReadonlyArray<{ readonly step: Router.DispatchStep; readonly where: string }> = [
  { step: "intent", where: "before create" },
  { step: "created", where: "after create" },
  { step: "started", where: "after start" },
  { step: "exec", where: "mid-exec" },
  { step: "idle", where: "during idle" }
]

interface Running {
  readonly machines: ReadonlyArray<string>
  readonly tasks: ReadonlyArray<string>
}

interface Row {
  readonly where: string
  readonly killedAt: string
  readonly billingAfterKill: Running
  readonly orphansFound: number
  readonly orphansDestroyed: number
  readonly intentsAdopted: number
  readonly intentsFailed: number
  readonly recordsAdopted: number
  readonly rounds: number
}

const bundleChild = () =>
  build({
    config: false,
    entry: { RouterChild: join(here, "crash", "RouterChild.ts") },
    outDir: bundleDir,
    format: ["esm"],
    platform: "node",
    target: "node20",
    splitting: false,
    sourcemap: false,
    dts: false,
    clean: true,
    silent: true,
    // The workspace's packages from their TypeScript sources; the router's own dependencies stay external.
    noExternal: [/^@hangar\//],
    external: ["effect", /^@effect\/(platform|sql|sql-sqlite-node|experimental)(\/|$)/],
    esbuildOptions: (options) => {
      options.conditions = ["source"]
    },
    banner: {
      js: "import { createRequire as __hangarRequire } from 'node:module'; const require = __hangarRequire(import.meta.url);"
    }
  })

/** A child router: its stdout lines as they come, and its exit. */
const startChild = (config: ChildConfig) => {
  const child: ChildProcess = spawn(process.execPath, [join(bundleDir, "RouterChild.js")], {
    cwd: packageDir,
    env: { ...process.env, HANGAR_CRASH_CHILD: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  const waiters = new Set<() => void>()
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line)
    for (const wake of waiters) wake()
  })
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  /** Resolves once `until` holds for the lines so far; fails after `millis` with what the child printed. */
  const waitFor = (until: (lines: ReadonlyArray<string>) => boolean, what: string, millis = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!until(lines)) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`child: no ${what} within ${millis} ms\n${lines.join("\n")}\n${stderr}`))
      }, millis)
      waiters.add(check)
      check()
    })
  return { child, lines, exited, waitFor, stderr: () => stderr }
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

describe("the router killed with SIGKILL at each step of a dispatch", () => {
  let fly: FlySimulator.Simulator
  let ecs: EcsSimulator.Simulator
  let flyUrl = ""
  let ecsUrl = ""
  let storeDir = ""
  const rows: Array<Row> = []

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), "hangar-router-crash-"))
    await bundleChild()
    fly = await FlySimulator.make({
      seed,
      tokens: [{ token: flyToken }],
      regions: ["iad"],
      timing: {
        create: 100,
        firstImagePull: 200,
        bootFromStopped: 100,
        resumeFromSuspended: 50,
        stop: 100,
        suspendBase: 50,
        suspendPerGb: 50,
        destroy: 50
      }
    })
    flyUrl = await fly.listen({ host: "127.0.0.1", port: 0 })
    ecs = await EcsSimulator.make({
      seed,
      accessKeys: [ecsCredentials.accessKeyId],
      timing: { instanceLaunch: 300, taskStart: 200, imagePull: 200, taskStop: 200 }
    })
    ecsUrl = await ecs.listen({ host: "127.0.0.1", port: 0 })
    ecs.provisionCluster(cluster, [
      { name: capacityProvider, group: { name: "asg", instanceType: "t3.large", min: 2, max: 3, desired: 2 } }
    ])
  }, 300_000)

  afterAll(async () => {
    if (rows.length > 0) {
      const header = `seed ${seed}; per kill point: compute billing after the kill (Fly machines + ECS tasks, the 2 injected orphans excluded) and what the restarted router's reconciliation did`
      const table = rows.map(
        (r) =>
          `${r.where.padEnd(13)} killed at ${r.killedAt.padEnd(8)} billing after kill: ${r.billingAfterKill.machines.length} machine(s), ${r.billingAfterKill.tasks.length} task(s); orphans found ${r.orphansFound}, destroyed ${r.orphansDestroyed}; intents adopted ${r.intentsAdopted}, failed ${r.intentsFailed}; records adopted ${r.recordsAdopted}; ${r.rounds} round(s)`
      )
      console.log([header, ...table].join("\n"))
    }
    await fly?.close()
    await ecs?.close()
    rmSync(storeDir, { recursive: true, force: true })
  })

  /** Fly machines and ECS tasks of a run that bill for compute now. */
  const billing = (prefix: string): Running => ({
    machines: [...fly.model.machines.values()]
      .filter(
        (m) =>
          m.app.startsWith(`${prefix}-`) &&
          !["stopped", "suspended", "destroying", "destroyed"].includes(m.state)
      )
      .map((m) => `${m.app}/${m.id}`),
    tasks: [...ecs.model.tasks.values()]
      .filter((t) => t.startedBy === prefix && t.lastStatus !== "STOPPED")
      .map((t) => t.tags.find((tag) => tag.key === "hangar:session")?.value ?? t.arn)
  })

  /** Seconds each of a run's machines has been billed as started, from the Fly simulator's ledger. */
  const startedSeconds = (prefix: string) =>
    fly
      .billing()
      .lines.filter((l) => l.kind === "machine" && l.app.startsWith(`${prefix}-`) && l.state === "started")
      .map((l) => `${l.resource}=${l.seconds}`)
      .sort()

  /** Compute started behind the router's back: no record will ever own it. */
  const injectOrphans = (prefix: string) => {
    const app = `${prefix}-orphanage`
    fly.model.createApp(app, "personal")
    const machine = fly.model.createMachine(app, { config: { image: "orphan" }, region: "iad" })
    const family = `${prefix}-orphan`
    ecs.model.registerTaskDefinition(family, [{ name: "agent", image: "orphan", memory: 512 }], 256, 512)
    const run = ecs.model.runTask({
      cluster,
      taskDefinition: family,
      count: 1,
      capacityProviderStrategy: [{ capacityProvider }],
      startedBy: prefix,
      tags: [
        { key: "hangar:session", value: `ecs-${prefix}-lost` },
        { key: "hangar:repository", value: "acme/lost" }
      ]
    })
    assert.strictEqual(run.tasks.length, 1, JSON.stringify(run.failures))
    return { fly: `${app}/${machine.id}`, ecs: `ecs-${prefix}-lost` }
  }

  const liveRecords = (file: string) =>
    Effect.runPromise(
      Effect.flatMap(SessionStore.SessionStore, (s) => s.live()).pipe(
        Effect.provide(SqliteSessionStore.layer(file))
      )
    )

  const configFor = (
    prefix: string,
    mode: ChildConfig["mode"],
    storeFile: string,
    workSeconds = "1"
  ): ChildConfig => ({
    mode,
    instanceId: `${mode}-${prefix}`,
    flyUrl,
    flyToken,
    ecsUrl,
    ecsCredentials,
    cluster,
    capacityProvider,
    prefix,
    storeFile,
    tasks: [
      // The seed's rules: short → fly, long → ecs.
      {
        taskId: `${prefix}-fly`,
        repository: "acme/web",
        expectedDurationSeconds: 60,
        command: ["work", workSeconds]
      },
      {
        taskId: `${prefix}-ecs`,
        repository: "acme/api",
        expectedDurationSeconds: 3600,
        command: ["work", workSeconds]
      }
    ],
    execKillDelayMillis: 500,
    // The first router's idle timers never fire before it dies; the restarted one's put adopted sessions to sleep.
    idleMinutes: mode === "dispatch" ? 5 : 0.02,
    graceMillis: 1_000,
    intervalMillis: 300
  })

  for (const [index, { step, where }] of steps.entries()) {
    it(`killed ${where} (${step}): after the restart's reconciliation nothing bills without an owner`, async () => {
      const prefix = `k${index}-${step}`
      const storeFile = join(storeDir, `${prefix}.db`)

      // 1. The router dies at the step, with every task of the dispatch there.
      // Mid-exec: the commands run for a minute, so both are still running when the process dies.
      const first = startChild({
        ...configFor(prefix, "dispatch", storeFile, step === "exec" ? "60" : "1"),
        killAt: step
      })
      const exit = await Promise.race([
        first.exited,
        sleep(40_000).then(() => {
          first.child.kill("SIGKILL")
          throw new Error(`the child never reached ${step}:\n${first.lines.join("\n")}\n${first.stderr()}`)
        })
      ])
      assert.strictEqual(exit.signal, "SIGKILL", `${first.lines.join("\n")}\n${first.stderr()}`)
      assert.include(first.lines, `KILL ${step}`)
      const reached = first.lines.filter((l) => l.startsWith(`STEP ${step} `)).map((l) => l.split(" ")[2])
      assert.sameMembers(reached, [`${prefix}-fly`, `${prefix}-ecs`])
      if (step !== "idle") assert.isFalse(first.lines.some((l) => l.startsWith("STEP idle")))
      console.log(
        `${where}: killed at ${step}: ${first.lines.filter((l) => l.startsWith("STEP")).join("; ")}`
      )
      const afterKill = billing(prefix)
      const orphans = injectOrphans(prefix)

      // 2. A restarted router on the same store reconciles until nothing is left for it to act on.
      const second = startChild(configFor(prefix, "reconcile", storeFile))
      const reports = () =>
        second.lines
          .filter((l) => l.startsWith("REPORT "))
          .map((l) => JSON.parse(l.slice("REPORT ".length)) as Router.ReconcileReport)
      try {
        await second.waitFor(() => {
          const all = reports()
          const last = all.at(-1)
          return (
            all.some((r) => r.destroyed.length > 0) &&
            last !== undefined &&
            last.orphans.length === 0 &&
            last.deferred.length === 0
          )
        }, "round that left no orphan")
        // Every machine and task billing now is owned by a live record.
        const owned = new Set((await liveRecords(storeFile)).map((r) => r.sessionId))
        const now = billing(prefix)
        for (const id of [...now.machines, ...now.tasks]) assert.isTrue(owned.has(id), `${id} bills unowned`)
        assert.notInclude(now.machines, orphans.fly)
        assert.notInclude(now.tasks, orphans.ecs)
        // The adopted sessions are the idle policy's: asleep after its timeout, so nothing bills at all.
        const deadline = Date.now() + 20_000
        while (Date.now() < deadline) {
          const left = billing(prefix)
          if (left.machines.length + left.tasks.length === 0) break
          await sleep(200)
        }
        assert.deepStrictEqual(billing(prefix), { machines: [], tasks: [] })
        const ledger = startedSeconds(prefix)
        await sleep(300)
        assert.deepStrictEqual(startedSeconds(prefix), ledger, "the ledger still accrues started time")
      } finally {
        second.child.kill("SIGKILL")
        await second.exited
      }

      // 3. What reconciliation did, against what each kill point leaves behind.
      const all = reports()
      const unique = <A>(items: ReadonlyArray<A>) => [...new Set(items)]
      const destroyed = unique(all.flatMap((r) => r.destroyed.map((d) => d.sessionId))).sort()
      const intentsAdopted = unique(all.flatMap((r) => r.intentsAdopted.map((i) => i.taskId))).sort()
      const intentsFailed = unique(all.flatMap((r) => r.intentsFailed.map((i) => i.taskId))).sort()
      const recordsAdopted = unique(all.flatMap((r) => r.adopted)).filter((t) => !intentsAdopted.includes(t))
      const tasks = [`${prefix}-ecs`, `${prefix}-fly`]
      assert.deepStrictEqual(destroyed, [orphans.ecs, orphans.fly].sort())
      assert.deepStrictEqual(intentsFailed, step === "intent" ? tasks : [])
      assert.deepStrictEqual(intentsAdopted, step === "created" ? tasks : [])
      assert.deepStrictEqual(recordsAdopted.sort(), step === "intent" || step === "created" ? [] : tasks)
      assert.deepStrictEqual(
        afterKill.machines.length + afterKill.tasks.length,
        step === "intent" ? 0 : 2,
        "compute left billing by the kill"
      )
      rows.push({
        where,
        killedAt: step,
        billingAfterKill: afterKill,
        orphansFound: unique(all.flatMap((r) => r.orphans.map((o) => o.sessionId))).length,
        orphansDestroyed: destroyed.length,
        intentsAdopted: intentsAdopted.length,
        intentsFailed: intentsFailed.length,
        recordsAdopted: recordsAdopted.length,
        rounds: all.length
      })
    }, 90_000)
  }
})
