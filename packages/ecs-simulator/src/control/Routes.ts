/**
 * The `/_sim/*` control plane: health, info, reset, clock, faults, billing, state, Auto Scaling groups. Every body
 * and parameter is validated; a bad one is a 400 naming the field and changes nothing. `GET /_sim/health` is public;
 * the other routes live in a scope of their own whose hook authenticates every one of them
 * (`Authentication.verifyControlRequest`: a bearer credential once the simulator has access keys).
 */
import { VirtualClock } from "@hangar/core"
import { SimulatorInfo } from "@hangar/core/simulation"
import { ParseResult, Schema } from "effect"
import type { FastifyInstance, FastifyReply } from "fastify"
import * as Faults from "../Faults.js"
import * as Authentication from "../http/Authentication.js"
import { awsError } from "../http/AwsJson.js"
import * as RequestBody from "../http/RequestBody.js"
import * as Billing from "../model/Billing.js"
import { EcsError } from "../model/EcsError.js"
import type { EcsModel } from "../model/EcsModel.js"
import { version } from "../Version.js"

export interface Options {
  readonly model: EcsModel
  readonly faults: Faults.Faults
  readonly clock: VirtualClock.SimulationClock
  /** Resets model and faults (to `seed`, or the current seed). */
  readonly reset: (seed: number | undefined) => void
  readonly authentication: Authentication.Config
  /** The seed in force (a reset may change it). */
  readonly seed: () => number
  readonly dataDir: string | undefined
}

const parse = <A, I>(schema: Schema.Schema<A, I>, input: unknown, what: string): A => {
  const result = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })(input ?? {})
  if (result._tag === "Right") return result.right
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left)
  throw new EcsError(
    "InvalidParameterException",
    `${what}: ${issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")}`
  )
}

const ResetBody = Schema.Struct({ seed: Schema.optional(Schema.Int) })
const AdvanceBody = Schema.Union(
  Schema.Struct({ millis: Schema.Int.pipe(Schema.between(1, 366 * 86_400_000)) }),
  Schema.Struct({ to: Schema.Int.pipe(Schema.positive()) })
)
const GroupBody = Schema.Struct({
  name: Schema.String,
  instanceType: Schema.String,
  min: Schema.Int,
  max: Schema.Int,
  desired: Schema.Int
})
const GroupUpdate = Schema.Struct({
  min: Schema.optional(Schema.Int),
  max: Schema.optional(Schema.Int),
  desired: Schema.optional(Schema.Int)
})

export const state = (model: EcsModel) => ({
  nowMillis: model.clock.now(),
  clusters: [...model.clusters.values()].map((c) => ({
    name: c.name,
    status: c.status,
    capacityProviders: c.capacityProviders
  })),
  autoScalingGroups: [...model.groups.values()],
  instances: [...model.instances.values()].map((i) => ({
    id: i.id,
    instanceType: i.instanceType,
    availabilityZone: i.availabilityZone,
    cluster: i.cluster,
    capacityProvider: i.capacityProvider,
    state: i.state,
    status: i.status,
    tasks: i.tasks.size,
    launchedAt: i.launchedAt,
    ...(i.terminatedAt === undefined ? {} : { terminatedAt: i.terminatedAt })
  })),
  tasks: [...model.tasks.values()].map((t) => ({
    arn: t.arn,
    cluster: t.cluster,
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    instance: t.instance,
    ...(t.stopCode === undefined ? {} : { stopCode: t.stopCode, stoppedReason: t.stoppedReason })
  })),
  activities: model.activities.slice(-100),
  counters: {
    events: model.events,
    scalingEvaluations: model.scalingEvaluations,
    alarmEvaluations: model.alarmEvaluations
  }
})

export const register = (server: FastifyInstance, options: Options): void => {
  // Public, so that a script can wait for the simulator before it has a credential.
  server.get("/_sim/health", async () => SimulatorInfo.health("ecs-sim", version))
  server.register(async (scope) => {
    scope.addHook("onRequest", async (request, reply) => {
      const refusal = Authentication.verifyControlRequest(options.authentication, request)
      if (refusal !== undefined)
        return reply.code(refusal.status).send(awsError(refusal.type, refusal.message))
      return undefined
    })
    routes(scope, options)
  })
}

const routes = (server: FastifyInstance, options: Options): void => {
  const { model, faults, clock } = options
  const guard = async (reply: FastifyReply, fn: () => unknown) => {
    try {
      return await fn()
    } catch (error) {
      if (error instanceof EcsError) return reply.code(error.status).send(awsError(error.type, error.message))
      if (error instanceof RequestBody.Invalid)
        return reply.code(400).send(awsError(error.type, error.message))
      if (error instanceof Faults.InvalidFaultRule)
        return reply.code(400).send(awsError("InvalidParameterException", `fault rule: ${error.message}`))
      throw error
    }
  }

  server.get("/_sim/info", async () =>
    SimulatorInfo.info({
      name: "ecs-sim",
      version,
      clock,
      seed: options.seed(),
      dataDir: options.dataDir,
      counts: {
        clusters: model.clusters.size,
        tasks: model.tasks.size,
        containerInstances: model.instances.size,
        autoScalingGroups: model.groups.size
      }
    })
  )
  server.post("/_sim/reset", (request, reply) =>
    guard(reply, () => {
      const body = parse(ResetBody, RequestBody.json(request), "POST /_sim/reset")
      options.reset(body.seed)
      return { reset: true, nowMillis: clock.now() }
    })
  )
  server.get("/_sim/clock", async () => ({ mode: clock.mode, nowMillis: clock.now() }))
  server.post("/_sim/clock/advance", (request, reply) =>
    guard(reply, async () => {
      const body = parse(AdvanceBody, RequestBody.json(request), "POST /_sim/clock/advance")
      if (!(clock instanceof VirtualClock.VirtualClock))
        throw new EcsError(
          "InvalidParameterException",
          "the clock is real: start the simulator with --clock virtual to move time"
        )
      const target = "millis" in body ? clock.now() + body.millis : body.to
      if (target < clock.now())
        throw new EcsError("InvalidParameterException", `to: ${target} is before now (${clock.now()})`)
      await clock.idle(clock.advanceTo(target))
      return { mode: clock.mode, nowMillis: clock.now() }
    })
  )
  server.get("/_sim/faults", async () => ({ rules: faults.list() }))
  server.post("/_sim/faults", (request, reply) =>
    guard(reply, () =>
      reply.code(201).send({ rule: faults.add(RequestBody.json(request) as Faults.FaultRuleInput) })
    )
  )
  server.delete("/_sim/faults", async () => {
    faults.clear()
    return { rules: [] }
  })
  server.get("/_sim/billing", async () => Billing.compute(model))
  server.get("/_sim/state", async () => state(model))
  server.get("/_sim/autoscaling-groups", async () => ({ autoScalingGroups: [...model.groups.values()] }))
  server.post("/_sim/autoscaling-groups", (request, reply) =>
    guard(reply, () => {
      const body = parse(GroupBody, RequestBody.json(request), "POST /_sim/autoscaling-groups")
      const group = model.createAutoScalingGroup(body)
      return reply.code(201).send({ arn: group.arn, autoScalingGroup: group })
    })
  )
  server.patch("/_sim/autoscaling-groups/:name", (request, reply) =>
    guard(reply, () => {
      const { name } = request.params as { name: string }
      const body = parse(GroupUpdate, RequestBody.json(request), `PATCH /_sim/autoscaling-groups/${name}`)
      const group = model.updateAutoScalingGroup(name, body)
      return { autoScalingGroup: group }
    })
  )
}
