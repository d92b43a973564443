/** What a team asks Hangar to run: one coding-agent session for one repository task. */
import { Schema } from "effect"
import { Region } from "./Region.js"
import { SizePreset } from "./SizePreset.js"

export const TaskId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, {
    message: () =>
      "1 to 128 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
  }),
  Schema.brand("TaskId")
)
export type TaskId = typeof TaskId.Type

export const Repository = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/, {
    message: () => "a repository name such as 'webapp' or 'acme/webapp'"
  }),
  Schema.brand("Repository")
)
export type Repository = typeof Repository.Type

export const ProviderId = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9-]{0,31}$/, { message: () => "a provider id such as 'fly' or 'ecs'" }),
  Schema.brand("ProviderId")
)
export type ProviderId = typeof ProviderId.Type

export class TaskSpec extends Schema.Class<TaskSpec>("TaskSpec")({
  taskId: TaskId,
  repository: Repository,
  branch: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "main" }),
  /** argv of the command the session runs; no shell is implied. */
  command: Schema.optional(Schema.NonEmptyArray(Schema.String)),
  size: Schema.optionalWith(SizePreset, { default: () => "standard" as const }),
  region: Schema.optionalWith(Region, { default: () => "iad" as Region }),
  requiresGpu: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  expectedDurationSeconds: Schema.optional(
    Schema.Number.pipe(Schema.positive({ message: () => "a positive number of seconds" }))
  ),
  preferredProvider: Schema.optional(ProviderId),
  env: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    default: () => ({})
  })
}) {}

export type TaskSpecInput = typeof TaskSpec.Encoded

export const decodeUnknown = Schema.decodeUnknown(TaskSpec, { errors: "all", onExcessProperty: "error" })
