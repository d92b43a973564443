/**
 * How ECS tasks map onto Hangar's terms, with nothing but core's types (`@hangar/provider-ecs/conventions`): a
 * task's last status as a session status. The plugin uses it, and so does an in-process model of ECS (the bench
 * engine) that must report tasks exactly as the plugin does.
 */
import type { Session } from "@hangar/core"

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
