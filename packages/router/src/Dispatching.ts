/**
 * What the Router decides in a dispatch, as plain functions: what the routing policy is shown, which failures
 * fail over and what a dispatch that ran out of providers fails with, whether a start is cold, and what the idle
 * policy is told about an idle session. The Router calls them around its I/O; a simulation that drives the
 * Router's steps itself (the bench's kernel) calls the same ones, so the two decide alike.
 */
import {
  type Capabilities,
  ComputeError,
  CostModel,
  type IdlePolicy,
  type RoutingPolicy,
  type TaskSpec
} from "@hangar/core"
import type { DispatchResult } from "./Router.js"

/**
 * What an attempt that ran gives the dispatch: a result but for what only the dispatch knows (the history of
 * its failed attempts, and the start latency, which runs from the dispatch).
 */
export type AttemptResult = Omit<DispatchResult, "failoverHistory" | "startLatencyMillis">

/** What the Router knows of a provider when it decides and hands a session to the idle policy. */
export interface ProviderFacts {
  readonly id: TaskSpec.ProviderId
  readonly capabilities: Capabilities.Capabilities
  readonly costModel: CostModel.CostModel
}

/** The candidates the routing policy chooses among: every composed provider, all available. */
export const candidatesOf = (providers: ReadonlyArray<ProviderFacts>): Array<RoutingPolicy.Candidate> =>
  providers.map((p) => ({
    provider: p.id,
    capabilities: p.capabilities,
    costModel: p.costModel,
    available: true
  }))

/** A failure the dispatch tries the next provider after: retryable, no capacity, or the provider down. */
export const failsOver = (error: ComputeError.ComputeError): boolean =>
  error.isRetryable || error._tag === "CapacityUnavailable" || error._tag === "ProviderUnavailable"

/** The routing policy found nothing (left): its own error at first, else every feasible provider failed. */
export const noProviderLeft = (
  task: TaskSpec.TaskSpec,
  error: ComputeError.ComputeError,
  history: ReadonlyArray<ComputeError.FailoverAttempt>
): ComputeError.ComputeError =>
  history.length === 0
    ? error
    : new ComputeError.CapacityUnavailable({
        module: "Router",
        method: "dispatch",
        reason: "NoFeasibleProvider",
        region: task.region,
        detail: `every feasible provider failed for task ${task.taskId}`,
        failoverHistory: history
      })

/** A failure that does not fail over ends the dispatch, carrying the history if it is a capacity failure. */
export const finalError = (
  error: ComputeError.ComputeError,
  history: ReadonlyArray<ComputeError.FailoverAttempt>
): ComputeError.ComputeError =>
  error._tag === "CapacityUnavailable"
    ? new ComputeError.CapacityUnavailable({ ...error, failoverHistory: history })
    : error

/** A start is cold unless this router holds the session awake and the provider reports it running. */
export const coldStart = (known: { readonly asleep: boolean } | undefined, running: boolean): boolean =>
  known === undefined || known.asleep || !running

/**
 * What the idle policy is told about an idle session: the prices its provider's cost model declares for running
 * and for the sleep it can take (a provider that declares none sleeps at the running price: sleeping saves
 * nothing), and whether it can suspend.
 */
export const idleInput = (
  provider: ProviderFacts,
  sessionId: string,
  task: TaskSpec.TaskSpec,
  since: number
): IdlePolicy.IdleInput => {
  const canSuspend = provider.capabilities.unsupported.suspend === undefined
  const states = provider.costModel.machineStates(task)
  const prices = CostModel.idlePrices(states, canSuspend)
  return {
    repository: task.repository,
    provider: provider.id,
    sessionId,
    idleSinceMillis: since,
    runningMicroUsdPerSecond: states.running,
    sleepingMicroUsdPerSecond: prices?.sleeping ?? states.running,
    wakeCostMicroUsd: prices?.wakeCostMicroUsd ?? 0,
    wakeSeconds: prices?.wakeSeconds ?? 0,
    canSuspend
  }
}
