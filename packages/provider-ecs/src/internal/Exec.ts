/** Exec through ECS Exec: ExecuteCommand, then the Session Manager data channel over WebSocket. */
import { ExecuteCommandCommand, type Task } from "@aws-sdk/client-ecs"
import { ComputeError, TaskResult } from "@hangar/core"
import { Clock, Effect } from "effect"
import * as Conventions from "../Conventions.js"
import * as SessionManagerChannel from "../SessionManagerChannel.js"
import type { EcsEnvironment, SessionState } from "./EcsEnvironment.js"
import { origin } from "./Provenance.js"
import * as Sessions from "./Sessions.js"
import * as TaskLifecycle from "./TaskLifecycle.js"

const notRunning = (task: Task | undefined) => Conventions.notRunning(origin("exec"), task)

/**
 * ExecuteCommand on the session's task. `known`: the task was taken as last seen, so a refusal is checked by
 * describing it, to tell a session that stopped meanwhile (a Conflict) from a failure of ECS Exec itself.
 */
const executeCommand = (
  env: EcsEnvironment,
  state: SessionState,
  task: Task,
  command: ReadonlyArray<string>,
  known: boolean
) =>
  env
    .send("ExecuteCommand", () =>
      env.client.send(
        new ExecuteCommandCommand({
          cluster: env.cluster,
          task: task.taskArn!,
          container: "agent",
          command: command.join(" "),
          // ECS only supports interactive sessions.
          interactive: true
        })
      )
    )
    .pipe(
      Effect.catchAll((e) =>
        known
          ? TaskLifecycle.current(env, state).pipe(
              Effect.orElseFail(() => e),
              Effect.flatMap((now) => Effect.fail(now?.lastStatus === "RUNNING" ? e : notRunning(now)))
            )
          : Effect.fail(e)
      )
    )

/** Runs `command` on the session's running task and collects its output and exit code. */
export const exec = (env: EcsEnvironment, sessionId: string, command: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const state = yield* Sessions.sessionOf(env, sessionId, "exec")
    // A task last seen RUNNING gets its ExecuteCommand at once; one last seen STOPPED stays so; one on its way
    // to RUNNING is described now.
    const seen = TaskLifecycle.lastSeen(env, state)
    const known = seen?.lastStatus === "RUNNING" || seen?.lastStatus === "STOPPED"
    const task = known ? seen : yield* TaskLifecycle.current(env, state)
    if (task?.lastStatus !== "RUNNING") return yield* notRunning(task)
    const started = yield* Clock.currentTimeMillis
    const response = yield* executeCommand(env, state, task, command, known)
    const stream = response.session
    if (stream?.streamUrl === undefined || stream.tokenValue === undefined) {
      return yield* new ComputeError.ProviderUnavailable({
        ...origin("exec"),
        reason: "MalformedResponse",
        detail: "ExecuteCommand returned no session"
      })
    }
    const outcome = yield* Effect.tryPromise({
      try: (signal) => env.track(SessionManagerChannel.run(stream.streamUrl!, stream.tokenValue!, signal)),
      catch: (e) => ComputeError.normalise(e, origin("exec"))
    })
    const ended = yield* Clock.currentTimeMillis
    return new TaskResult.TaskResult({
      exitCode: outcome.exitCode,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      durationMs: ended - started
    })
  })
