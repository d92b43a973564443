/** What the Machines API reports of a running machine: its processes (`/ps`) and its memory (`/memory`). */
import type { ComputeError, ComputeProvider } from "@hangar/core"
import { Effect } from "effect"
import type { MachineMetrics } from "../FlyProvider.js"
import * as FlySchemas from "../FlySchemas.js"
import { type FlyEnvironment, machinePath, parseSessionId } from "./FlyEnvironment.js"

/** The machine's metrics, run as core runs a call (its span, retries and deadline). */
export const metrics = (
  env: FlyEnvironment,
  operation: ComputeProvider.Operation,
  sessionId: string
): Effect.Effect<MachineMetrics, ComputeError.ComputeError> =>
  operation(
    "metrics",
    () =>
      Effect.flatMap(parseSessionId(sessionId), ({ app, machine }) =>
        Effect.map(
          Effect.all(
            [
              env.client.request("GET", `${machinePath(app, machine)}/ps`, FlySchemas.ProcessStats),
              env.client.request("GET", `${machinePath(app, machine)}/memory`, FlySchemas.MemoryResponse)
            ],
            { concurrency: 2 }
          ),
          ([processes, memory]): MachineMetrics => ({
            sessionId,
            memoryLimitMb: memory.limit_mb,
            memoryAvailableMb: memory.available_mb,
            cpu: processes.reduce((sum, p) => sum + p.cpu, 0),
            rssBytes: processes.reduce((sum, p) => sum + p.rss, 0),
            processes: processes.map((p) => ({ pid: p.pid, command: p.command, cpu: p.cpu, rss: p.rss }))
          })
        )
      ),
    { sessionId }
  )
