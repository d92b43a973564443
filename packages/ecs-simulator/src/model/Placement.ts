/**
 * Binpack placement ("least amount of unused CPU or memory"): of the instances with room for the task's CPU,
 * memory and GPUs, the one with the least CPU left after placing, ties to less memory left, then launch order.
 * When none has room, the reason names the resource that the fullest candidate lacked (`RESOURCE:MEMORY`…).
 */
import { type Instance, remaining } from "./ContainerInstance.js"

export interface Demand {
  readonly cpu: number
  readonly memory: number
  readonly gpus: number
}

export type Placement =
  | { readonly _tag: "Placed"; readonly instance: Instance }
  | { readonly _tag: "NoRoom"; readonly reason: string; readonly instance: Instance | undefined }

/** Why `instance` cannot take `demand`, or undefined if it can. */
export const misfit = (instance: Instance, demand: Demand): string | undefined => {
  const left = remaining(instance)
  if (left.gpus < demand.gpus) return "RESOURCE:GPU"
  if (left.memory < demand.memory) return "RESOURCE:MEMORY"
  if (left.cpu < demand.cpu) return "RESOURCE:CPU"
  return undefined
}

export const binpack = (candidates: Iterable<Instance>, demand: Demand): Placement => {
  let best: Instance | undefined
  let bestCpu = Number.POSITIVE_INFINITY
  let bestMemory = Number.POSITIVE_INFINITY
  let reason: string | undefined
  let rejected: Instance | undefined
  for (const instance of candidates) {
    const why = misfit(instance, demand)
    if (why !== undefined) {
      if (reason === undefined) {
        reason = why
        rejected = instance
      }
      continue
    }
    const cpu = instance.cpu - instance.reservedCpu - demand.cpu
    const memory = instance.memory - instance.reservedMemory - demand.memory
    if (cpu < bestCpu || (cpu === bestCpu && memory < bestMemory)) {
      best = instance
      bestCpu = cpu
      bestMemory = memory
    }
  }
  if (best !== undefined) return { _tag: "Placed", instance: best }
  return { _tag: "NoRoom", reason: reason ?? "RESOURCE:MEMORY", instance: rejected }
}

/** How many tasks of `demand` fit on an empty instance of this shape (0 if it never fits). */
export const perInstance = (shape: Demand, demand: Demand): number => {
  const limits = [
    demand.cpu > 0 ? Math.floor(shape.cpu / demand.cpu) : Number.POSITIVE_INFINITY,
    demand.memory > 0 ? Math.floor(shape.memory / demand.memory) : Number.POSITIVE_INFINITY,
    demand.gpus > 0 ? Math.floor(shape.gpus / demand.gpus) : Number.POSITIVE_INFINITY
  ]
  const n = Math.min(...limits)
  return Number.isFinite(n) ? n : 1_000
}
