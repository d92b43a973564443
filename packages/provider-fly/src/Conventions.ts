/**
 * How Fly machines map onto Hangar's terms, with nothing but core's types (`@hangar/provider-fly/conventions`): the
 * app a repository's machines live in, and a machine state as a session status. The plugin uses them, and so does
 * an in-process model of Fly (the bench engine) that must name and report machines exactly as the plugin does.
 */
import type { Session } from "@hangar/core"

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
