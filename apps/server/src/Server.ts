/**
 * hangar-serve in process: `start(config)` composes the providers, policies and stores the configuration names,
 * builds the TaskService (Router, task book, heartbeat, reconciliation) on an Effect runtime, and serves the
 * routes with fastify on `server.host:server.port` (127.0.0.1 by default). `close()` stops taking requests, then
 * closes the runtime's scope (the Router puts what it started to sleep).
 */
import { hostname } from "node:os"
import { Effect, Layer, ManagedRuntime } from "effect"
import Fastify, { type FastifyInstance } from "fastify"
import * as JsonBody from "./http/JsonBody.js"
import * as Routes from "./http/Routes.js"
import * as Metrics from "./Metrics.js"
import * as Providers from "./Providers.js"
import type { ServerConfig } from "./ServerConfig.js"
import * as Stores from "./Stores.js"
import * as TaskBook from "./TaskBook.js"
import * as TaskService from "./TaskService.js"
import { version } from "./Version.js"

export interface StartOptions {
  /** This instance's id in the store (default: host, process id and a random suffix). */
  readonly instanceId?: string
}

export interface Running {
  readonly url: string
  readonly instanceId: string
  readonly server: FastifyInstance
  readonly close: () => Promise<void>
}

export const defaultInstanceId = (): string =>
  `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`

/** The TaskService over everything the configuration names. */
export const layer = (config: ServerConfig, instanceId: string) =>
  Layer.unwrapEffect(
    Effect.map(Providers.registry(config), (registry) =>
      Layer.scoped(
        TaskService.TaskService,
        Effect.gen(function* () {
          const book = yield* TaskBook.make({
            instanceId,
            leaseMillis: config.leases.ttlSeconds * 1000,
            shared: Stores.shared(config)
          })
          return yield* TaskService.make(
            {
              instanceId,
              heartbeatMillis: config.leases.heartbeatSeconds * 1000,
              reconcileIntervalMillis: config.reconcile.intervalSeconds * 1000,
              graceMillis: config.reconcile.graceSeconds * 1000,
              orphans: config.reconcile.orphans,
              concurrencyPerProvider: config.server.concurrencyPerProvider,
              shared: Stores.shared(config)
            },
            book,
            Metrics.make(instanceId)
          )
        })
      ).pipe(
        Layer.provide(
          Layer.mergeAll(registry, Providers.routing(config), Providers.idle(config), Stores.layer(config))
        )
      )
    )
  )

/** An error a route did not answer itself: a client's (parser) error keeps its 4xx; anything else is ours. */
const errorHandler = (server: FastifyInstance) => {
  server.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message })
    server.log.error(error)
    return reply.code(500).send({ error: "internal error; the server's log has the details" })
  })
  server.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: `no route ${request.method} ${request.url.split("?")[0]}; see /openapi.json` })
  )
}

export const start = async (config: ServerConfig, options: StartOptions = {}): Promise<Running> => {
  const instanceId = options.instanceId ?? defaultInstanceId()
  const runtime = ManagedRuntime.make(layer(config, instanceId))
  const service = await runtime.runPromise(TaskService.TaskService)
  const server = Fastify({ bodyLimit: JsonBody.maxBytes, logger: false })
  JsonBody.register(server)
  errorHandler(server)
  Routes.register(server, {
    service,
    token: config.secrets.apiToken,
    version,
    run: (effect) => runtime.runPromise(effect)
  })
  try {
    const url = await server.listen({ host: config.server.host, port: config.server.port })
    return {
      url,
      instanceId,
      server,
      close: async () => {
        await server.close()
        await runtime.dispose()
      }
    }
  } catch (error) {
    await runtime.dispose()
    throw error
  }
}
