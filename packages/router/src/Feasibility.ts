/** Which composed providers can take a task: available, not already tried, and capable (GPU, region, size). */
import { Capabilities, type RoutingPolicy, type TaskSpec } from "@hangar/core"
import { Option } from "effect"

export const isFeasible = (candidate: RoutingPolicy.Candidate, task: TaskSpec.TaskSpec): boolean =>
  Option.isNone(Capabilities.check(candidate.provider, candidate.capabilities, task))

/** Feasible candidates in the order given, skipping unavailable and excluded ones. */
export const feasible = (input: RoutingPolicy.RouteInput): ReadonlyArray<RoutingPolicy.Candidate> =>
  input.candidates.filter(
    (candidate) =>
      candidate.available && !input.excluded.includes(candidate.provider) && isFeasible(candidate, input.task)
  )

/** Why nothing is feasible, for the error a policy returns. */
export const explainInfeasible = (input: RoutingPolicy.RouteInput): string =>
  input.candidates
    .map((candidate) => {
      if (input.excluded.includes(candidate.provider)) return `${candidate.provider}: already tried`
      if (!candidate.available) return `${candidate.provider}: marked down`
      const problem = Capabilities.check(candidate.provider, candidate.capabilities, input.task)
      return Option.match(problem, {
        onNone: () => `${candidate.provider}: feasible`,
        onSome: (error) => `${candidate.provider}: ${error.message}`
      })
    })
    .join("; ") || "no provider is composed"
