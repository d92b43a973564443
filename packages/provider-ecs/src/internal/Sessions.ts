/**
 * Sessions and their recovery: one session per task id, named `ecs-<taskId>`, its tasks tagged
 * `hangar:session` / `hangar:repository`, so a restarted process recovers a session from the live tasks' tags
 * and a failed create stops any task ECS started for it that this process has no record of.
 */
import { DescribeTasksCommand, ListTasksCommand, StopTaskCommand, type Task } from "@aws-sdk/client-ecs"
import { ComputeError, type Region, Session, TaskSpec } from "@hangar/core"
import { Clock, Effect } from "effect"
import { statusOf } from "../Conventions.js"
import * as ClusterObservation from "./ClusterObservation.js"
import { type EcsEnvironment, type SessionState, tagOf } from "./EcsEnvironment.js"
import * as Pagination from "./Pagination.js"
import { origin, providerId } from "./Provenance.js"

/** The session a task id has. */
export const sessionIdOf = (taskId: string): string => `ecs-${taskId}`

const taskIdOf = (sessionId: string) => sessionId.replace(/^ecs-/, "") as TaskSpec.TaskId

/** The cluster's tasks this provider family started that have not stopped, with their tags. */
export const liveTasks = (env: EcsEnvironment): Effect.Effect<Array<Task>, ComputeError.ComputeError> =>
  Effect.gen(function* () {
    const { cluster } = env
    const arns = yield* Pagination.paginate((nextToken) =>
      Effect.map(
        env.send("ListTasks", () =>
          env.client.send(
            new ListTasksCommand({ cluster, startedBy: env.prefix, ...(nextToken ? { nextToken } : {}) })
          )
        ),
        (page) => ({ items: page.taskArns, nextToken: page.nextToken })
      )
    )
    return yield* Pagination.describeInChunks(arns, (chunk) =>
      Effect.map(
        env.send("DescribeTasks", () =>
          env.client.send(new DescribeTasksCommand({ cluster, tasks: chunk, include: ["TAGS"] }))
        ),
        (described) => described.tasks ?? []
      )
    )
  })

/**
 * The live tasks as they were when this process first created a session: those a predecessor left running.
 * Taken once, so a create of a new task id costs no listing of the cluster (a ListTasks and a DescribeTasks
 * of every live task); a listing that failed is asked for again by the next create.
 */
export const inheritedTasks = (env: EcsEnvironment) =>
  Effect.suspend(() =>
    env.state.inherited !== undefined
      ? Effect.succeed(env.state.inherited)
      : Effect.tap(liveTasks(env), (tasks) => Effect.sync(() => (env.state.inherited ??= tasks)))
  )

/**
 * A session this process did not create (a restarted router's), recovered from the tasks' tags: among the
 * live tasks now (a lookup of an unknown session), or among those inherited (a create).
 */
export const recover = (
  env: EcsEnvironment,
  sessionId: string,
  spec?: TaskSpec.TaskSpec,
  tasks: Effect.Effect<ReadonlyArray<Task>, ComputeError.ComputeError> = liveTasks(env)
) =>
  Effect.gen(function* () {
    const task = (yield* tasks).find((t) => tagOf(t, "hangar:session") === sessionId)
    if (task?.taskArn === undefined) return undefined
    const state: SessionState = {
      task:
        spec ??
        TaskSpec.TaskSpec.make({
          taskId: taskIdOf(sessionId),
          repository: (tagOf(task, "hangar:repository") ?? "unknown") as TaskSpec.Repository
        }),
      arns: [task.taskArn],
      destroyed: false,
      createdAt: task.createdAt?.getTime() ?? (yield* Clock.currentTimeMillis)
    }
    env.state.sessions.set(sessionId, state)
    env.state.sessionOfTask.set(task.taskArn, sessionId)
    ClusterObservation.remember(env, task)
    return state
  })

/** The session, known here or recovered; `SessionNotFound` when there is none or it was destroyed. */
export const sessionOf = (env: EcsEnvironment, sessionId: string, method: string) =>
  Effect.gen(function* () {
    const state = env.state.sessions.get(sessionId) ?? (yield* recover(env, sessionId))
    if (state === undefined || state.destroyed) {
      return yield* new ComputeError.SessionNotFound({
        ...origin(method),
        reason: state === undefined ? "Unknown" : "Destroyed",
        sessionId
      })
    }
    return state
  })

/** Records a task as the session's (its latest, if new). */
export const adopt = (env: EcsEnvironment, sessionId: string, state: SessionState, arn: string): void => {
  if (!state.arns.includes(arn)) state.arns.push(arn)
  env.state.sessionOfTask.set(arn, sessionId)
}

/**
 * After a create that failed for good, stops any task ECS started for the session that this process has no
 * record of (a RunTask that took effect although its answer never arrived). Retryable failures keep it: the
 * retry's RunTask carries the same clientToken and gets that very task back.
 */
export const stopOrphans = (env: EcsEnvironment, sessionId: string, state: SessionState) =>
  Effect.gen(function* () {
    for (const task of yield* liveTasks(env)) {
      if (task.taskArn !== undefined && state.arns.includes(task.taskArn)) continue
      if (
        tagOf(task, "hangar:session") !== sessionId ||
        task.taskArn === undefined ||
        task.lastStatus === "STOPPED"
      )
        continue
      adopt(env, sessionId, state, task.taskArn)
      yield* env.send("StopTask", () =>
        env.client.send(
          new StopTaskCommand({
            cluster: env.cluster,
            task: task.taskArn!,
            reason: "hangar: the create that started it failed"
          })
        )
      )
    }
  })

/** The session as core's contract shows it, with its task as last seen. */
export const toSession = (
  env: EcsEnvironment,
  sessionId: string,
  state: SessionState,
  task: Task | undefined
) =>
  new Session.Session({
    id: sessionId,
    provider: providerId,
    taskId: state.task.taskId,
    repository: state.task.repository,
    region: state.task.region,
    status: statusOf(task),
    metadata: { cluster: env.cluster, taskArn: task?.taskArn ?? "", lastStatus: task?.lastStatus ?? "NONE" }
  })

/** Every live task of this provider family as a session (those of other processes too, from their tags). */
export const list = (env: EcsEnvironment) =>
  Effect.map(liveTasks(env), (tasks) =>
    tasks.map((t) => {
      const sessionId = tagOf(t, "hangar:session") ?? t.taskArn ?? "unknown"
      const state = env.state.sessions.get(sessionId)
      return new Session.Session({
        id: sessionId,
        provider: providerId,
        taskId: state?.task.taskId ?? taskIdOf(sessionId),
        repository: (state?.task.repository ??
          tagOf(t, "hangar:repository") ??
          "unknown") as TaskSpec.Repository,
        region: (state?.task.region ?? "iad") as Region.Region,
        status: statusOf(t),
        metadata: { cluster: env.cluster, taskArn: t.taskArn ?? "" }
      })
    })
  )
