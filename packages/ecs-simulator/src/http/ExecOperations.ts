/** ECS Exec: ExecuteCommand, which opens a session on the data channel (`DataChannel`). */
import { Schema } from "effect"
import type { EcsModel, Task } from "../model/EcsModel.js"
import type { Operation } from "./AwsJson.js"
import { ClusterRef, input } from "./OperationInput.js"

export interface ExecSessions {
  readonly open: (
    task: Task,
    command: ReadonlyArray<string>
  ) => { sessionId: string; streamUrl: string; tokenValue: string }
}

const ExecuteCommandInput = Schema.Struct({
  cluster: ClusterRef,
  task: Schema.String,
  container: Schema.optional(Schema.String),
  command: Schema.NonEmptyString,
  interactive: Schema.Boolean
})

/** Registers ExecuteCommand into `operations`; whether a task may be exec'd into is the model's rule. */
export const registerExecOperations = (
  operations: Map<string, Operation>,
  model: EcsModel,
  exec: ExecSessions
): void => {
  operations.set("ExecuteCommand", (body) => {
    const i = input(() => ExecuteCommandInput, body, "ExecuteCommand")
    const { task, container } = model.executeCommandTarget({
      cluster: i.cluster,
      task: i.task,
      container: i.container,
      interactive: i.interactive
    })
    return {
      clusterArn: model.clusters.get(task.cluster)?.arn,
      taskArn: task.arn,
      containerName: container.name,
      containerArn: `${task.arn.replace(":task/", ":container/")}/${container.name}`,
      interactive: i.interactive,
      session: exec.open(
        task,
        i.command.split(" ").filter((s) => s.length > 0)
      )
    }
  })
}
