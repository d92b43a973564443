/**
 * What a task's command does on a simulated machine, as the simulators' scripted exec backend defines it (core's
 * `ExecBackend.defaultRules`: `work SECONDS` runs that long and prints a summary). The engine runs the command
 * on the clock with no Promise in between, so it reads the rule instead of calling the backend.
 */
import { TaskResult } from "@hangar/core"
import * as ExecBackend from "@hangar/core/simulation/exec-backend"

export interface Outcome {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
  readonly durationMillis: number
}

export const outcomeOf = (command: ReadonlyArray<string>): Outcome => {
  const effect = ExecBackend.effectOf(ExecBackend.defaultRules, command)
  return {
    stdout: effect.stdout ?? "",
    stderr: effect.stderr ?? "",
    exitCode: effect.exitCode ?? 0,
    durationMillis: effect.durationMillis ?? 0
  }
}

/** Built from the scripted backend's answer, which is well-formed by construction: not validated again per task. */
const taskResult = (outcome: Omit<Outcome, "durationMillis">, durationMillis: number) =>
  new TaskResult.TaskResult(
    {
      exitCode: outcome.exitCode,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      durationMs: durationMillis
    },
    true
  )

/** What a command killed by its machine or task stopping reports (the scripted backend's answer). */
export const killed = (durationMillis: number): TaskResult.TaskResult =>
  taskResult(ExecBackend.killedByStop(durationMillis), durationMillis)

export const result = (outcome: Outcome): TaskResult.TaskResult => taskResult(outcome, outcome.durationMillis)
