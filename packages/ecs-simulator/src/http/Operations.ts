/**
 * The awsJson1_1 operations, by resource: each handler validates its input with Schema (a bad field is an
 * InvalidParameterException naming it, see `OperationInput`), calls the model, where the rules live, and
 * serialises (`WireShapes`, timestamps in epoch seconds).
 */
import type { EcsModel } from "../model/EcsModel.js"
import type { Operation } from "./AwsJson.js"
import { registerCapacityProviderOperations } from "./CapacityProviderOperations.js"
import { registerClusterOperations } from "./ClusterOperations.js"
import { registerContainerInstanceOperations } from "./ContainerInstanceOperations.js"
import { type ExecSessions, registerExecOperations } from "./ExecOperations.js"
import { registerTagOperations } from "./TagOperations.js"
import { registerTaskDefinitionOperations } from "./TaskDefinitionOperations.js"
import { registerTaskOperations } from "./TaskOperations.js"

export type { ExecSessions } from "./ExecOperations.js"

/** The operations by name, in a `Map` (so no name an object inherits, `__proto__` or `toString`, is one). */
export const operations = (model: EcsModel, exec: ExecSessions): ReadonlyMap<string, Operation> => {
  const operations = new Map<string, Operation>()
  registerClusterOperations(operations, model)
  registerTaskDefinitionOperations(operations, model)
  registerCapacityProviderOperations(operations, model)
  registerTaskOperations(operations, model)
  registerContainerInstanceOperations(operations, model)
  registerExecOperations(operations, model, exec)
  registerTagOperations(operations, model)
  return operations
}
