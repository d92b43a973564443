/**
 * The routes: each parses (Schema, 400 naming the field), calls one TaskService operation, serialises. Health
 * (`/healthz`, `/readyz`) is public; everything else is behind the bearer-token hook of its scope. A client's
 * mistake is a 4xx with `{ error, field? }`; nothing a client sends is answered 5xx.
 */
import type { Redacted } from "effect"
import { Effect, Either, Option } from "effect"
import type { FastifyInstance, FastifyReply } from "fastify"
import * as Api from "../Api.js"
import type { Service as TaskService } from "../TaskService.js"
import * as Auth from "./Auth.js"

export interface RouteOptions {
  readonly service: TaskService
  readonly token: Redacted.Redacted
  readonly version: string
  /** Runs an effect of the service (the server's runtime). */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  /** How often the event stream looks at the task (default 200 ms). */
  readonly eventPollMillis?: number
}

const badRequest = (reply: FastifyReply, field: string, message: string) =>
  reply.code(400).send({ error: `${field}: ${message}`, field })

const notFound = (reply: FastifyReply, taskId: string) =>
  reply.code(404).send({ error: `no task ${taskId}: submit it with POST /v1/tasks` })

const TaskIdParam = (params: unknown): string | undefined => {
  const id = (params as { id?: unknown } | undefined)?.id
  return typeof id === "string" ? id : undefined
}

// ---- public

const health = (server: FastifyInstance, { run, service }: RouteOptions) => {
  server.get("/healthz", async () => ({ status: "ok", instanceId: service.instanceId }))
  server.get("/readyz", async (_request, reply) =>
    (await run(service.ready()))
      ? { status: "ready", instanceId: service.instanceId }
      : reply
          .code(503)
          .send({ error: "not ready: the store does not answer or start-up reconciliation has not run" })
  )
}

// ---- tasks

const submit = (server: FastifyInstance, { run, service }: RouteOptions) =>
  server.post("/v1/tasks", async (request, reply) => {
    if (request.body === undefined) return badRequest(reply, "body", "a TaskSpec as JSON is required")
    const decoded = await run(Effect.either(Api.decodeTaskSpec(request.body)))
    if (Either.isLeft(decoded)) {
      const { field, message } = Api.firstIssue(decoded.left)
      return badRequest(reply, field, message)
    }
    const outcome = await run(Effect.either(service.submit(decoded.right)))
    if (Either.isLeft(outcome)) {
      if (outcome.left._tag === "TaskConflict")
        return reply.code(409).send({ error: outcome.left.message, field: "taskId" })
      throw outcome.left
    }
    return reply.code(outcome.right.created ? 202 : 200).send(outcome.right.task)
  })

const getTask = (server: FastifyInstance, { run, service }: RouteOptions) =>
  server.get("/v1/tasks/:id", async (request, reply) => {
    const taskId = TaskIdParam(request.params) ?? ""
    const task = await run(service.get(taskId))
    return Option.isNone(task) ? notFound(reply, taskId) : task.value
  })

const isFinished = (state: string) => state === "succeeded" || state === "failed"

/** Server-sent events: the task as it is, then one event per change of its state or step, until it ends. */
const events = (server: FastifyInstance, { eventPollMillis, run, service }: RouteOptions) =>
  server.get("/v1/tasks/:id/events", async (request, reply) => {
    const taskId = TaskIdParam(request.params) ?? ""
    const first = await run(service.get(taskId))
    if (Option.isNone(first)) return notFound(reply, taskId)
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive"
    })
    let closed = false
    raw.on("close", () => {
      closed = true
    })
    let last = ""
    let task: Api.TaskView = first.value
    for (;;) {
      const key = `${task.state}/${task.step ?? ""}`
      if (key !== last) {
        raw.write(`event: ${task.state}\ndata: ${JSON.stringify(task)}\n\n`)
        last = key
      }
      if (closed || isFinished(task.state)) break
      await new Promise((resolve) => setTimeout(resolve, eventPollMillis ?? 200))
      const next = await run(Effect.option(service.get(taskId)))
      if (Option.isSome(next) && Option.isSome(next.value)) task = next.value.value
    }
    raw.end()
  })

// ---- sessions, reconcile, metrics, the document

const operations = (server: FastifyInstance, { run, service, version }: RouteOptions) => {
  server.get("/v1/sessions", async () => ({ sessions: await run(service.sessions()) }))
  server.post("/v1/reconcile", async (_request, reply) => {
    const outcome = await run(Effect.either(service.reconcile()))
    if (Either.isLeft(outcome)) {
      if (outcome.left._tag === "ReconcileBusy") return reply.code(409).send({ error: outcome.left.message })
      throw outcome.left
    }
    return outcome.right
  })
  server.get("/metrics", async (_request, reply) =>
    reply.header("content-type", service.metricsContentType).send(await run(service.metrics()))
  )
  const document = Api.openApi(version)
  server.get("/openapi.json", async () => document)
}

export const register = (server: FastifyInstance, options: RouteOptions): void => {
  health(server, options)
  server.register(async (scope) => {
    scope.addHook("onRequest", Auth.hook(options.token))
    submit(scope, options)
    getTask(scope, options)
    events(scope, options)
    operations(scope, options)
  })
}
