/**
 * Turns a scenario into a concrete, seeded list of tasks: arrival times from the arrival process, durations
 * from the duration distribution, a repository and region for each. Same scenario and seed, same trace.
 */
import { SeededRandom } from "@hangar/core"
import type { Oracle } from "@hangar/router"
import type { Scenario } from "./Scenario.js"

const day = 86_400_000
const minute = 60_000

const arrivals = (scenario: Scenario, random: SeededRandom.SeededRandom, horizon: number): Array<number> => {
  const a = scenario.arrival
  const times: Array<number> = []
  switch (a.kind) {
    case "poisson": {
      const mean = day / a.perDay
      for (let t = random.exponential(mean); t < horizon; t += random.exponential(mean)) times.push(t)
      break
    }
    case "diurnal": {
      // thinning of a Poisson process whose rate swings sinusoidally around the mean over the UTC day
      const peak = (1 + a.amplitude) * (a.perDay / day)
      for (let t = random.exponential(1 / peak); t < horizon; t += random.exponential(1 / peak)) {
        const hour = (t % day) / 3_600_000
        const rate =
          (a.perDay / day) * (1 + a.amplitude * Math.cos((2 * Math.PI * (hour - a.peakHourUtc)) / 24))
        if (random.next() < rate / peak) times.push(t)
      }
      break
    }
    case "bursty": {
      const mean = (7 * day) / a.burstsPerWeek
      for (let start = random.exponential(mean); start < horizon; start += random.exponential(mean)) {
        for (let i = 0; i < a.tasksPerBurst; i++) {
          const t = start + random.next() * a.burstMinutes * minute
          if (t < horizon) times.push(t)
        }
      }
      break
    }
    case "periodic": {
      for (let t = 0; t < horizon; t += a.everyMinutes * minute) {
        times.push(Math.max(0, t + (random.next() - 0.5) * 2 * a.jitterSeconds * 1000))
      }
      break
    }
    case "continuous":
      break
  }
  return times.map(Math.round).sort((x, y) => x - y)
}

const duration = (scenario: Scenario, random: SeededRandom.SeededRandom): number => {
  const d = scenario.duration
  if (d.kind === "fixed") return Math.round(d.seconds * 1000)
  const seconds = Math.min(d.maxSeconds, d.medianSeconds * Math.exp(d.sigma * random.normal()))
  return Math.max(1000, Math.round(seconds * 1000))
}

/** The tasks of a scenario over its horizon, in arrival order. */
export const generate = (scenario: Scenario): ReadonlyArray<Oracle.TraceTask> => {
  const random = SeededRandom.make(scenario.seed)
  const horizon = scenario.days * day
  const repositories = Array.from(
    { length: scenario.repositories },
    (_, i) => `${scenario.name}/repo-${i + 1}`
  )
  const regionOf = (i: number) => scenario.regions[i % scenario.regions.length]!
  if (scenario.arrival.kind === "continuous") {
    const gap = scenario.arrival.gapSeconds * 1000
    return repositories.flatMap((repository, r) => {
      const tasks: Array<Oracle.TraceTask> = []
      for (let t = 0, i = 0; t < horizon; i++) {
        const length = Math.min(duration(scenario, random), horizon - t)
        tasks.push({
          taskId: `${scenario.name}-${r + 1}-${i + 1}`,
          repository,
          region: regionOf(r),
          arrivalMillis: t,
          durationMillis: length,
          size: scenario.size,
          requiresGpu: false
        })
        t += length + gap
      }
      return tasks
    })
  }
  return arrivals(scenario, random, horizon).map((arrivalMillis, i) => {
    const r = Math.floor(random.next() * repositories.length)
    return {
      taskId: `${scenario.name}-${i + 1}`,
      repository: repositories[r]!,
      region: regionOf(r),
      arrivalMillis,
      durationMillis: duration(scenario, random),
      size: scenario.size,
      requiresGpu: random.next() < scenario.gpuShare
    }
  })
}
