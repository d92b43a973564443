/**
 * What every module of the Fly plugin works with: the Machines API client, the settings (options over defaults
 * and the imported fly.toml), the deadlines, and the one mutable state the provider keeps (event ledgers, locks,
 * active tasks, sleep permissions, wakes, known apps, create clean-ups). `FlyProvider.makeAll` builds one
 * environment and hands it to each module.
 */
import { ComputeError } from "@hangar/core"
import { Duration, Effect, type Fiber } from "effect"
import type * as FlyClient from "../FlyClient.js"
import type { Options } from "../FlyProvider.js"
import type * as FlySchemas from "../FlySchemas.js"
import type * as FlyToml from "../FlyToml.js"
import { origin } from "./Provenance.js"

export const defaults = {
  baseUrl: "https://api.machines.dev",
  appPrefix: "hangar",
  org: "personal",
  image: "ghcr.io/hangar/agent:latest",
  regions: ["iad", "lhr", "nrt", "syd", "lax", "sjc", "ams", "fra", "sin"],
  primaryRegion: "iad",
  volumeSizeGb: 10,
  autostop: "suspend" as const
}

/** The options over the defaults, fly.toml's primary region and mount size filling what the options leave. */
const resolve = (options: Options, flyToml: FlyToml.FlyToml | undefined): Settings => ({
  ...defaults,
  ...options,
  primaryRegion: options.primaryRegion ?? flyToml?.primaryRegion ?? defaults.primaryRegion,
  volumeSizeGb: options.volumeSizeGb ?? flyToml?.mount?.sizeGb ?? defaults.volumeSizeGb
})

/** The options with every default filled in. */
export interface Settings extends Options {
  readonly baseUrl: string
  readonly appPrefix: string
  readonly org: string
  readonly image: string
  readonly regions: ReadonlyArray<string>
  readonly primaryRegion: string
  readonly volumeSizeGb: number
  readonly autostop: "off" | "stop" | "suspend"
}

/** A machine a create woke or made, kept until the create ends: put back to sleep if it failed. */
export interface Touched {
  readonly app: string
  readonly machineId: string
  /** The create's want of the machine (see `FlyState.wakes`). */
  readonly wake: number
}

/** Everything the provider remembers between calls. */
export interface FlyState {
  /** Per machine: every state change seen, by event id (the API shows only the newest 50). */
  readonly ledgers: Map<
    string,
    Map<string, { readonly event: FlySchemas.MachineEvent; readonly order: number }>
  >
  /** One lifecycle change at a time per key: a repository's region (get-or-create) or a machine. */
  readonly locks: Map<string, Effect.Semaphore>
  /** Tasks running per machine. */
  readonly active: Map<string, number>
  /** Machines allowed to sleep. */
  readonly sleepAllowed: Set<string>
  /** A count of wakes asked for per machine. */
  readonly wakes: Map<string, number>
  /** Apps this provider has seen exist (Hangar never deletes one), so a create asks about an app once. */
  readonly knownApps: Set<string>
  /** Machines a create woke or made, by task id, until the create ends. */
  readonly touched: Map<string, Touched>
  /** Background clean-ups of failed creates. */
  readonly cleanups: Set<Fiber.RuntimeFiber<void>>
}

export interface FlyEnvironment {
  readonly options: Options
  readonly settings: Settings
  readonly flyToml: FlyToml.FlyToml | undefined
  readonly client: FlyClient.Service
  /** No call takes longer than this. */
  readonly deadlineMillis: number
  /** How long one call may wait for a machine to reach a state. */
  readonly waitDeadlineMillis: number
  readonly state: FlyState
}

export const make = (
  options: Options,
  flyToml: FlyToml.FlyToml | undefined,
  client: FlyClient.Service
): FlyEnvironment => {
  const settings = resolve(options, flyToml)
  const deadlineMillis = Duration.toMillis(settings.deadline ?? "5 minutes")
  return {
    options,
    settings,
    flyToml,
    client,
    deadlineMillis,
    waitDeadlineMillis: Duration.toMillis(settings.waitDeadline ?? deadlineMillis),
    state: {
      ledgers: new Map(),
      locks: new Map(),
      active: new Map(),
      sleepAllowed: new Set(),
      wakes: new Map(),
      knownApps: new Set(),
      touched: new Map(),
      cleanups: new Set()
    }
  }
}

/** Runs an effect holding the key's lock (one lifecycle change at a time per key). */
export const locked = (env: FlyEnvironment, key: string) => {
  let lock = env.state.locks.get(key)
  if (lock === undefined) {
    lock = Effect.unsafeMakeSemaphore(1)
    env.state.locks.set(key, lock)
  }
  return lock.withPermits(1)
}

/** Counts a want of the machine (a create or a task); its number tells a later want from this one. */
export const wanted = (env: FlyEnvironment, machineId: string): number => {
  const wake = (env.state.wakes.get(machineId) ?? 0) + 1
  env.state.wakes.set(machineId, wake)
  return wake
}

export const machinePath = (app: string, id: string): string => `/apps/${app}/machines/${id}`

/** A session id is `<app>/<machine id>`; anything else names no session. */
export const parseSessionId = (
  sessionId: string
): Effect.Effect<{ readonly app: string; readonly machine: string }, ComputeError.SessionNotFound> => {
  const [app, machine] = sessionId.split("/")
  if (app === undefined || machine === undefined || !/^[0-9a-f]{14}$/.test(machine)) {
    return Effect.fail(new ComputeError.SessionNotFound({ ...origin("parse"), reason: "Unknown", sessionId }))
  }
  return Effect.succeed({ app, machine })
}

/** The machine id of a session id, without checking it. */
export const machineIdOf = (sessionId: string): string => sessionId.split("/")[1] ?? ""
