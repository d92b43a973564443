/**
 * Usage from the machine's events: every state change seen is kept by event id (the API shows only the newest
 * 50), and the intervals between them are priced with core's `Pricing`, as the simulator bills.
 */
import { type ComputeError, Pricing, Usage } from "@hangar/core"
import { Clock, Effect, Schema } from "effect"
import * as FlySchemas from "../FlySchemas.js"
import { type FlyEnvironment, machinePath, parseSessionId } from "./FlyEnvironment.js"
import * as LeasesAndWaits from "./LeasesAndWaits.js"

const MachineEvents = Schema.Array(FlySchemas.MachineEvent)

/** Adds the machine's newest events to its ledger. */
export const recordEvents = (
  env: FlyEnvironment,
  app: string,
  id: string
): Effect.Effect<void, ComputeError.ComputeError> =>
  Effect.map(
    env.client.request("GET", `${machinePath(app, id)}/events?limit=50`, MachineEvents),
    (events) => {
      let ledger = env.state.ledgers.get(id)
      if (ledger === undefined) {
        ledger = new Map()
        env.state.ledgers.set(id, ledger)
      }
      // Newest first from the API: walk oldest first so that the order of first sight is the order of
      // events, which breaks ties between events of one millisecond (their ids need not sort in order).
      for (let i = events.length - 1; i >= 0; i--) {
        const event = events[i]!
        if (!ledger.has(event.id)) ledger.set(event.id, { event, order: ledger.size })
      }
    }
  )

/** The machine's events as recorded, oldest first. */
const recorded = (env: FlyEnvironment, machine: string) =>
  [...(env.state.ledgers.get(machine)?.values() ?? [])]
    .sort((a, b) => a.event.timestamp - b.event.timestamp || a.order - b.order)
    .map((entry) => entry.event)

/** The session's seconds by state and its cost, from its machine's recorded events until now. */
export const usage = (
  env: FlyEnvironment,
  sessionId: string
): Effect.Effect<Usage.Usage, ComputeError.ComputeError> =>
  Effect.gen(function* () {
    const { app, machine } = yield* parseSessionId(sessionId)
    const m = yield* LeasesAndWaits.getMachine(env, app, machine)
    yield* recordEvents(env, app, machine)
    const now = yield* Clock.currentTimeMillis
    const guest = m.config?.guest
    const intervals = Pricing.flyIntervals(
      guest === undefined
        ? Pricing.flyGuestBySize.dev
        : { cpuKind: guest.cpu_kind, cpus: guest.cpus, memoryMb: guest.memory_mb },
      m.region,
      m.config?.rootfs?.size_gb ?? Pricing.defaultFlyRootfsGb,
      recorded(env, machine),
      now
    )
    const seconds = { ...Usage.zeroSeconds }
    let cost = 0
    for (const interval of intervals) {
      cost += interval.costMicroUsd
      const s = (interval.toMillis - interval.fromMillis) / 1000
      if (interval.state === "created") seconds.provisioning += s
      else if (interval.state === "suspended") seconds.suspended += s
      else if (interval.state === "stopped") seconds.stopped += s
      else seconds.running += s
    }
    return new Usage.Usage({ sessionId, seconds, costMicroUsd: cost as Usage.Usage["costMicroUsd"] })
  })
