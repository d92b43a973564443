/**
 * What a side's bill is made of, from the simulators' ledgers: a list of {component, side, usd}. Fly's lines by
 * kind and machine state (a started machine pays its guest; a stopped or suspended one its root filesystem;
 * volumes and snapshots per GB), ECS's lines split into EC2 instance time and EBS root volumes. A component the
 * ledgers add later appears here by its line, with nothing else to change.
 */

export interface Component {
  readonly component: string
  readonly side: "fly" | "ecs"
  readonly usd: number
}

/** A line of the Fly simulator's bill (`Billing.LineItem`), as far as the breakdown reads it. */
export interface FlyLine {
  readonly kind: string
  readonly state: string
  readonly costMicroUsd: number
}

/** A line of the ECS simulator's bill (`Billing.Line`), as far as the breakdown reads it. */
export interface EcsLine {
  readonly computeMicroUsd: number
  readonly ebsMicroUsd: number
}

const flyComponent = (line: FlyLine): string =>
  line.kind === "machine"
    ? `machines ${line.state}`
    : line.kind === "volume"
      ? "volumes"
      : line.kind === "snapshot"
        ? "snapshots"
        : line.kind

const sum = (
  side: Component["side"],
  entries: Iterable<readonly [string, number]>
): ReadonlyArray<Component> => {
  const totals = new Map<string, number>()
  for (const [component, microUsd] of entries) totals.set(component, (totals.get(component) ?? 0) + microUsd)
  return [...totals]
    .filter(([, microUsd]) => microUsd !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([component, microUsd]) => ({ component, side, usd: microUsd / 1e6 }))
}

export const fromFlyBill = (bill: { readonly lines: ReadonlyArray<FlyLine> }): ReadonlyArray<Component> =>
  sum(
    "fly",
    bill.lines.map((line) => [flyComponent(line), line.costMicroUsd] as const)
  )

export const fromEcsBill = (bill: { readonly lines: ReadonlyArray<EcsLine> }): ReadonlyArray<Component> =>
  sum(
    "ecs",
    bill.lines.flatMap((line) => [
      ["EC2 instances", line.computeMicroUsd] as const,
      ["EBS root volumes", line.ebsMicroUsd] as const
    ])
  )

/** Several breakdowns of one side (ECS's regions) as one. */
export const combine = (parts: ReadonlyArray<ReadonlyArray<Component>>): ReadonlyArray<Component> => {
  const side = parts.find((p) => p.length > 0)?.[0]?.side ?? "ecs"
  return sum(
    side,
    parts.flatMap((part) => part.map((c) => [c.component, Math.round(c.usd * 1e6)] as const))
  )
}
