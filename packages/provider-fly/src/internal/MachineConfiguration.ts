/**
 * A machine's configuration: the size preset's guest, the task's environment, restart policy and the workspace
 * mount, shaped by the app's fly.toml where one was imported (its services, checks, env, mount, [[vm]] size,
 * stop settings, swap and metrics).
 */
import { Pricing, type TaskSpec } from "@hangar/core"
import * as Conventions from "../Conventions.js"
import type { FlyEnvironment } from "./FlyEnvironment.js"

/** The workspace volume's name and mount path (fly.toml's [mounts], else `workspace` at /workspace). */
export const volumeName = (env: FlyEnvironment): string => env.flyToml?.mount?.name ?? "workspace"
const mountPath = (env: FlyEnvironment) => env.flyToml?.mount?.path ?? "/workspace"

/** The region a task's machine runs in: `edge` goes to the primary region. */
export const regionFor = (env: FlyEnvironment, task: TaskSpec.TaskSpec): string =>
  task.region === "edge" ? env.settings.primaryRegion : task.region

/** fly.toml's services (autostop off when Hangar manages sleep), else one TCP service on 8080 behind 443. */
const services = (env: FlyEnvironment, autostopOff: boolean) => {
  const fromToml = env.flyToml?.services ?? []
  return fromToml.length > 0
    ? fromToml.map((service) => (autostopOff ? { ...service, autostop: false } : service))
    : [
        {
          protocol: "tcp",
          internal_port: 8080,
          autostop: autostopOff || env.settings.autostop === "off" ? false : env.settings.autostop,
          autostart: true,
          min_machines_running: 0,
          ports: [{ port: 443, handlers: ["http", "tls"] }]
        }
      ]
}

/** The config of a new machine for `task` with its workspace volume. */
export const machineConfig = (
  env: FlyEnvironment,
  task: TaskSpec.TaskSpec,
  volumeId: string,
  hangarManagesSleep: boolean
) => {
  const { flyToml, settings } = env
  // Sized for the concurrent sessions of the repository it holds (one session's preset when not configured).
  const preset = Pricing.flyGuestForSessions(
    task.size,
    env.options.sessionsPerMachine?.(task.repository, regionFor(env, task)) ?? 1
  )
  const autostopOff = hangarManagesSleep || env.options.autostop === "off"
  const checks = flyToml?.checks ?? {}
  return {
    image: settings.image,
    guest: flyToml?.guest ?? { cpu_kind: preset.cpuKind, cpus: preset.cpus, memory_mb: preset.memoryMb },
    env: Conventions.taskEnv(task, flyToml?.env),
    restart: Conventions.restartPolicy,
    auto_destroy: false,
    services: services(env, autostopOff),
    ...(Object.keys(checks).length === 0 ? {} : { checks }),
    ...(flyToml?.stop === undefined ? {} : { stop_config: flyToml.stop }),
    ...(flyToml?.swapSizeMb === undefined ? {} : { init: { swap_size_mb: flyToml.swapSizeMb } }),
    ...(flyToml?.metrics === undefined ? {} : { metrics: flyToml.metrics }),
    mounts: [{ volume: volumeId, path: mountPath(env) }],
    metadata: { hangar_task_id: task.taskId }
  }
}
