/** The outcome of one command run in a session. */
import { Schema } from "effect"

export class TaskResult extends Schema.Class<TaskResult>("TaskResult")({
  exitCode: Schema.Int,
  stdout: Schema.String,
  stderr: Schema.String,
  durationMs: Schema.NonNegative.pipe(Schema.finite())
}) {
  get success(): boolean {
    return this.exitCode === 0
  }
}
