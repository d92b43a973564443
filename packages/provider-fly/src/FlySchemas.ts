/**
 * Schemas of the Machines API responses the client reads, written from the official OpenAPI spec
 * (../shared/reference/fly-machines-openapi.json) for the fields Hangar uses; other fields pass through.
 */
import { Pricing } from "@hangar/core"
import { Schema } from "effect"

export const MachineState = Pricing.FlyMachineState
export const Guest = Schema.Struct({
  cpu_kind: Schema.Literal("shared", "performance"),
  cpus: Schema.Int,
  memory_mb: Schema.Int
})

export const MachineEvent = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  status: Schema.String,
  source: Schema.optional(Schema.String),
  timestamp: Schema.Number
})
export type MachineEvent = typeof MachineEvent.Type

export const Machine = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  state: MachineState,
  region: Schema.String,
  instance_id: Schema.optional(Schema.String),
  private_ip: Schema.optional(Schema.String),
  config: Schema.optional(
    Schema.Struct({
      image: Schema.optional(Schema.String),
      guest: Schema.optional(Guest),
      env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
      metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
      rootfs: Schema.optional(Schema.Struct({ size_gb: Schema.optional(Schema.Number) }))
    })
  ),
  nonce: Schema.optional(Schema.String)
})
export type Machine = typeof Machine.Type

export const Volume = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  state: Schema.String,
  size_gb: Schema.Int,
  region: Schema.String,
  encrypted: Schema.optional(Schema.Boolean),
  attached_machine_id: Schema.optional(Schema.NullOr(Schema.String))
})
export type Volume = typeof Volume.Type

export const App = Schema.Struct({ name: Schema.String })
export const AppList = Schema.Struct({ apps: Schema.Array(App) })

export const ExecResponse = Schema.Struct({
  stdout: Schema.optionalWith(Schema.String, { default: () => "" }),
  stderr: Schema.optionalWith(Schema.String, { default: () => "" }),
  exit_code: Schema.Int
})

export const WaitResponse = Schema.Struct({ ok: Schema.Boolean, state: Schema.optional(MachineState) })

/** Fly answers leases in a status/data envelope (not the spec's flat Lease schema). */
export const LeaseResponse = Schema.Struct({
  status: Schema.String,
  data: Schema.Struct({ nonce: Schema.String, expires_at: Schema.Number })
})

/** `GET …/ps`: the machine's processes (the spec's ProcessStat). */
export const ProcessStat = Schema.Struct({
  pid: Schema.Int,
  command: Schema.String,
  directory: Schema.optional(Schema.String),
  cpu: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  rss: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  rtime: Schema.optional(Schema.Number),
  stime: Schema.optional(Schema.Number),
  listen_sockets: Schema.optional(
    Schema.Array(Schema.Struct({ address: Schema.String, proto: Schema.String }))
  )
})
export const ProcessStats = Schema.Array(ProcessStat)

/** `GET …/memory`: the balloon device's limit and what is available. */
export const MemoryResponse = Schema.Struct({ limit_mb: Schema.Int, available_mb: Schema.Int })

export const Ok = Schema.Unknown
export const ErrorBody = Schema.Struct({ error: Schema.String })
