/**
 * The `/_sim` control plane: the billing ledger (filtered by app, machine, volume or state), the clock (read, and
 * advance when virtual), fault rules, a dump of the state, `reset`, and `info` (version, clock, seed, data
 * directory, counts). It needs one of the simulator's tokens (any app scope), checked by the hook of the scope
 * these routes are registered in; `registerHealth` adds the public `GET /_sim/health`.
 */
import { VirtualClock } from "@hangar/core"
import { SimulatorInfo } from "@hangar/core/simulation"
import { Schema } from "effect"
import type { FastifyInstance } from "fastify"
import { FaultRule, type Faults } from "../Faults.js"
import * as Routes from "../http/Routes.js"
import { decode } from "../http/Validation.js"
import * as Billing from "../model/Billing.js"
import { type FlyModel, SimError } from "../model/FlyModel.js"
import { version } from "../Version.js"

const ResetBody = Schema.Struct({ seed: Schema.optional(Schema.Int) })
const AdvanceBody = Schema.Struct({ millis: Schema.Int.pipe(Schema.positive()) })
const BillingQuery = Schema.Struct({
  app: Schema.optional(Schema.String),
  machine: Schema.optional(Schema.String),
  volume: Schema.optional(Schema.String),
  state: Schema.optional(Schema.String)
})

export interface ControlContext {
  readonly model: FlyModel
  readonly clock: VirtualClock.SimulationClock
  readonly faults: Faults
  readonly billing: () => Billing.Bill
  /** The seed in force (a reset may change it). */
  readonly seed: () => number
  readonly dataDir: string | undefined
  /** Forgets all state and fault rules, reseeding with `seed` when given. */
  readonly reset: (seed: number | undefined) => void
}

/** `GET /_sim/health`: public, so that a script can wait for the simulator before it has a token. */
export const registerHealth = (server: FastifyInstance): void => {
  server.get("/_sim/health", async () => SimulatorInfo.health("fly-sim", version))
}

export const register = (
  server: FastifyInstance,
  { model, clock, faults, billing, seed, dataDir, reset }: ControlContext
): void => {
  server.get("/_sim/info", async () =>
    SimulatorInfo.info({
      name: "fly-sim",
      version,
      clock,
      seed: seed(),
      dataDir,
      counts: { apps: model.apps.size, machines: model.machines.size, volumes: model.volumes.size }
    })
  )
  server.get("/_sim/billing", async (request) => {
    const query = decode(BillingQuery, request.query, "query")
    const resource = query.machine ?? query.volume
    return Billing.filter(billing(), {
      ...(query.app === undefined ? {} : { app: query.app }),
      ...(resource === undefined ? {} : { resource }),
      ...(query.state === undefined ? {} : { state: query.state })
    })
  })
  server.post("/_sim/reset", async (request) => {
    const body = decode(ResetBody, request.body ?? {}, "body")
    reset(body.seed)
    return { reset: true, seed: seed(), nowMillis: clock.now() }
  })
  server.get("/_sim/clock", async () => ({
    mode: clock.mode,
    nowMillis: clock.now(),
    now: new Date(clock.now()).toISOString()
  }))
  server.post("/_sim/clock/advance", async (request) => {
    const { millis } = decode(AdvanceBody, request.body, "body")
    if (!(clock instanceof VirtualClock.VirtualClock))
      throw new SimError(400, "the clock is real; start with --clock virtual to advance it")
    // This request waits on the clock it moves: it is blocked, not in flight, or the clock would wait for it.
    await clock.idle(clock.advanceBy(millis))
    return { nowMillis: clock.now() }
  })
  server.get("/_sim/faults", async () => faults.list())
  server.post("/_sim/faults", async (request, reply) => {
    faults.add(decode(FaultRule, request.body, "body"))
    return reply.code(201).send(faults.list())
  })
  server.delete("/_sim/faults", async () => {
    faults.clear()
    return { ok: true }
  })
  server.get("/_sim/state", async () => ({
    nowMillis: clock.now(),
    apps: [...model.apps.keys()],
    machines: [...model.machines.values()].map((m) => Routes.machineJson(m, true, clock.now())),
    volumes: [...model.volumes.values()].map((v) => ({
      id: v.id,
      app: v.app,
      state: v.state,
      size_gb: v.sizeGb
    }))
  }))
}
