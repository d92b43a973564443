/**
 * One task per session: RunTask with a clientToken naming the task this one follows (a retry after a lost answer
 * gets the same task back), RUNNING awaited by polling DescribeTasks on an Effect `Schedule` (on the Effect
 * clock, which a virtual clock moves, rather than the SDK's waiters), StopTask and STOPPED awaited the same way.
 * ECS tasks do not sleep: a stopped session's `start` runs a new task.
 */
import { createHash } from "node:crypto"
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type Task } from "@aws-sdk/client-ecs"
import { ComputeError, type Session, type TaskSpec } from "@hangar/core"
import { Clock, Effect, Option } from "effect"
import * as ClusterObservation from "./ClusterObservation.js"
import { type EcsEnvironment, latestArn, type SessionState } from "./EcsEnvironment.js"
import * as Polling from "./Polling.js"
import { origin } from "./Provenance.js"
import * as Sessions from "./Sessions.js"
import * as TaskDefinitions from "./TaskDefinitions.js"
import * as Workspaces from "./Workspaces.js"

/** An operation on one session that answers with the session as it is afterwards. */
type SessionOperation = (
  env: EcsEnvironment,
  sessionId: string
) => Effect.Effect<Session.Session, ComputeError.ComputeError>

// ---------------------------------------------------------------------------------------------------------------
// Looking at a task
// ---------------------------------------------------------------------------------------------------------------

/** DescribeTasks of one task, remembered as seen. */
export const describe = (env: EcsEnvironment, arn: string) =>
  env
    .send("DescribeTasks", () =>
      env.client.send(new DescribeTasksCommand({ cluster: env.cluster, tasks: [arn], include: ["TAGS"] }))
    )
    .pipe(
      Effect.map((r) => {
        const task = r.tasks?.[0]
        if (task !== undefined) ClusterObservation.remember(env, task)
        return task
      })
    )

/** The session's task now, as DescribeTasks answers. */
export const current = (env: EcsEnvironment, state: SessionState) => {
  const arn = latestArn(state)
  return arn === undefined ? Effect.succeed(undefined) : describe(env, arn)
}

/** The session's task as this process last saw it in any answer (RunTask, DescribeTasks, StopTask). */
export const lastSeen = (env: EcsEnvironment, state: SessionState): Task | undefined => {
  const arn = latestArn(state)
  return arn === undefined ? undefined : env.state.taskRecords.get(arn)?.task
}

// ---------------------------------------------------------------------------------------------------------------
// Starting
// ---------------------------------------------------------------------------------------------------------------

/**
 * Polls until the task runs; a task that stops first had no capacity. `seen` is what RunTask just answered
 * (a task is never RUNNING in RunTask's answer), so the first look is after the first delay.
 */
const awaitRunning = (env: EcsEnvironment, arn: string, seen?: Task) => {
  const settled = (task: Task | undefined) =>
    task?.lastStatus === "RUNNING"
      ? Effect.succeed(Option.some(task))
      : task === undefined || task.lastStatus === "STOPPED"
        ? Effect.fail(
            new ComputeError.CapacityUnavailable({
              ...origin("awaitRunning"),
              reason: "ProvisioningFailed",
              detail: task?.stoppedReason ?? "the task disappeared before it ran"
            })
          )
        : Effect.succeed(Option.none())
  const next = Effect.flatMap(describe(env, arn), settled)
  return Polling.untilSettled<Task, ComputeError.ComputeError>({
    first: seen === undefined ? next : settled(seen),
    next,
    schedule: Polling.backoff("15 seconds"),
    deadlineMillis: env.startDeadlineMillis,
    onDeadline: () =>
      new ComputeError.Timeout({
        ...origin("awaitRunning"),
        reason: "Deadline",
        timeoutMillis: env.startDeadlineMillis
      })
  })
}

/** Waits for RUNNING; a task that misses the deadline is stopped, so no compute runs without a session. */
const awaitOrStop = (env: EcsEnvironment, arn: string, seen?: Task) =>
  awaitRunning(env, arn, seen).pipe(
    Effect.tapErrorTag("Timeout", () =>
      env
        .send("StopTask", () =>
          env.client.send(
            new StopTaskCommand({ cluster: env.cluster, task: arn, reason: "hangar: did not start in time" })
          )
        )
        .pipe(Effect.ignore)
    )
  )

/** Brings the session's current task to RUNNING, or runs a new one if it has none or it stopped. */
export const ensureRunning = (env: EcsEnvironment, sessionId: string, state: SessionState) =>
  Effect.gen(function* () {
    const task = yield* current(env, state)
    if (task?.lastStatus === "RUNNING") return task
    if (task?.taskArn !== undefined && task.lastStatus !== "STOPPED")
      return yield* awaitOrStop(env, task.taskArn)
    return yield* runTask(env, sessionId, state)
  })

/** Where the task runs: the GPU capacity provider, the configured strategy, or launchType EC2. */
const placement = (env: EcsEnvironment, task: TaskSpec.TaskSpec) => {
  const { options } = env
  return task.requiresGpu && options.gpuCapacityProvider !== undefined
    ? { capacityProviderStrategy: [{ capacityProvider: options.gpuCapacityProvider }] }
    : options.capacityProviderStrategy === undefined
      ? { launchType: "EC2" as const }
      : {
          capacityProviderStrategy: options.capacityProviderStrategy.map((s) => ({
            capacityProvider: s.capacityProvider
          }))
        }
}

const network = (env: EcsEnvironment) =>
  env.options.subnets === undefined
    ? {}
    : {
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: [...env.options.subnets],
            securityGroups: [...(env.options.securityGroups ?? [])]
          }
        }
      }

/** The agent's environment: the task's own, then REPOSITORY, BRANCH, TASK_ID and WORKSPACE. */
const environment = (task: TaskSpec.TaskSpec) => [
  ...Object.entries(task.env).map(([name, value]) => ({ name, value })),
  { name: "REPOSITORY", value: task.repository },
  { name: "BRANCH", value: task.branch },
  { name: "TASK_ID", value: task.taskId },
  { name: "WORKSPACE", value: Workspaces.containerPath }
]

/**
 * The clientToken names the task this one follows: the same for every retry of one start (a RunTask whose
 * response was lost returns the task it started), new once a task has been recorded.
 */
const clientToken = (env: EcsEnvironment, sessionId: string, state: SessionState) =>
  createHash("sha256")
    .update(`${sessionId}:${latestArn(state) ?? `first:${env.nonce}`}`)
    .digest("hex")
    .slice(0, 64)

/** Runs a new task for the session and waits until it runs. */
const runTask = (env: EcsEnvironment, sessionId: string, state: SessionState) =>
  Effect.gen(function* () {
    const workspace = env.options.workspace
    const accessPointId =
      workspace?.kind === "efs"
        ? yield* Workspaces.ensureAccessPoint(env, workspace.fileSystemId, state.task.repository)
        : undefined
    const definition = yield* TaskDefinitions.ensure(
      env,
      state.task.size,
      state.task.requiresGpu,
      accessPointId
    )
    const result = yield* env.send("RunTask", () =>
      env.client.send(
        new RunTaskCommand({
          cluster: env.cluster,
          taskDefinition: definition,
          ...Workspaces.runTaskVolumes(env.options, state.task.repository),
          clientToken: clientToken(env, sessionId, state),
          startedBy: env.prefix,
          enableExecuteCommand: true,
          ...placement(env, state.task),
          ...network(env),
          overrides: { containerOverrides: [{ name: "agent", environment: environment(state.task) }] },
          tags: [
            { key: "hangar:session", value: sessionId },
            { key: "hangar:repository", value: state.task.repository }
          ]
        })
      )
    )
    const failure = result.failures?.[0]
    const answered = result.tasks?.[0]
    const arn = answered?.taskArn
    if (arn === undefined) {
      return yield* new ComputeError.CapacityUnavailable({
        ...origin("runTask"),
        reason: "InsufficientResources",
        detail: `${failure?.reason ?? "no task started"}${failure?.detail === undefined ? "" : `: ${failure.detail}`}`
      })
    }
    Sessions.adopt(env, sessionId, state, arn)
    ClusterObservation.remember(env, answered!)
    return yield* awaitOrStop(env, arn, answered)
  })

// ---------------------------------------------------------------------------------------------------------------
// Stopping
// ---------------------------------------------------------------------------------------------------------------

/** StopTask; a task ECS no longer shows (stopped past its retention) counts as stopped. */
const stopTask = (env: EcsEnvironment, state: SessionState, arn: string) =>
  env
    .send("StopTask", () =>
      env.client.send(
        new StopTaskCommand({ cluster: env.cluster, task: arn, reason: "hangar: session released" })
      )
    )
    .pipe(
      Effect.map((r) => {
        if (r.task !== undefined) ClusterObservation.remember(env, r.task)
        return r.task
      }),
      Effect.catchTag("InvalidRequest", (e) =>
        Effect.flatMap(current(env, state), (now) =>
          now === undefined || now.lastStatus === "STOPPED" ? Effect.succeed(now) : Effect.fail(e)
        )
      )
    )

/** Stops the session's task (the workspace volume stays) and waits until it has stopped. */
export const stop: SessionOperation = (env, sessionId) =>
  Effect.gen(function* () {
    const state = yield* Sessions.sessionOf(env, sessionId, "stop")
    const arn = latestArn(state)
    const seen = lastSeen(env, state)
    // STOPPED is final, so a task last seen so is not asked about again.
    if (arn === undefined || seen?.lastStatus === "STOPPED")
      return Sessions.toSession(env, sessionId, state, seen)
    // StopTask answers with the task, and a task that has stopped already is answered as it is, so no
    // DescribeTasks goes first.
    const stopped = yield* stopTask(env, state, arn)
    if (stopped === undefined || stopped.lastStatus === "STOPPED")
      return Sessions.toSession(env, sessionId, state, stopped)
    // SIGTERM, the container's stop timeout (30 s by default), SIGKILL: STOPPED within a minute or two.
    const final = yield* Polling.untilSettled<Task, ComputeError.ComputeError>({
      first: Effect.succeed(Option.none()),
      next: Effect.map(describe(env, arn), (now) =>
        now === undefined || now.lastStatus === "STOPPED"
          ? Option.some(now ?? { ...stopped, lastStatus: "STOPPED" })
          : Option.none()
      ),
      schedule: Polling.backoff("10 seconds"),
      deadlineMillis: env.stopDeadlineMillis,
      onDeadline: () =>
        new ComputeError.Timeout({
          ...origin("stop"),
          reason: "Deadline",
          timeoutMillis: env.stopDeadlineMillis
        })
    })
    return Sessions.toSession(env, sessionId, state, final)
  })

// ---------------------------------------------------------------------------------------------------------------
// The session's lifecycle
// ---------------------------------------------------------------------------------------------------------------

/** A session for the task: adopted from a predecessor's task, or the existing one, brought to RUNNING. */
export const create = (
  env: EcsEnvironment,
  task: TaskSpec.TaskSpec
): Effect.Effect<Session.Session, ComputeError.ComputeError> =>
  Effect.gen(function* () {
    const sessionId = Sessions.sessionIdOf(task.taskId)
    // A restarted process adopts the task its predecessor started for this task id, if one runs.
    const existing =
      env.state.sessions.get(sessionId) ??
      (yield* Sessions.recover(
        env,
        sessionId,
        task,
        env.options.sharedCluster === true ? Sessions.liveTasks(env) : Sessions.inheritedTasks(env)
      ))
    const state: SessionState =
      existing !== undefined && !existing.destroyed
        ? existing
        : { task, arns: existing?.arns ?? [], destroyed: false, createdAt: yield* Clock.currentTimeMillis }
    env.state.sessions.set(sessionId, state)
    const running = yield* ensureRunning(env, sessionId, state).pipe(
      Effect.tapError((error) =>
        error.isRetryable ? Effect.void : Sessions.stopOrphans(env, sessionId, state).pipe(Effect.ignore)
      )
    )
    return Sessions.toSession(env, sessionId, state, running)
  })

export const get: SessionOperation = (env, sessionId) =>
  Effect.flatMap(Sessions.sessionOf(env, sessionId, "get"), (state) =>
    Effect.map(current(env, state), (t) => Sessions.toSession(env, sessionId, state, t))
  )

export const start: SessionOperation = (env, sessionId) =>
  Effect.gen(function* () {
    const state = yield* Sessions.sessionOf(env, sessionId, "start")
    return Sessions.toSession(env, sessionId, state, yield* ensureRunning(env, sessionId, state))
  })

export const destroy = (
  env: EcsEnvironment,
  sessionId: string
): Effect.Effect<void, ComputeError.ComputeError> =>
  Effect.gen(function* () {
    yield* stop(env, sessionId)
    const state = env.state.sessions.get(sessionId)
    if (state !== undefined) state.destroyed = true
  })
