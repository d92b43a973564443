/** An ECS cluster: its capacity providers and default strategy. */
import type { Tag } from "./Tags.js"

export interface StrategyItem {
  readonly capacityProvider: string
  readonly weight?: number | undefined
  readonly base?: number | undefined
}

export interface Cluster {
  readonly name: string
  readonly arn: string
  capacityProviders: Array<string>
  defaultStrategy: Array<StrategyItem>
  status: "ACTIVE" | "INACTIVE"
  tags: Array<Tag>
}
