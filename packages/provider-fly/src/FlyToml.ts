/**
 * fly.toml import: the parts of an app's fly.toml that describe its machines (services and http_service with
 * autostop/autostart and min_machines_running, mounts, checks, env, primary_region, [[vm]] size) turned into
 * Machines API config. Keys that mean nothing for a machine or that this importer does not know come back as
 * warnings (and are logged); an invalid value is an `InvalidRequest` naming the key, such as
 * `http_service.min_machines_running`.
 */
import { ComputeError } from "@hangar/core"
import { Effect, ParseResult, Schema } from "effect"
import { parse as parseToml, TomlError } from "smol-toml"

const context = { module: "FlyToml", method: "parse", provider: "fly" } as const

const DurationText = Schema.String.pipe(
  Schema.pattern(/^\d+(\.\d+)?(ms|s|m|h)$/),
  Schema.annotations({ message: () => 'a duration such as "15s", "500ms" or "1m"' })
)
/** Memory or disk size: a number, or text with a unit ("512mb", "1gb"). */
const SizeText = Schema.Union(
  Schema.Number.pipe(Schema.positive()),
  Schema.String.pipe(Schema.pattern(/^\s*\d+(\.\d+)?\s*(k|m|g|t)?i?b?\s*$/i))
).pipe(Schema.annotations({ message: () => 'a size such as "512mb" or "10gb"' }))
const Port = Schema.Int.pipe(Schema.between(1, 65535))
const Count = Schema.Int.pipe(Schema.nonNegative())
const Autostop = Schema.Union(Schema.Boolean, Schema.Literal("off", "stop", "suspend"))

const Concurrency = Schema.Struct({
  type: Schema.optional(Schema.Literal("connections", "requests")),
  soft_limit: Schema.optional(Count),
  hard_limit: Schema.optional(Count)
})

const Check = Schema.Struct({
  type: Schema.optional(Schema.Literal("tcp", "http")),
  port: Schema.optional(Port),
  interval: Schema.optional(DurationText),
  timeout: Schema.optional(DurationText),
  grace_period: Schema.optional(DurationText),
  method: Schema.optional(Schema.String),
  path: Schema.optional(Schema.String.pipe(Schema.startsWith("/"))),
  protocol: Schema.optional(Schema.Literal("http", "https")),
  tls_skip_verify: Schema.optional(Schema.Boolean),
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
type Check = typeof Check.Type

/** A health check in Machines API form (headers as name/values pairs). */
export type MachineCheck = Omit<Check, "headers"> & {
  readonly headers?: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<string> }>
}

const machineCheck = (check: Check, type?: "tcp" | "http"): MachineCheck => {
  const { headers, ...rest } = check
  return {
    ...(type === undefined ? {} : { type }),
    ...rest,
    ...(headers === undefined
      ? {}
      : { headers: Object.entries(headers).map(([name, value]) => ({ name, values: [value] })) })
  }
}

const Handler = Schema.Literal("http", "tls", "proxy_proto", "pg_tls", "edge_http")
const ServicePort = Schema.Struct({
  port: Schema.optional(Port),
  start_port: Schema.optional(Port),
  end_port: Schema.optional(Port),
  handlers: Schema.optional(Schema.Array(Handler)),
  force_https: Schema.optional(Schema.Boolean)
})

const autoscaling = {
  auto_stop_machines: Schema.optional(Autostop),
  auto_start_machines: Schema.optional(Schema.Boolean),
  min_machines_running: Schema.optional(Count),
  concurrency: Schema.optional(Concurrency),
  processes: Schema.optional(Schema.Array(Schema.String))
}

const HttpService = Schema.Struct({
  internal_port: Port,
  force_https: Schema.optional(Schema.Boolean),
  ...autoscaling,
  checks: Schema.optional(Schema.Array(Check))
})

const Service = Schema.Struct({
  internal_port: Port,
  protocol: Schema.optional(Schema.Literal("tcp", "udp")),
  ...autoscaling,
  ports: Schema.optional(Schema.Array(ServicePort)),
  tcp_checks: Schema.optional(Schema.Array(Check)),
  http_checks: Schema.optional(Schema.Array(Check))
})

const Mount = Schema.Struct({
  source: Schema.String.pipe(Schema.pattern(/^[a-z0-9_]{1,30}$/i)).annotations({
    message: () => "a volume name of letters, digits and underscores (at most 30)"
  }),
  destination: Schema.String.pipe(Schema.startsWith("/")),
  initial_size: Schema.optional(SizeText),
  processes: Schema.optional(Schema.Array(Schema.String)),
  snapshot_retention: Schema.optional(Schema.Int.pipe(Schema.between(1, 60))),
  auto_extend_size_threshold: Schema.optional(Schema.Int.pipe(Schema.between(1, 99))),
  auto_extend_size_increment: Schema.optional(SizeText),
  auto_extend_size_limit: Schema.optional(SizeText)
})

/** Fly's named guest presets: CPU kind, CPUs and the memory each includes. */
export const vmPresets = {
  "shared-cpu-1x": { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
  "shared-cpu-2x": { cpu_kind: "shared", cpus: 2, memory_mb: 512 },
  "shared-cpu-4x": { cpu_kind: "shared", cpus: 4, memory_mb: 1024 },
  "shared-cpu-8x": { cpu_kind: "shared", cpus: 8, memory_mb: 2048 },
  "performance-1x": { cpu_kind: "performance", cpus: 1, memory_mb: 2048 },
  "performance-2x": { cpu_kind: "performance", cpus: 2, memory_mb: 4096 },
  "performance-4x": { cpu_kind: "performance", cpus: 4, memory_mb: 8192 },
  "performance-8x": { cpu_kind: "performance", cpus: 8, memory_mb: 16384 },
  "performance-16x": { cpu_kind: "performance", cpus: 16, memory_mb: 32768 }
} as const

const Vm = Schema.Struct({
  size: Schema.optional(
    Schema.Literal(...(Object.keys(vmPresets) as [keyof typeof vmPresets, ...Array<keyof typeof vmPresets>]))
  ),
  memory: Schema.optional(SizeText),
  memory_mb: Schema.optional(Schema.Int.pipe(Schema.between(256, 131072))),
  cpus: Schema.optional(Schema.Int.pipe(Schema.between(1, 16))),
  cpu_kind: Schema.optional(Schema.Literal("shared", "performance")),
  processes: Schema.optional(Schema.Array(Schema.String))
})

const EnvValue = Schema.Union(Schema.String, Schema.Number, Schema.Boolean)

const Document = Schema.Struct({
  app: Schema.optional(Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9-]{0,62}$/))),
  primary_region: Schema.optional(Schema.String.pipe(Schema.pattern(/^[a-z]{3}$/))),
  env: Schema.optional(Schema.Record({ key: Schema.String, value: EnvValue })),
  http_service: Schema.optional(HttpService),
  services: Schema.optional(Schema.Array(Service)),
  mounts: Schema.optional(Schema.Array(Mount)),
  checks: Schema.optional(Schema.Record({ key: Schema.String, value: Check })),
  vm: Schema.optional(Schema.Array(Vm)),
  kill_signal: Schema.optional(
    Schema.Literal("SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM")
  ),
  kill_timeout: Schema.optional(Schema.Union(Schema.Int.pipe(Schema.nonNegative()), DurationText)),
  swap_size_mb: Schema.optional(Count),
  metrics: Schema.optional(
    Schema.Struct({
      port: Port,
      path: Schema.String.pipe(Schema.startsWith("/")),
      https: Schema.optional(Schema.Boolean)
    })
  )
})
const decodeDocument = Schema.decodeUnknownEither(Document, { errors: "first" })

/** Top-level keys flyctl knows that say nothing about a machine's config; imported with a warning. */
const notApplied = new Set([
  "build",
  "deploy",
  "statics",
  "processes",
  "experimental",
  "console_command",
  "restart",
  "files"
])

/** The keys this importer reads, as a tree (`true`: a leaf or a free-form table). */
type Known = { readonly [key: string]: true | Known }
const checkKeys: Known = {
  type: true,
  port: true,
  interval: true,
  timeout: true,
  grace_period: true,
  method: true,
  path: true,
  protocol: true,
  tls_skip_verify: true,
  headers: true
}
const autoscalingKeys: Known = {
  auto_stop_machines: true,
  auto_start_machines: true,
  min_machines_running: true,
  concurrency: { type: true, soft_limit: true, hard_limit: true },
  processes: true
}
const knownKeys: Known = {
  app: true,
  primary_region: true,
  env: true,
  kill_signal: true,
  kill_timeout: true,
  swap_size_mb: true,
  metrics: { port: true, path: true, https: true },
  http_service: { internal_port: true, force_https: true, ...autoscalingKeys, checks: checkKeys },
  services: {
    internal_port: true,
    protocol: true,
    ...autoscalingKeys,
    ports: { port: true, start_port: true, end_port: true, handlers: true, force_https: true },
    tcp_checks: checkKeys,
    http_checks: checkKeys
  },
  mounts: {
    source: true,
    destination: true,
    initial_size: true,
    processes: true,
    snapshot_retention: true,
    auto_extend_size_threshold: true,
    auto_extend_size_increment: true,
    auto_extend_size_limit: true
  },
  vm: { size: true, memory: true, memory_mb: true, cpus: true, cpu_kind: true, processes: true }
}

const isTable = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof Date)

/** Unknown keys under `value`, by dotted path (array elements are checked against the same keys). */
const unknownKeys = (value: unknown, known: Known, path: string): Array<string> => {
  if (Array.isArray(value)) return value.flatMap((item, i) => unknownKeys(item, known, `${path}[${i}]`))
  if (!isTable(value)) return []
  const out: Array<string> = []
  for (const [key, child] of Object.entries(value)) {
    const at = path === "" ? key : `${path}.${key}`
    const rule = known[key]
    if (rule === undefined) out.push(at)
    else if (rule !== true) out.push(...unknownKeys(child, rule, at))
  }
  return out
}

/** Checks: `[checks.<name>]` tables, each with the check keys. */
const unknownCheckKeys = (checks: unknown): Array<string> =>
  isTable(checks)
    ? Object.entries(checks).flatMap(([name, check]) => unknownKeys(check, checkKeys, `checks.${name}`))
    : []

/** A machine service in Machines API form. */
export interface MachineService {
  readonly protocol: "tcp" | "udp"
  readonly internal_port: number
  readonly autostop: false | "stop" | "suspend"
  readonly autostart: boolean
  readonly min_machines_running: number
  readonly ports: ReadonlyArray<typeof ServicePort.Type>
  readonly concurrency?: typeof Concurrency.Type
  readonly checks?: ReadonlyArray<MachineCheck>
}

export interface Guest {
  readonly cpu_kind: "shared" | "performance"
  readonly cpus: number
  readonly memory_mb: number
}

/** What a fly.toml says about an app's machines, in Machines API terms. */
export interface FlyToml {
  readonly app: string | undefined
  readonly primaryRegion: string | undefined
  readonly env: Readonly<Record<string, string>>
  readonly services: ReadonlyArray<MachineService>
  /** Machine-level health checks by name. */
  readonly checks: Readonly<Record<string, MachineCheck>>
  readonly guest: Guest | undefined
  /** The volume to mount: its name, where, and the size to create it with (GB). */
  readonly mount:
    | { readonly name: string; readonly path: string; readonly sizeGb: number | undefined }
    | undefined
  /** Stop signal and timeout for the machine's main process (the Machines API's stop_config). */
  readonly stop: { readonly signal?: string; readonly timeout?: string } | undefined
  /** Swap for the machine's init (the Machines API's init.swap_size_mb). */
  readonly swapSizeMb: number | undefined
  /** Where Fly scrapes the app's own Prometheus metrics (the Machines API's metrics). */
  readonly metrics:
    | { readonly port: number; readonly path: string; readonly https?: boolean | undefined }
    | undefined
  /** Keys that were not imported, one sentence each. */
  readonly warnings: ReadonlyArray<string>
}

const units: Record<string, number> = { "": 1, k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 }

/** Megabytes in a size (a bare number is already MB). */
const toMb = (size: number | string): number => {
  if (typeof size === "number") return size
  const match = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g|t)?i?b?\s*$/i.exec(size)
  const amount = Number(match?.[1] ?? Number.NaN)
  return amount * (units[(match?.[2] ?? "m").toLowerCase()] ?? 1)
}

/** Gigabytes in a volume size (a bare number is GB, as flyctl reads `initial_size = 10`). */
const toGb = (size: number | string): number =>
  typeof size === "number" ? size : Math.ceil(toMb(/[a-z]/i.test(size) ? size : `${size}gb`) / 1024)

const invalid = (field: string, expected: string, actual?: string) =>
  new ComputeError.InvalidRequest({
    ...context,
    field,
    expected,
    ...(actual === undefined ? {} : { actual })
  })

const autostopOf = (value: boolean | "off" | "stop" | "suspend" | undefined): false | "stop" | "suspend" =>
  value === true ? "stop" : value === undefined || value === false || value === "off" ? false : value

type Decoded = typeof Document.Type

const guestOf = (vms: Decoded["vm"]): Effect.Effect<Guest | undefined, ComputeError.InvalidRequest> => {
  if (vms === undefined) return Effect.succeed(undefined)
  const list = vms
  const vm = list.find((v) => v.processes === undefined) ?? list[0]
  if (vm === undefined) return Effect.succeed(undefined)
  const field = `vm.${list.indexOf(vm)}`
  const preset = vm.size === undefined ? vmPresets["shared-cpu-1x"] : vmPresets[vm.size]
  const cpuKind = vm.cpu_kind ?? preset.cpu_kind
  const cpus = vm.cpus ?? preset.cpus
  const memoryMb = vm.memory_mb ?? (vm.memory === undefined ? preset.memory_mb : toMb(vm.memory))
  if (!Number.isInteger(memoryMb) || memoryMb % 256 !== 0) {
    return Effect.fail(
      invalid(
        `${field}.${vm.memory_mb === undefined ? "memory" : "memory_mb"}`,
        "a multiple of 256 MB",
        String(memoryMb)
      )
    )
  }
  const perCpu = cpuKind === "shared" ? [256, 2048] : [2048, 8192]
  const [low, high] = [perCpu[0]! * cpus, perCpu[1]! * cpus]
  if (memoryMb < (cpuKind === "shared" ? 256 : low) || memoryMb > high) {
    return Effect.fail(
      invalid(
        `${field}.memory`,
        `between ${cpuKind === "shared" ? 256 : low} and ${high} MB for ${cpus} ${cpuKind} CPU(s)`,
        `${memoryMb} MB`
      )
    )
  }
  return Effect.succeed({ cpu_kind: cpuKind, cpus, memory_mb: memoryMb })
}

const serviceOf = (
  service: typeof Service.Type | typeof HttpService.Type,
  kind: "http" | "services"
): MachineService => {
  const base = {
    internal_port: service.internal_port,
    autostop: autostopOf(service.auto_stop_machines),
    autostart: service.auto_start_machines ?? true,
    min_machines_running: service.min_machines_running ?? 0,
    ...(service.concurrency === undefined ? {} : { concurrency: service.concurrency })
  }
  if (kind === "http") {
    const http = service as typeof HttpService.Type
    return {
      protocol: "tcp",
      ...base,
      ports: [
        { port: 80, handlers: ["http"] as const, force_https: http.force_https ?? false },
        { port: 443, handlers: ["tls", "http"] as const }
      ],
      ...(http.checks === undefined
        ? {}
        : { checks: http.checks.map((c) => machineCheck(c, c.type ?? "http")) })
    }
  }
  const s = service as typeof Service.Type
  const checks = [
    ...(s.tcp_checks ?? []).map((c) => machineCheck(c, "tcp")),
    ...(s.http_checks ?? []).map((c) => machineCheck(c, "http"))
  ]
  return {
    protocol: s.protocol ?? "tcp",
    ...base,
    ports: s.ports ?? [],
    ...(checks.length === 0 ? {} : { checks })
  }
}

/** Parses a fly.toml; warnings are returned and logged, invalid values fail with the key named. */
export const parse = (text: string): Effect.Effect<FlyToml, ComputeError.InvalidRequest> =>
  Effect.gen(function* () {
    const raw = yield* Effect.try({
      try: () => parseToml(text) as Record<string, unknown>,
      catch: (e) =>
        e instanceof TomlError
          ? invalid(
              "fly.toml",
              "valid TOML",
              `line ${e.line} column ${e.column}: ${e.message.split("\n")[0]}`
            )
          : invalid("fly.toml", "valid TOML", String(e))
    })
    // `[mounts]` and `[vm]` may be one table or an array of tables: read both as arrays.
    const decoded = decodeDocument({
      ...raw,
      ...(isTable(raw.mounts) ? { mounts: [raw.mounts] } : {}),
      ...(isTable(raw.vm) ? { vm: [raw.vm] } : {})
    })
    if (decoded._tag === "Left") {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
      const field = issue === undefined || issue.path.length === 0 ? "fly.toml" : issue.path.join(".")
      const actual = issue?.path.reduce<unknown>(
        (at, key) =>
          isTable(at) || Array.isArray(at) ? (at as Record<PropertyKey, unknown>)[key] : undefined,
        raw
      )
      return yield* invalid(
        field,
        issue?.message ?? "a valid fly.toml",
        actual === undefined ? undefined : JSON.stringify(actual)
      )
    }
    const doc = decoded.right

    const warnings: Array<string> = []
    for (const key of Object.keys(raw)) {
      if (notApplied.has(key)) warnings.push(`${key}: not a machine setting; not imported`)
    }
    const strayKeys = [
      ...unknownKeys(
        Object.fromEntries(Object.entries(raw).filter(([k]) => !notApplied.has(k) && k !== "checks")),
        knownKeys,
        ""
      ),
      ...unknownCheckKeys(raw.checks)
    ]
    for (const key of strayKeys) warnings.push(`${key}: unknown key; ignored`)

    const mounts = doc.mounts ?? []
    if (mounts.length > 1) warnings.push(`mounts: ${mounts.length} mounts given; only the first is imported`)
    const firstMount = mounts[0]

    const services = [
      ...(doc.http_service === undefined ? [] : [serviceOf(doc.http_service, "http")]),
      ...(doc.services ?? []).map((s) => serviceOf(s, "services"))
    ]
    const guest = yield* guestOf(doc.vm)
    const killTimeout = doc.kill_timeout
    const result: FlyToml = {
      app: doc.app,
      primaryRegion: doc.primary_region,
      env: Object.fromEntries(Object.entries(doc.env ?? {}).map(([k, v]) => [k, String(v)])),
      services,
      checks: Object.fromEntries(
        Object.entries(doc.checks ?? {}).map(([name, c]) => [name, machineCheck(c)])
      ),
      guest,
      mount:
        firstMount === undefined
          ? undefined
          : {
              name: firstMount.source,
              path: firstMount.destination,
              sizeGb: firstMount.initial_size === undefined ? undefined : toGb(firstMount.initial_size)
            },
      stop:
        doc.kill_signal === undefined && killTimeout === undefined
          ? undefined
          : {
              ...(doc.kill_signal === undefined ? {} : { signal: doc.kill_signal }),
              ...(killTimeout === undefined
                ? {}
                : { timeout: typeof killTimeout === "number" ? `${killTimeout}s` : killTimeout })
            },
      swapSizeMb: doc.swap_size_mb,
      metrics: doc.metrics,
      warnings
    }
    for (const warning of warnings) yield* Effect.logWarning(`fly.toml ${warning}`)
    return result
  }).pipe(Effect.withSpan("FlyToml.parse", { captureStackTrace: false }))
