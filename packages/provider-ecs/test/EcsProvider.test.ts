import { assert, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { Conformance } from "@hangar/core/testing"
import { Effect, Layer } from "effect"
import * as EcsProvider from "../src/EcsProvider.js"
import { credentials, startSimulator } from "./Setup.js"

const conformanceLayer = Layer.unwrapEffect(
  Effect.promise(async () => {
    const { clock, provider } = await startSimulator()
    return Layer.merge(
      Layer.effect(Conformance.ProviderUnderTest, EcsProvider.EcsProvider).pipe(Layer.provide(provider())),
      Conformance.layerFromTime({
        drive: (effect) => VirtualClock.drive(clock, effect),
        advance: (millis) => Effect.promise(() => clock.advanceBy(millis))
      })
    )
  })
)

Conformance.providerConformance("ecs", conformanceLayer, {
  task: { repository: "conformance/web", region: "iad", size: "dev" }
})

describe("EcsProvider on the simulator", () => {
  it.effect(
    "a task that waits for scale-out runs once capacity arrives; scale-in after idle lowers the bill",
    () =>
      Effect.gen(function* () {
        const { clock, sim, provider, drive } = yield* Effect.promise(() =>
          startSimulator({ instanceType: "t3.medium", min: 1, max: 3 })
        )
        const ecs = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        const sessions = yield* drive(
          Effect.all(
            [1, 2, 3].map((n) =>
              ecs.create({ taskId: `big-${n}`, repository: `acme/r${n}`, size: "performance" })
            ),
            { concurrency: "unbounded" }
          )
        )
        for (const s of sessions) assert.strictEqual(s.status, "running")
        assert.isAtLeast(sim.model.instances.size, 2)
        const busyBill = sim.billing().totalMicroUsd
        for (const s of sessions) yield* drive(ecs.stop(s.id))
        yield* Effect.promise(() => clock.advanceBy(3 * 3_600_000))
        const live = [...sim.model.instances.values()].filter((i) => i.state !== "terminated")
        assert.strictEqual(live.length, 1)
        const growthIdle = sim.billing().totalMicroUsd - busyBill
        // three hours at one t3.medium (+EBS) after scale-in, well under what all instances would have cost
        assert.isBelow(growthIdle, sim.model.instances.size * 3 * 45_000)
      })
  )

  it.effect(
    "RESOURCE:MEMORY without managed scaling is CapacityUnavailable; GPU tasks land on GPU instances",
    () =>
      Effect.gen(function* () {
        const { clock, sim, drive } = yield* Effect.promise(() => startSimulator())
        const fixed = yield* Effect.provide(
          EcsProvider.EcsProvider,
          EcsProvider.layer({
            cluster: "hangar",
            endpoint: "http://ecs-sim.internal",
            requestHandler: sim.requestHandler as never,
            credentials,
            clock,
            regions: ["iad"]
          })
        )
        // one high-perf task (4 GiB) fills a t3.large: 8 GiB physical, 7987 MiB registered
        yield* drive(fixed.create({ taskId: "h0", repository: "acme/h", size: "high-perf" }))
        const full = yield* Effect.flip(
          drive(fixed.create({ taskId: "h-too-many", repository: "acme/h", size: "high-perf" }))
        )
        assert.strictEqual(full._tag, "CapacityUnavailable")
        assert.include(full.message, "RESOURCE:")
        const { provider } = {
          provider: () =>
            EcsProvider.layer({
              cluster: "hangar",
              capacityProviderStrategy: [{ capacityProvider: "gpu" }],
              endpoint: "http://ecs-sim.internal",
              requestHandler: sim.requestHandler as never,
              credentials,
              clock,
              regions: ["iad"]
            })
        }
        const gpu = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        const session = yield* drive(gpu.create({ taskId: "ml-1", repository: "acme/ml", requiresGpu: true }))
        const task = [...sim.model.tasks.values()].find((t) => t.arn === session.metadata.taskArn)!
        assert.strictEqual(sim.model.instances.get(task.instance!)!.instanceType, "g4dn.xlarge")
      })
  )

  it.effect(
    "exec round trip: large output, stderr, non-zero exit; a dropped connection is a typed error",
    () =>
      Effect.gen(function* () {
        const { clock, sim, provider, drive } = yield* Effect.promise(() => startSimulator())
        const ecs = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        const session = yield* drive(ecs.create({ taskId: "x1", repository: "acme/x" }))
        const big = yield* drive(ecs.exec(session.id, ["yes-lines", "20000"]))
        assert.strictEqual(big.stdout.split("\n").length, 20_001)
        const err = yield* drive(ecs.exec(session.id, ["stderr", "oops"]))
        assert.deepStrictEqual([err.exitCode, err.stderr], [2, "oops\n"])
        const exit = yield* drive(ecs.exec(session.id, ["exit", "7"]))
        assert.strictEqual(exit.exitCode, 7)
        const long = yield* drive(ecs.exec(session.id, ["work", "300"]))
        assert.isAtLeast(long.durationMs, 300_000)
        // the caller's timeout closes the channel, which ends the command (no socket left open)
        const droppedBefore = sim.dataChannel.stats.dropped
        const late = yield* Effect.flip(drive(ecs.exec(session.id, ["work", "600"], { timeoutSeconds: 60 })))
        assert.strictEqual(late._tag, "Timeout")
        yield* Effect.promise(() => clock.advanceBy(1_000))
        assert.strictEqual(sim.dataChannel.stats.dropped, droppedBefore + 1)
        // drop every data channel as it opens
        sim.server.server.prependListener("upgrade", (_request, socket) => socket.destroy())
        const dropped = yield* Effect.flip(drive(ecs.exec(session.id, ["echo", "never"])))
        assert.strictEqual(dropped._tag, "ProviderUnavailable")
      })
  )

  it.effect("creating with one task id never starts two tasks, even when retried", () =>
    Effect.gen(function* () {
      const { clock, sim, provider } = yield* Effect.promise(() => startSimulator())
      const ecs = yield* Effect.provide(EcsProvider.EcsProvider, provider())
      sim.faults.add({
        operation: "RunTask",
        type: "ServerException",
        status: 500,
        message: "internal",
        times: 1
      })
      const a = yield* VirtualClock.drive(clock, ecs.create({ taskId: "same", repository: "acme/s" }))
      const b = yield* VirtualClock.drive(clock, ecs.create({ taskId: "same", repository: "acme/s" }))
      assert.strictEqual(a.id, b.id)
      assert.strictEqual([...sim.model.tasks.values()].filter((t) => t.lastStatus !== "STOPPED").length, 1)
    })
  )

  it.effect("a RunTask whose answer is lost is retried with the same clientToken: one task", () =>
    Effect.gen(function* () {
      const { clock, sim, provider, dropResponses, requests } = yield* Effect.promise(() => startSimulator())
      const ecs = yield* Effect.provide(
        EcsProvider.EcsProvider,
        provider("cp", { retry: { baseDelay: "1 second" } })
      )
      dropResponses("RunTask")
      const session = yield* VirtualClock.drive(clock, ecs.create({ taskId: "lost", repository: "acme/l" }))
      assert.strictEqual(session.status, "running")
      const runs = requests.filter((r) => r.operation === "RunTask")
      assert.strictEqual(runs.length, 2)
      assert.strictEqual(runs[0]!.body.clientToken, runs[1]!.body.clientToken)
      assert.strictEqual(sim.model.tasks.size, 1)
    })
  )

  it.effect(
    "destroy then create with the same task id runs a new task; start after release runs another",
    () =>
      Effect.gen(function* () {
        const { sim, provider, drive } = yield* Effect.promise(() => startSimulator())
        const ecs = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        const first = yield* drive(ecs.create({ taskId: "again", repository: "acme/a" }))
        yield* drive(ecs.destroy(first.id))
        const second = yield* drive(ecs.create({ taskId: "again", repository: "acme/a" }))
        assert.strictEqual(second.status, "running")
        assert.notStrictEqual(second.metadata.taskArn, first.metadata.taskArn)
        yield* drive(ecs.sleep(second.id))
        const third = yield* drive(ecs.start(second.id))
        assert.strictEqual(third.status, "running")
        assert.strictEqual(new Set([first, second, third].map((s) => s.metadata.taskArn)).size, 3)
        assert.strictEqual([...sim.model.tasks.values()].filter((t) => t.lastStatus !== "STOPPED").length, 1)
      })
  )

  it.effect(
    "a PROVISIONING task that ECS stops for lack of capacity is CapacityUnavailable with ECS's reason",
    () =>
      Effect.gen(function* () {
        // one t3.large that cannot scale: a second high-perf task waits in PROVISIONING until ECS gives up
        const { clock, sim, provider, drive } = yield* Effect.promise(() =>
          startSimulator({ min: 1, max: 1 })
        )
        const ecs = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        yield* drive(ecs.create({ taskId: "fills", repository: "acme/f", size: "high-perf" }))
        const started = clock.now()
        const error = yield* Effect.flip(
          drive(ecs.create({ taskId: "waits", repository: "acme/w", size: "high-perf" }))
        )
        assert.strictEqual(error._tag, "CapacityUnavailable")
        assert.strictEqual((error as { reason?: string }).reason, "ProvisioningFailed")
        assert.include(error.message, "Timeout waiting for capacity")
        assert.isAtLeast(
          clock.now() - started,
          20 * 60_000,
          "it waited for ECS, not a shorter deadline of its own"
        )
        const waiting = [...sim.model.tasks.values()].filter(
          (t) => t.tags.some((tag) => tag.value === "ecs-waits") && t.lastStatus !== "STOPPED"
        )
        assert.strictEqual(waiting.length, 0)
      })
  )

  it.effect("a task still PROVISIONING at the caller's deadline is stopped: Timeout, no task left", () =>
    Effect.gen(function* () {
      const { clock, sim, provider, drive } = yield* Effect.promise(() => startSimulator({ min: 1, max: 1 }))
      const ecs = yield* Effect.provide(
        EcsProvider.EcsProvider,
        provider("cp", { startDeadline: "5 minutes" })
      )
      yield* drive(ecs.create({ taskId: "fills", repository: "acme/f", size: "high-perf" }))
      const error = yield* Effect.flip(
        drive(ecs.create({ taskId: "late", repository: "acme/l", size: "high-perf" }))
      )
      assert.strictEqual(error._tag, "Timeout")
      yield* Effect.promise(() => clock.advanceBy(60_000))
      const late = [...sim.model.tasks.values()].filter((t) => t.tags.some((tag) => tag.value === "ecs-late"))
      assert.isAtLeast(late.length, 1)
      assert.isTrue(late.every((t) => t.lastStatus === "STOPPED"))
    })
  )

  it.effect(
    "a restarted provider adopts the task still running for a task id, and starts a new one otherwise",
    () =>
      Effect.gen(function* () {
        const { sim, provider, requests, drive } = yield* Effect.promise(() => startSimulator())
        const listings = () => requests.filter((r) => r.operation === "ListTasks").length
        const before = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        const running = yield* drive(before.create({ taskId: "kept", repository: "acme/k" }))
        const gone = yield* drive(before.create({ taskId: "gone", repository: "acme/g" }))
        yield* drive(before.destroy(gone.id))
        // The cluster is listed once per process, at its first create, for what a predecessor left running.
        assert.strictEqual(listings(), 1)
        const after = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        const adopted = yield* drive(after.create({ taskId: "kept", repository: "acme/k" }))
        assert.strictEqual(adopted.metadata.taskArn, running.metadata.taskArn)
        const again = yield* drive(after.create({ taskId: "gone", repository: "acme/g" }))
        assert.strictEqual(again.status, "running")
        assert.notStrictEqual(again.metadata.taskArn, gone.metadata.taskArn)
        assert.strictEqual(sim.model.tasks.size, 3)
        assert.strictEqual(listings(), 2)
      })
  )

  it.effect(
    "routers sharing a cluster: a create adopts the task another router started after this one's first create",
    () =>
      Effect.gen(function* () {
        const { sim, provider, drive } = yield* Effect.promise(() => startSimulator())
        const shared = yield* Effect.provide(EcsProvider.EcsProvider, provider("cp", { sharedCluster: true }))
        const alone = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        const other = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        // Both take their look at the cluster with a first create, before the other router's task exists.
        yield* drive(shared.create({ taskId: "first-a", repository: "acme/a" }))
        yield* drive(alone.create({ taskId: "first-b", repository: "acme/b" }))
        const started = yield* drive(other.create({ taskId: "taken-over", repository: "acme/t" }))
        const adopted = yield* drive(shared.create({ taskId: "taken-over", repository: "acme/t" }))
        assert.strictEqual(adopted.metadata.taskArn, started.metadata.taskArn)
        // Without the option the snapshot of the first create is all a process knows: it starts a second task.
        const twice = yield* drive(alone.create({ taskId: "taken-over", repository: "acme/t" }))
        assert.notStrictEqual(twice.metadata.taskArn, started.metadata.taskArn)
        const running = [...sim.model.tasks.values()].filter(
          (t) => t.lastStatus === "RUNNING" && t.tags.some((tag) => tag.value === "ecs-taken-over")
        )
        assert.strictEqual(running.length, 2)
      })
  )

  it.effect(
    "a session's requests: no DescribeTasks before ExecuteCommand or StopTask; one stopped behind its back is a Conflict",
    () =>
      Effect.gen(function* () {
        const { clock, sim, provider, requests, drive } = yield* Effect.promise(() => startSimulator())
        const ecs = yield* Effect.provide(EcsProvider.EcsProvider, provider())
        yield* drive(ecs.create({ taskId: "warm-up", repository: "acme/w" }))
        const operations = (from: number) => requests.slice(from).map((r) => r.operation)
        // The create polls DescribeTasks until RUNNING (4 s on a warm instance): 2 s after RunTask, then 4 s later.
        let from = requests.length
        const session = yield* drive(ecs.create({ taskId: "counted", repository: "acme/c" }))
        assert.deepStrictEqual(operations(from), ["RunTask", "DescribeTasks", "DescribeTasks"])
        from = requests.length
        const result = yield* drive(ecs.exec(session.id, ["echo", "hi"]))
        assert.strictEqual(result.stdout, "hi\n")
        assert.deepStrictEqual(operations(from), ["ExecuteCommand"])
        from = requests.length
        const stopped = yield* drive(ecs.stop(session.id))
        assert.strictEqual(stopped.status, "stopped")
        assert.strictEqual(operations(from)[0], "StopTask")
        assert.isTrue(
          operations(from)
            .slice(1)
            .every((op) => op === "DescribeTasks")
        )
        // Stopped is final: a second stop and an exec need no request to know it.
        from = requests.length
        assert.strictEqual((yield* drive(ecs.stop(session.id))).status, "stopped")
        const refused = yield* Effect.flip(drive(ecs.exec(session.id, ["echo", "no"])))
        assert.deepStrictEqual([refused._tag, operations(from)], ["InvalidRequest", []])

        // A task ECS stopped without this provider's knowing: ExecuteCommand is refused, the task described,
        // and the caller told the session is not running (not a retryable ECS Exec failure).
        const other = yield* drive(ecs.create({ taskId: "lost", repository: "acme/l" }))
        const task = [...sim.model.tasks.values()].find((t) => t.arn === other.metadata.taskArn)!
        sim.model.stopTask(task, "Essential container in task exited", "EssentialContainerExited")
        yield* Effect.promise(() => clock.advanceBy(60_000))
        from = requests.length
        const conflict = yield* Effect.flip(drive(ecs.exec(other.id, ["echo", "late"])))
        assert.strictEqual(conflict._tag, "InvalidRequest")
        assert.include(conflict.message, "STOPPED")
        assert.deepStrictEqual(operations(from), ["ExecuteCommand", "DescribeTasks"])
        from = requests.length
        assert.strictEqual((yield* drive(ecs.stop(other.id))).status, "stopped")
        assert.deepStrictEqual(operations(from), [])
        // StopTask answers a task that stopped already as it is: no polling.
        const third = yield* drive(ecs.create({ taskId: "third", repository: "acme/t" }))
        const thirdTask = [...sim.model.tasks.values()].find((t) => t.arn === third.metadata.taskArn)!
        sim.model.stopTask(thirdTask, "Essential container in task exited", "EssentialContainerExited")
        yield* Effect.promise(() => clock.advanceBy(60_000))
        from = requests.length
        assert.strictEqual((yield* drive(ecs.stop(third.id))).status, "stopped")
        assert.deepStrictEqual(operations(from), ["StopTask"])
      })
  )

  it.effect("exec answers the agent's handshake; a KMS-encrypted session it cannot do is Unsupported", () =>
    Effect.gen(function* () {
      const plain = yield* Effect.promise(() => startSimulator({ execHandshake: "session-type" }))
      const ecs = yield* Effect.provide(EcsProvider.EcsProvider, plain.provider())
      const session = yield* VirtualClock.drive(
        plain.clock,
        ecs.create({ taskId: "hs", repository: "acme/h" })
      )
      const result = yield* VirtualClock.drive(plain.clock, ecs.exec(session.id, ["echo", "after handshake"]))
      assert.deepStrictEqual([result.exitCode, result.stdout], [0, "after handshake\n"])
      const kms = yield* Effect.promise(() => startSimulator({ execHandshake: "kms" }))
      const encrypted = yield* Effect.provide(EcsProvider.EcsProvider, kms.provider())
      const other = yield* VirtualClock.drive(
        kms.clock,
        encrypted.create({ taskId: "kms", repository: "acme/k" })
      )
      const error = yield* Effect.flip(VirtualClock.drive(kms.clock, encrypted.exec(other.id, ["echo", "x"])))
      assert.strictEqual(error._tag, "Unsupported")
      assert.include(error.message, "KMSEncryption")
    })
  )
})
