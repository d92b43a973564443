/**
 * How Fly machines map onto Hangar's terms, with nothing but core's types (`@hangar/provider-fly/conventions`): the
 * app a repository's machines live in, and a machine state as a session status. The plugin uses them, and so does
 * an in-process model of Fly (the bench engine) that must name and report machines exactly as the plugin does.
 */
import type { Session, TaskSpec } from "@hangar/core"

/** A valid Fly app name for a repository: lower case, [a-z0-9-], at most 63 characters. */
export const appName = (prefix: string, repository: string): string =>
  `${prefix}-${repository
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")}`
    .slice(0, 63)
    .replace(/-+$/, "")

/** A Fly machine state as a Hangar session status. */
export const statusOf = (state: string): Session.SessionStatus =>
  state === "started"
    ? "running"
    : state === "created" || state === "starting"
      ? "provisioning"
      : state === "suspended" || state === "suspending"
        ? "suspended"
        : state === "destroyed" || state === "destroying"
          ? "destroyed"
          : state === "failed"
            ? "failed"
            : "stopped"

/** A machine's environment for its task: `base` (fly.toml's), the task's own, then the task's identity. */
export const taskEnv = (task: TaskSpec.TaskSpec, base: Readonly<Record<string, string>> = {}) => ({
  ...base,
  ...task.env,
  REPOSITORY: task.repository,
  BRANCH: task.branch,
  TASK_ID: task.taskId
})

/** Every Hangar machine restarts on a crash, a few times, and is never destroyed by Fly on its own. */
export const restartPolicy = { policy: "always", max_retries: 3 } as const
