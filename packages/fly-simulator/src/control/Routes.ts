/**
 * The `/_sim` control plane: the billing ledger (filtered by app, machine, volume or state), the clock (read, and
 * advance when virtual), fault rules, and a dump of the state. It needs one of the simulator's tokens (any app
 * scope), checked by the hook of the scope these routes are registered in.
 */
import { VirtualClock } from "@hangar/core"
import { Schema } from "effect"
import type { FastifyInstance } from "fastify"
import { FaultRule, type Faults } from "../Faults.js"
import * as Routes from "../http/Routes.js"
import { decode } from "../http/Validation.js"
import * as Billing from "../model/Billing.js"
import { type FlyModel, SimError } from "../model/FlyModel.js"

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
}

export const register = (
  server: FastifyInstance,
  { model, clock, faults, billing }: ControlContext
): void => {
  server.get("/_sim/billing", async (request) => {
    const query = decode(BillingQuery, request.query, "query")
    const resource = query.machine ?? query.volume
    return Billing.filter(billing(), {
      ...(query.app === undefined ? {} : { app: query.app }),
      ...(resource === undefined ? {} : { resource }),
      ...(query.state === undefined ? {} : { state: query.state })
    })
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
