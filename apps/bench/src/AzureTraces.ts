/**
 * Synthetic traces with the shape of the Azure Functions 2019 trace (Shahrad et al., ATC'20; reference
 * routing-and-cost.md §2.1, §4.2): per repository an inter-arrival model drawn from periodic (20%), Poisson
 * (37%) and bursty (43%, hyperexponential), a rate from the invocation-frequency mix (45% at most hourly, 36%
 * between hourly and every minute, 19% more often), and heavy-tailed lognormal durations. Rates and durations
 * are scaled to coding-agent tasks (at most one every 10 minutes per repository, median 5 minutes): only the
 * shapes transfer from FaaS.
 */
import { SeededRandom } from "@hangar/core"
import type { Oracle } from "@hangar/router"

const minute = 60_000

export interface AzureTraceOptions {
  readonly seed: number
  readonly repositories: number
  readonly days: number
}

export const generate = (options: AzureTraceOptions): ReadonlyArray<Oracle.TraceTask> => {
  const random = SeededRandom.make(options.seed)
  const horizon = options.days * 1440 * minute
  const tasks: Array<Oracle.TraceTask> = []
  for (let r = 0; r < options.repositories; r++) {
    const u = random.next()
    const meanGap =
      u < 0.45
        ? (60 + random.next() * 300) * minute
        : u < 0.81
          ? (10 + random.next() * 50) * minute
          : 10 * minute
    const v = random.next()
    const kind = v < 0.2 ? "periodic" : v < 0.57 ? "poisson" : "bursty"
    const gap = (): number => {
      if (kind === "periodic") return meanGap
      if (kind === "poisson") return random.exponential(meanGap)
      // hyperexponential with CV > 1: short gaps inside bursts, long gaps between them
      return random.next() < 0.8 ? random.exponential(meanGap * 0.1) : random.exponential(meanGap * 4.6)
    }
    let i = 0
    for (let t = random.next() * meanGap; t < horizon; t += gap()) {
      const seconds = Math.min(4 * 3600, 300 * Math.exp(1.0 * random.normal()))
      tasks.push({
        taskId: `azure-${options.seed}-${r}-${i++}`,
        repository: `azure/repo-${r}`,
        region: "iad",
        arrivalMillis: Math.round(t),
        durationMillis: Math.max(1000, Math.round(seconds * 1000)),
        size: "standard",
        requiresGpu: false
      })
    }
  }
  return tasks.sort((a, b) => a.arrivalMillis - b.arrivalMillis)
}
