/** A session: the compute one task runs on, as a provider reports it. */
import { Schema } from "effect"
import { Region } from "./Region.js"
import { ProviderId, Repository, TaskId } from "./TaskSpec.js"

export const SessionStatus = Schema.Literal(
  "provisioning",
  "running",
  "suspended",
  "stopped",
  "destroyed",
  "failed"
)
export type SessionStatus = typeof SessionStatus.Type

/** Statuses in which a session costs only its storage. */
export const isAsleep = (status: SessionStatus): boolean => status === "suspended" || status === "stopped"

export class Session extends Schema.Class<Session>("Session")({
  id: Schema.NonEmptyString,
  provider: ProviderId,
  taskId: TaskId,
  repository: Repository,
  region: Region,
  status: SessionStatus,
  /** Provider-specific identifiers (machine id, app name, task ARN, private IP, …). */
  metadata: Schema.Record({ key: Schema.String, value: Schema.String })
}) {}
