/**
 * The engine's ECS sessions wait on a task as EcsProvider does (DescribeTasks 2 s after RunTask, the delay
 * doubling to 15 s) without making the polls in between: what a wait answers, and when, is what polling answers.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Region, TaskSpec } from "@hangar/core"
import { Either } from "effect"
import type { Outcome } from "../src/engine/Callbacks.js"
import * as EcsTasks from "../src/engine/EcsTasks.js"
import * as Engine from "../src/engine/Engine.js"
import * as EngineClock from "../src/engine/EngineClock.js"

const task = new TaskSpec.TaskSpec({
  taskId: "task-1" as TaskSpec.TaskId,
  repository: "acme/api" as TaskSpec.Repository,
  branch: "main",
  region: "us-east-1" as Region.Region,
  size: "standard",
  requiresGpu: false,
  expectedDurationSeconds: 600,
  command: ["work", "600"],
  env: {}
})

const world = (maxInstances: number) => {
  const clock = new EngineClock.EngineClock(0)
  const cluster = Engine.ecsRegionCluster(clock, "us-east-1", 7, {
    instanceType: "m7i.large",
    minInstances: 0,
    maxInstances
  })
  return { clock, cluster, engine: EcsTasks.stateOf({ clock, clusters: [cluster] }) }
}

/** Runs `operation` on the clock until it answers: the answer and the time it came. */
const answer = <A>(clock: EngineClock.EngineClock, operation: EcsTasks.Operation<A>) => {
  let outcome: { readonly value: Outcome<A>; readonly atMillis: number } | undefined
  operation((value) => {
    outcome = { value, atMillis: clock.now() }
  })
  EngineClock.driveUntil(
    clock,
    () => undefined,
    () => outcome !== undefined
  )
  if (outcome === undefined) throw new Error("the operation never answered")
  return outcome
}

/** The first of EcsProvider's polls of a task run at `startedAt` that comes at or after `millis`. */
const pollAtOrAfter = (startedAt: number, millis: number): number => {
  let delay = 2_000
  let at = startedAt + delay
  while (at < millis) {
    delay = Math.min(delay * 2, 15_000)
    at += delay
  }
  return at
}

describe("the engine's ECS sessions", () => {
  it("see a task running at the first poll after it started", () => {
    const { clock, cluster, engine } = world(2)
    const created = answer(clock, EcsTasks.create(engine, task))
    expect(Either.isRight(created.value)).toBe(true)
    const ran = Either.getOrThrow(created.value).task!
    expect(ran.lastStatus).toBe("RUNNING")
    // No instance at first: managed scaling launches one, and the task starts a minute or two later.
    expect(ran.startedAt!).toBeGreaterThan(60_000)
    expect(created.atMillis).toBe(pollAtOrAfter(0, ran.startedAt!))
    expect(cluster.model.tasks.size).toBe(1)
  })

  it("fail a task ECS could not place at the first poll after ECS gave up on it", () => {
    // One instance at most, and a task that needs all of it: a second such task waits for capacity in vain.
    const { clock, cluster, engine } = world(1)
    const whole = (taskId: string) =>
      new TaskSpec.TaskSpec({ ...task, taskId: taskId as TaskSpec.TaskId, size: "high-perf" })
    expect(Either.isRight(answer(clock, EcsTasks.create(engine, whole("first"))).value)).toBe(true)
    const waitedFrom = clock.now()
    const second = answer(clock, EcsTasks.create(engine, whole("second")))
    const failure = Either.flip(second.value).pipe(Either.getOrThrow)
    expect(failure._tag).toBe("CapacityUnavailable")
    const stopped = [...cluster.model.tasks.values()].find((t) => t.stoppedAt !== undefined)!
    // The model stops a task still PROVISIONING after 20 minutes; the polls are 15 s apart by then.
    expect(stopped.stoppedAt).toBe(waitedFrom + 20 * 60_000)
    expect(second.atMillis).toBe(pollAtOrAfter(waitedFrom, waitedFrom + 20 * 60_000))
    expect(second.atMillis - waitedFrom).toBe(1_214_000)
  })

  it("end a command the moment its task is stopped, as killed", () => {
    const { clock, cluster, engine } = world(2)
    const created = answer(clock, EcsTasks.create(engine, task))
    const { state, task: running } = Either.getOrThrow(created.value)
    const sessionId = EcsTasks.sessionIdOf(task.taskId)
    const startedAt = clock.now()
    let result:
      | { readonly exitCode: number; readonly durationMs: number; readonly atMillis: number }
      | undefined
    EcsTasks.exec(engine, sessionId, ["work", "600"])((outcome) => {
      const value = Either.getOrThrow(outcome)
      result = { exitCode: value.exitCode, durationMs: value.durationMs, atMillis: clock.now() }
    })
    clock.schedule(startedAt + 100_000, () => {
      cluster.model.stopTask(running!, "the test stops it")
    })
    EngineClock.driveUntil(
      clock,
      () => undefined,
      () => result !== undefined
    )
    expect(state.tasks.at(-1)?.desiredStatus).toBe("STOPPED")
    expect(result).toEqual({ exitCode: 137, durationMs: 100_000, atMillis: startedAt + 100_000 })
  })
})
