/**
 * The local plugin: each session is a process on this machine, working in its repository's workspace directory
 * under `root` (for a team's single build server, or development without a cloud account). Create starts the
 * session's keeper process; exec runs a command in the workspace; suspend stops the session's processes with
 * SIGSTOP and start resumes them with SIGCONT; stop and destroy kill them (the workspace stays for the
 * repository's next session). Usage is wall time by state, priced by the box's configured $/hour.
 *
 * Sessions are known to the process that made them: a restarted provider starts with none.
 */
import type { ChildProcess } from "node:child_process"
import {
  Capabilities,
  ComputeProvider,
  Money,
  Region,
  Session,
  TaskResult,
  type TaskSpec,
  Usage
} from "@hangar/core"
import { Clock, Context, Effect, Layer } from "effect"
import * as Processes from "./internal/Processes.js"
import { notFound, notRunning, providerId } from "./internal/Provenance.js"
import * as Workspaces from "./internal/Workspaces.js"
import * as LocalCostModel from "./LocalCostModel.js"

export interface Options {
  /** Where the repositories' workspace directories are made. */
  readonly root: string
  /** The provider's id in the registry (default `local`). */
  readonly id?: string
  /** The regions this machine serves (default `local`). */
  readonly regions?: ReadonlyArray<string>
  /** The box's price and start times (default: free, 50 ms to start, 10 ms to resume). */
  readonly cost?: Partial<LocalCostModel.Options>
}

export class LocalProvider extends Context.Tag("@hangar/provider-local/LocalProvider")<
  LocalProvider,
  ComputeProvider.ComputeProvider
>() {}

interface LocalSession {
  session: Session.Session
  readonly workspace: string
  readonly env: Readonly<Record<string, string>>
  keeper: ChildProcess | undefined
  /** Commands running in the session now. */
  readonly commands: Set<ChildProcess>
  readonly history: Array<Usage.StatusInterval>
}

interface Env {
  readonly id: TaskSpec.ProviderId
  readonly root: string
  readonly runningRate: Money.Rate
  readonly sessions: Map<string, LocalSession>
  counter: number
}

// ---------------------------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------------------------

const capabilities = (options: Options, cost: LocalCostModel.Options) =>
  new Capabilities.Capabilities({
    regions: (options.regions ?? ["local"]).map(Region.make) as unknown as readonly [
      Region.Region,
      ...Array<Region.Region>
    ],
    sizes: ["dev", "standard", "performance", "high-perf"],
    unsupported: {
      gpu: "local sessions are plain processes: no GPU is passed through",
      edge: "a local machine runs where it stands, not at the edge",
      persistentVolume: "the workspace is a directory on this machine, not a volume"
    },
    startLatencySeconds: { cold: cost.startSeconds, warm: cost.resumeSeconds }
  })

// ---------------------------------------------------------------------------------------------------------------
// Sessions and their state
// ---------------------------------------------------------------------------------------------------------------

const find = (env: Env, sessionId: string, method: string) =>
  Effect.suspend(() => {
    const entry = env.sessions.get(sessionId)
    if (entry === undefined || entry.session.status === "destroyed")
      return Effect.fail(notFound(env.id, method, sessionId, entry !== undefined))
    return Effect.succeed(entry)
  })

const setStatus = (entry: LocalSession, status: Session.SessionStatus) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    if (entry.session.status !== status) entry.history.push({ status, from: now })
    entry.session = new Session.Session({ ...entry.session, status })
    return entry.session
  })

/** Starts the session's keeper; its pid goes in the session's metadata. */
const startKeeper = (entry: LocalSession) =>
  Effect.map(Processes.startKeeper(entry.workspace), (keeper) => {
    entry.keeper = keeper
    entry.session = new Session.Session({
      ...entry.session,
      metadata: { ...entry.session.metadata, pid: String(keeper.pid ?? "") }
    })
  })

/** Signals the keeper and every command of a session. */
const signalAll = (entry: LocalSession, signal: NodeJS.Signals) => {
  if (entry.keeper !== undefined) Processes.signalGroup(entry.keeper, signal)
  for (const command of entry.commands) Processes.signalGroup(command, signal)
}

/** Kills the session's processes (a suspended group is continued so it can die at once). */
const killAll = (entry: LocalSession) => {
  signalAll(entry, "SIGKILL")
  signalAll(entry, "SIGCONT")
  entry.keeper = undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------------------------

const create = (env: Env, task: TaskSpec.TaskSpec) =>
  Effect.gen(function* () {
    const workspace = yield* Workspaces.ensure(env.root, task.repository, env.id)
    const id = `${env.id}-${++env.counter}`
    const now = yield* Clock.currentTimeMillis
    const entry: LocalSession = {
      session: new Session.Session({
        id,
        provider: env.id,
        taskId: task.taskId,
        repository: task.repository,
        region: task.region,
        status: "provisioning",
        metadata: { workspace, pid: "" }
      }),
      workspace,
      env: { ...task.env, WORKSPACE: workspace },
      keeper: undefined,
      commands: new Set(),
      history: [{ status: "provisioning", from: now }]
    }
    env.sessions.set(id, entry)
    yield* startKeeper(entry)
    return yield* setStatus(entry, "running")
  })

const start = (env: Env, sessionId: string) =>
  Effect.flatMap(find(env, sessionId, "start"), (entry) => {
    if (entry.session.status === "suspended") signalAll(entry, "SIGCONT")
    const keeper = entry.keeper === undefined ? startKeeper(entry) : Effect.void
    return Effect.zipRight(keeper, setStatus(entry, "running"))
  })

const suspend = (env: Env, sessionId: string) =>
  Effect.flatMap(find(env, sessionId, "suspend"), (entry) => {
    if (entry.session.status !== "running") return Effect.succeed(entry.session)
    signalAll(entry, "SIGSTOP")
    return setStatus(entry, "suspended")
  })

const stop = (env: Env, sessionId: string) =>
  Effect.flatMap(find(env, sessionId, "stop"), (entry) => {
    killAll(entry)
    return setStatus(entry, "stopped")
  })

const destroy = (env: Env, sessionId: string) =>
  Effect.flatMap(find(env, sessionId, "destroy"), (entry) => {
    killAll(entry)
    return Effect.asVoid(setStatus(entry, "destroyed"))
  })

// ---------------------------------------------------------------------------------------------------------------
// Exec
// ---------------------------------------------------------------------------------------------------------------

const exec = (env: Env, sessionId: string, command: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const entry = yield* find(env, sessionId, "exec")
    if (entry.session.status !== "running")
      return yield* notRunning(env.id, "exec", sessionId, entry.session.status)
    const started = yield* Clock.currentTimeMillis
    let current: ChildProcess | undefined
    const output = yield* Processes.run(entry.workspace, command, entry.env, (child) => {
      if (child !== undefined) {
        current = child
        entry.commands.add(child)
      } else if (current !== undefined) entry.commands.delete(current)
    })
    const finished = yield* Clock.currentTimeMillis
    return new TaskResult.TaskResult({ ...output, durationMs: Math.max(0, finished - started) })
  })

// ---------------------------------------------------------------------------------------------------------------
// Usage by wall time
// ---------------------------------------------------------------------------------------------------------------

const usage = (env: Env, sessionId: string) =>
  Effect.gen(function* () {
    const entry = yield* find(env, sessionId, "usage")
    const now = yield* Clock.currentTimeMillis
    const seconds = Usage.secondsByState(entry.history, now)
    const busyMillis = Math.round((seconds.provisioning + seconds.running) * 1000)
    return new Usage.Usage({ sessionId, seconds, costMicroUsd: Money.cost(env.runningRate, busyMillis) })
  })

// ---------------------------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------------------------

/** The provider over `options.root`, built through core's `make`; closing the scope kills every session. */
export const make = (options: Options) =>
  Effect.gen(function* () {
    const cost = { ...LocalCostModel.defaults, ...options.cost }
    const env: Env = {
      id: (options.id ?? providerId) as TaskSpec.ProviderId,
      root: options.root,
      runningRate: Money.rate(String(cost.dollarsPerHour), "hour"),
      sessions: new Map(),
      counter: 0
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const entry of env.sessions.values()) killAll(entry)
      })
    )
    return yield* ComputeProvider.make({
      id: env.id,
      capabilities: capabilities(options, cost),
      costModel: LocalCostModel.make(cost),
      // Lifecycle
      create: (task) => create(env, task),
      get: (sessionId) => Effect.map(find(env, sessionId, "get"), (entry) => entry.session),
      start: (sessionId) => start(env, sessionId),
      stop: (sessionId) => stop(env, sessionId),
      suspend: (sessionId) => suspend(env, sessionId),
      destroy: (sessionId) => destroy(env, sessionId),
      list: () =>
        Effect.sync(() =>
          [...env.sessions.values()].filter((e) => e.session.status !== "destroyed").map((e) => e.session)
        ),
      // Exec
      exec: (sessionId, command) => exec(env, sessionId, command),
      // Usage by wall time
      usage: (sessionId) => usage(env, sessionId)
    })
  })

export const layer = (options: Options): Layer.Layer<LocalProvider> =>
  Layer.scoped(LocalProvider, make(options))
