/**
 * An acknowledged write survives kill -9: in process (a simulator abandoned without `close`, the journal
 * compacted mid-way, a torn last line), and with `dist/main.js` in a child process killed with SIGKILL at
 * seeded random points of a write burst (run `pnpm --filter @hangar/ecs-simulator build` first; turbo does it
 * before this package's tests).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import {
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  PutClusterCapacityProvidersCommand,
  RegisterTaskDefinitionCommand
} from "@aws-sdk/client-ecs"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { FastCheck as fc } from "effect"
import * as EcsSimulator from "../src/EcsSimulator.js"
import * as Persistence from "../src/Persistence.js"
import { setup } from "./Setup.js"

const json = (body: unknown) => ({
  headers: { "content-type": "application/json" },
  payload: JSON.stringify(body)
})
const ecs = (operation: string, body: unknown) => ({
  method: "POST" as const,
  url: "/",
  headers: {
    "content-type": "application/x-amz-json-1.1",
    "x-amz-target": `AmazonEC2ContainerServiceV20141113.${operation}`
  },
  payload: JSON.stringify(body)
})

const withDir = async (run: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "ecs-sim-durable-"))
  try {
    await run(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("durability: what was acknowledged is on disk", () => {
  it("3 simulated hours, then a restart without close: the same bill for the old instance, and the clock resumes", () =>
    withDir(async (dir) => {
      const first = await setup({ dataDir: dir })
      const advanced = await first.sim.server.inject({
        method: "POST",
        url: "/_sim/clock/advance",
        ...json({ millis: 3 * 3_600_000 })
      })
      assert.strictEqual(advanced.statusCode, 200)
      const at = advanced.json().nowMillis as number
      const before = first.sim.billing()
      // A t3.large and its root volume for 3 hours: about $0.25.
      assert.isAbove(before.totalMicroUsd, 240_000)
      // No close: the first simulator is abandoned as a killed process would be.
      const second = await EcsSimulator.make({
        clock: new VirtualClock.VirtualClock(),
        dataDir: dir,
        seed: 5
      })
      assert.strictEqual(second.clock.now(), at)
      const after = second.billing()
      for (const line of before.lines) {
        // Billed exactly as before; now terminated at the saved time (the process that simulated it ended).
        const {
          state: _state,
          terminatedAt: _terminatedAt,
          ...kept
        } = after.lines.find((l) => l.instanceId === line.instanceId)!
        const { state: _was, ...billed } = line
        assert.deepStrictEqual(kept, billed)
      }
      assert.isAtLeast(after.totalMicroUsd, before.totalMicroUsd)
      await second.close()
      await first.sim.close()
    }))

  it("random writes with compaction along the way read back exactly; a torn last line is dropped (property)", () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("cluster" as const), n: fc.nat({ max: 5 }) }),
            fc.record({ kind: fc.constant("register" as const), n: fc.nat({ max: 3 }) }),
            fc.record({ kind: fc.constant("deregister" as const), n: fc.nat({ max: 3 }) }),
            fc.record({ kind: fc.constant("tag" as const), n: fc.nat({ max: 5 }) }),
            fc.record({ kind: fc.constant("resize" as const), n: fc.integer({ min: 1, max: 3 }) }),
            fc.record({ kind: fc.constant("advance" as const), n: fc.integer({ min: 1, max: 120 }) }),
            fc.record({ kind: fc.constant("reset" as const), n: fc.constant(0) })
          ),
          { minLength: 5, maxLength: 40 }
        ),
        (commands) =>
          withDir(async (dir) => {
            const first = await setup({ dataDir: dir })
            await first.sim.close()
            // Small enough that most runs compact once or more.
            const sim = await EcsSimulator.make({
              clock: new VirtualClock.VirtualClock(first.sim.clock.now()),
              dataDir: dir,
              seed: 5,
              compactAfterBytes: 4_096
            })
            for (const c of commands) {
              if (c.kind === "cluster")
                await sim.server.inject(ecs("CreateCluster", { clusterName: `c${c.n}` }))
              else if (c.kind === "register")
                await sim.server.inject(
                  ecs("RegisterTaskDefinition", {
                    family: `f${c.n}`,
                    memory: "512",
                    containerDefinitions: [{ name: "c", image: "i" }]
                  })
                )
              else if (c.kind === "deregister")
                await sim.server.inject(ecs("DeregisterTaskDefinition", { taskDefinition: `f${c.n}:1` }))
              else if (c.kind === "tag")
                await sim.server.inject(
                  ecs("TagResource", {
                    resourceArn: `arn:aws:ecs:us-east-1:123456789012:cluster/c${c.n}`,
                    tags: [{ key: "n", value: String(c.n) }]
                  })
                )
              else if (c.kind === "resize")
                await sim.server.inject({
                  method: "PATCH",
                  url: "/_sim/autoscaling-groups/asg",
                  ...json({ min: c.n, desired: c.n })
                })
              else if (c.kind === "advance")
                await sim.server.inject({
                  method: "POST",
                  url: "/_sim/clock/advance",
                  ...json({ millis: c.n * 60_000 })
                })
              else await sim.server.inject({ method: "POST", url: "/_sim/reset", ...json({}) })
            }
            const expected = Persistence.snapshot(sim.model)
            // A crash while appending: a line cut short, never acknowledged.
            appendFileSync(join(dir, Persistence.journalName), '{"seq":999999,"at":1,"changes":[{"clus')
            const saved = Persistence.read(dir)
            assert.isDefined(saved)
            const { ledger, savedAt: _savedAt, seq: _seq, ...configuration } = saved!.state
            const { ledger: expectedLedger, savedAt: _at, seq: _s, ...expectedConfiguration } = expected
            assert.strictEqual(JSON.stringify(configuration), JSON.stringify(expectedConfiguration))
            assert.deepStrictEqual(ledger, expectedLedger)
            assert.strictEqual(saved!.at, sim.clock.now())
            const reopened = await EcsSimulator.make({
              clock: new VirtualClock.VirtualClock(),
              dataDir: dir,
              seed: 5
            })
            assert.strictEqual(reopened.clock.now(), sim.clock.now())
            assert.deepStrictEqual([...reopened.model.clusters.keys()], [...sim.model.clusters.keys()])
            await reopened.close()
            await sim.close()
          })
      ),
      { seed: 20, numRuns: 25 }
    ))
})

// ---- kill -9 of a child process

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const accessKeyId = "AKIDDURABLE"
const secretAccessKey = "durable-test-secret"

interface Child {
  readonly process: ChildProcess
  readonly url: string
}

const start = (dataDir: string): Promise<Child> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        main,
        "--port",
        "0",
        "--clock",
        "virtual",
        "--data-dir",
        dataDir,
        "--access-key",
        accessKeyId,
        "--secret-key",
        secretAccessKey
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const onData = (data: Buffer) => {
      output += data.toString("utf8")
      const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
      if (url !== undefined) {
        child.stdout.off("data", onData)
        child.stdout.resume()
        resolve({ process: child, url })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", (data: Buffer) => {
      output += data.toString("utf8")
    })
    child.on("exit", (code) => reject(new Error(`ecs-sim exited (${code}) before listening: ${output}`)))
  })

const killed = (child: Child): Promise<void> =>
  new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve()
    child.process.once("exit", () => resolve())
    child.process.kill("SIGKILL")
  })

const control = async (url: string, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${secretAccessKey}`,
      ...(body === undefined ? {} : { "content-type": "application/json" })
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as Record<string, unknown>
}

const clientFor = (url: string) =>
  new ECSClient({
    region: "us-east-1",
    endpoint: url,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1
  })

describe("durability: kill -9 in a write burst", () => {
  it("every acknowledged write, the ledger and the clock are there after a restart (seeded kill points)", async () => {
    assert.isTrue(
      existsSync(main),
      `${main} is missing: build the package first (turbo builds it before tests)`
    )
    const dir = mkdtempSync(join(tmpdir(), "ecs-sim-kill-"))
    const draws = fc.sample(fc.integer({ min: 40, max: 700 }), { seed: 42, numRuns: 6 })
    const revisions: Array<number> = []
    const clusters: Array<string> = []
    let clockAcknowledged = 0
    let billAcknowledged = 0
    let controlWrites = 0
    try {
      let child = await start(dir)
      const group = await control(child.url, "POST", "/_sim/autoscaling-groups", {
        name: "asg",
        instanceType: "t3.large",
        min: 1,
        max: 4,
        desired: 1
      })
      const setupClient = clientFor(child.url)
      await setupClient.send(new CreateClusterCommand({ clusterName: "hangar" }))
      await setupClient.send(
        new CreateCapacityProviderCommand({
          name: "cp",
          autoScalingGroupProvider: { autoScalingGroupArn: group.arn as string }
        })
      )
      await setupClient.send(
        new PutClusterCapacityProvidersCommand({
          cluster: "hangar",
          capacityProviders: ["cp"],
          defaultCapacityProviderStrategy: [{ capacityProvider: "cp" }]
        })
      )
      for (const [trial, delay] of draws.entries()) {
        const client = clientFor(child.url)
        let stop = false
        const loop = async (write: (n: number) => Promise<void>) => {
          for (let n = 0; !stop; n++) {
            try {
              await write(n)
            } catch {
              return // the process is gone
            }
          }
        }
        const burst = Promise.all([
          loop(async () => {
            const r = await client.send(
              new RegisterTaskDefinitionCommand({
                family: "burst",
                memory: "512",
                containerDefinitions: [{ name: "c", image: "i" }]
              })
            )
            revisions.push(r.taskDefinition!.revision!)
          }),
          loop(async (n) => {
            const name = `c-${trial}-${n}`
            await client.send(new CreateClusterCommand({ clusterName: name }))
            clusters.push(name)
          }),
          loop(async (n) => {
            const advanced = await control(child.url, "POST", "/_sim/clock/advance", { millis: 600_000 })
            clockAcknowledged = Math.max(clockAcknowledged, advanced.nowMillis as number)
            controlWrites++
            await control(child.url, "PATCH", "/_sim/autoscaling-groups/asg", { desired: 1 + (n % 3) })
            controlWrites++
            const bill = await control(child.url, "GET", "/_sim/billing")
            billAcknowledged = Math.max(billAcknowledged, bill.totalMicroUsd as number)
          })
        ])
        await new Promise((r) => setTimeout(r, delay))
        await killed(child)
        stop = true
        await burst
        client.destroy()
        child = await start(dir)
        const check = clientFor(child.url)
        for (const revision of new Set(revisions)) {
          const described = await check.send(
            new DescribeTaskDefinitionCommand({ taskDefinition: `burst:${revision}` })
          )
          assert.strictEqual(
            described.taskDefinition?.revision,
            revision,
            `trial ${trial}: burst:${revision} lost`
          )
        }
        for (let i = 0; i < clusters.length; i += 100) {
          const described = await check.send(
            new DescribeClustersCommand({ clusters: clusters.slice(i, i + 100) })
          )
          assert.deepStrictEqual(described.failures, [], `trial ${trial}: clusters lost`)
        }
        const clock = await control(child.url, "GET", "/_sim/clock")
        assert.isAtLeast(clock.nowMillis as number, clockAcknowledged, `trial ${trial}: the clock went back`)
        const bill = await control(child.url, "GET", "/_sim/billing")
        assert.isAtLeast(bill.totalMicroUsd as number, billAcknowledged, `trial ${trial}: the bill shrank`)
        check.destroy()
      }
      console.log(
        `kill -9: ${draws.length} trials (kill after ${draws.join(", ")} ms), ${revisions.length + clusters.length + controlWrites} acknowledged writes (${revisions.length} task definitions, ${clusters.length} clusters, ${controlWrites} clock advances and group resizes; clock at ${clockAcknowledged}, bill ${billAcknowledged} µ$) checked after each restart, 0 lost`
      )
      assert.isAbove(revisions.length + clusters.length, draws.length)
      await killed(child)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
