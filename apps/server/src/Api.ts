/**
 * The API's bodies as Schemas: what a client sends (core's TaskSpec, decoded with every error at once and no
 * unknown key) and what it gets back (a task, sessions, a reconcile report, errors). `/openapi.json` is generated
 * from these with effect's `JSONSchema.make`, so the document cannot drift from what the handlers decode.
 */
import { TaskSpec } from "@hangar/core"
import { JSONSchema, ParseResult, Schema } from "effect"

export const TaskState = Schema.Literal("queued", "running", "succeeded", "failed")

export const Decision = Schema.Struct({
  provider: Schema.String,
  policy: Schema.String,
  reason: Schema.String,
  fallbacks: Schema.Array(Schema.String)
})

export const Result = Schema.Struct({
  exitCode: Schema.Int,
  stdout: Schema.String,
  stderr: Schema.String,
  durationMs: Schema.Number
})

export const TaskView = Schema.Struct({
  taskId: Schema.String,
  state: TaskState,
  /** The last dispatch step reached: intent, created, started, exec, idle. */
  step: Schema.optional(Schema.String),
  provider: Schema.optional(Schema.String),
  decision: Schema.optional(Decision),
  result: Schema.optional(Result),
  error: Schema.optional(Schema.String),
  /** Instance holding the task's lease. */
  owner: Schema.optional(Schema.String),
  /** Claims of the task (more than one when an instance died holding it). */
  attempts: Schema.Int,
  startLatencyMillis: Schema.optional(Schema.Number),
  createdAtMillis: Schema.Number,
  updatedAtMillis: Schema.Number
})
export type TaskView = typeof TaskView.Type

export const SessionView = Schema.Struct({
  taskId: Schema.String,
  sessionId: Schema.String,
  provider: Schema.String,
  repository: Schema.String,
  region: Schema.String,
  state: Schema.String,
  owner: Schema.String,
  updatedAtMillis: Schema.Number
})

export const Sessions = Schema.Struct({ sessions: Schema.Array(SessionView) })

const Ref = Schema.Struct({ provider: Schema.String, sessionId: Schema.String })

export const ReconcileView = Schema.Struct({
  instanceId: Schema.String,
  adopted: Schema.Array(Schema.String),
  released: Schema.Array(Schema.String),
  destroyed: Schema.Array(Ref),
  stopped: Schema.Array(Ref),
  deferred: Schema.Array(Ref),
  intentsFailed: Schema.Array(Schema.Struct({ taskId: Schema.String, provider: Schema.String })),
  orphans: Schema.Int
})

export const ErrorBody = Schema.Struct({
  error: Schema.String,
  /** The offending field of a request, as a dotted path. */
  field: Schema.optional(Schema.String)
})

export const Health = Schema.Struct({ status: Schema.String, instanceId: Schema.String })

const decodeTask = TaskSpec.decodeUnknown

/** A request's first problem: the field's dotted path (or `body`) and what was expected. */
export const firstIssue = (
  error: ParseResult.ParseError
): { readonly field: string; readonly message: string } => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const field = issue === undefined || issue.path.length === 0 ? "body" : issue.path.join(".")
  return { field, message: issue?.message ?? "invalid" }
}

export const decodeTaskSpec = decodeTask

/** The document served at /openapi.json. */
export const openApi = (version: string) => {
  const schema = (s: Schema.Schema.Any) => JSONSchema.make(s as Schema.Schema<unknown, unknown>)
  const json = (s: Schema.Schema.Any) => ({ "application/json": { schema: schema(s) } })
  const error = (description: string) => ({ description, content: json(ErrorBody) })
  const secured = [{ bearer: [] }]
  const taskId = [{ name: "id", in: "path", required: true, schema: { type: "string" } }]
  return {
    openapi: "3.1.0",
    info: { title: "hangar-serve", version, description: "The Hangar router as an HTTP service." },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths: {
      "/v1/tasks": {
        post: {
          summary: "Submit a task (idempotent by taskId: a repeat answers the same task)",
          security: secured,
          requestBody: { required: true, content: json(Schema.encodedSchema(TaskSpec.TaskSpec)) },
          responses: {
            "202": { description: "accepted", content: json(TaskView) },
            "200": { description: "already submitted", content: json(TaskView) },
            "400": error("a field is missing or invalid"),
            "401": error("no or wrong bearer token"),
            "409": error("the task id was submitted with another spec")
          }
        }
      },
      "/v1/tasks/{id}": {
        get: {
          summary: "A task: state, provider, decision and reason, result",
          security: secured,
          parameters: taskId,
          responses: { "200": { description: "the task", content: json(TaskView) }, "404": error("unknown") }
        }
      },
      "/v1/tasks/{id}/events": {
        get: {
          summary:
            "The task's progress as server-sent events (one per change of state or step), until it ends",
          security: secured,
          parameters: taskId,
          responses: {
            "200": { description: "text/event-stream of TaskView", content: { "text/event-stream": {} } },
            "404": error("unknown")
          }
        }
      },
      "/v1/sessions": {
        get: {
          summary: "Live session records",
          security: secured,
          responses: { "200": { description: "sessions", content: json(Sessions) } }
        }
      },
      "/v1/reconcile": {
        post: {
          summary: "One reconciliation round now (one instance at a time)",
          security: secured,
          responses: {
            "200": { description: "the round's report", content: json(ReconcileView) },
            "409": error("another instance is reconciling")
          }
        }
      },
      "/healthz": {
        get: { summary: "Alive", responses: { "200": { description: "ok", content: json(Health) } } }
      },
      "/readyz": {
        get: {
          summary: "Ready: the store answers and start-up reconciliation ran",
          responses: { "200": { description: "ready", content: json(Health) }, "503": error("not yet") }
        }
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          security: secured,
          responses: { "200": { description: "text/plain; version=0.0.4" } }
        }
      }
    }
  }
}
