/**
 * How ECS tasks map onto Hangar's terms, with nothing but core (`@hangar/provider-ecs/conventions`): a task's last
 * status as a session status, the refusal of a command on a task that is not running, and a repository's
 * workspace access point. The plugin uses it, and so does an in-process model of ECS (the bench engine) that must
 * report tasks exactly as the plugin does.
 */
import { createHash } from "node:crypto"
import { ComputeError, type Session } from "@hangar/core"

/** An ECS task's `lastStatus` as a Hangar session status (a task not found is stopped). */
export const statusOf = (
  task: { readonly lastStatus?: string | undefined } | undefined
): Session.SessionStatus => {
  switch (task?.lastStatus) {
    case "RUNNING":
      return "running"
    case "PROVISIONING":
    case "PENDING":
    case "ACTIVATING":
      return "provisioning"
    default:
      return "stopped"
  }
}

/** A command refused because the session's task is not RUNNING; `origin` says who refuses it. */
export const notRunning = (
  origin: { readonly module: string; readonly method: string; readonly provider: string },
  task: { readonly lastStatus?: string | undefined } | undefined
): ComputeError.InvalidRequest =>
  new ComputeError.InvalidRequest({
    ...origin,
    reason: "Conflict",
    field: "session",
    expected: "a running session (start it first)",
    actual: task?.lastStatus ?? "no task"
  })

/** The repository's workspace access point as a request: its file system, client token, directory and owner. */
export interface AccessPointRequest {
  readonly fileSystemId: string
  readonly clientToken: string
  readonly rootDirectory: string
  readonly tags: ReadonlyArray<{ readonly key: string; readonly value: string }>
}

/** One per repository: the token is the repository's hash, so asking again answers the same access point. */
export const accessPointRequest = (fileSystemId: string, repository: string): AccessPointRequest => ({
  fileSystemId,
  clientToken: `hangar-workspace-${createHash("sha256").update(repository).digest("hex").slice(0, 40)}`,
  rootDirectory: `/workspaces/${repository}`,
  tags: [{ key: "hangar:repository", value: repository }]
})
