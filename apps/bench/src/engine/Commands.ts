/**
 * What a task's command does on a simulated machine, as the simulators' scripted exec backend defines it (core's
 * `ExecBackend.defaultRules`: `work SECONDS` runs that long and prints a summary). The engine runs the command
 * on the clock with no Promise in between, so it reads the rule instead of calling the backend.
 */
import { ExecBackend, TaskResult } from "@hangar/core"

export interface Outcome {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
  readonly durationMillis: number
}

export const outcomeOf = (command: ReadonlyArray<string>): Outcome => {
  const [program = "", ...args] = command
  const rule = ExecBackend.defaultRules[program]
  if (rule === undefined)
    return { stdout: "", stderr: `${program}: command not found\n`, exitCode: 127, durationMillis: 1 }
  const effect = rule(args)
  return {
    stdout: effect.stdout ?? "",
    stderr: effect.stderr ?? "",
    exitCode: effect.exitCode ?? 0,
    durationMillis: effect.durationMillis ?? 0
  }
}

/** What a command killed by its machine or task stopping reports (as the scripted backend reports it). */
export const killed = (durationMillis: number): TaskResult.TaskResult =>
  new TaskResult.TaskResult({
    exitCode: 137,
    stdout: "",
    stderr: "killed: the machine stopped\n",
    durationMs: durationMillis
  })

export const result = (outcome: Outcome): TaskResult.TaskResult =>
  new TaskResult.TaskResult({
    exitCode: outcome.exitCode,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    durationMs: outcome.durationMillis
  })
