/**
 * ecs-simulator benchmark (a program, not a test): `pnpm --filter @hangar/ecs-simulator bench`.
 * In process, on the virtual clock: D days of a cluster serving N five-minute tasks a day with managed scaling
 * (each task runs `work 300` as its essential container and stops when it exits). Prints simulated events per
 * wall second (target ≥ 200,000), peak RSS, and the bill. Events are counted by kind: task and instance state
 * changes, CapacityProviderReservation data points (one a minute per capacity provider) and the evaluations of
 * the two CloudWatch alarms (scale-out and scale-in) on each data point.
 */
import { parseArgs } from "node:util"
import { VirtualClock } from "@hangar/core"
import * as EcsSimulator from "../src/EcsSimulator.js"

const { values } = parseArgs({
  options: { days: { type: "string", default: "30" }, perDay: { type: "string", default: "100" } }
})
const days = Number(values.days)
const perDay = Number(values.perDay)

const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
const sim = await EcsSimulator.make({ clock, seed: 1 })
const model = sim.model
sim.provisionCluster("bench", [
  { name: "cp", group: { name: "asg", instanceType: "t3.large", min: 1, max: 4, desired: 1 } }
])
model.registerTaskDefinition("agent", [{ name: "agent", image: "agent" }], 512, 1024)

let state = 7
const random = () => {
  state = (state * 1103515245 + 12345) % 2 ** 31
  return state / 2 ** 31
}
const end = clock.now() + days * 86_400_000
let t = clock.now()
let tasks = 0
for (;;) {
  t += -Math.log(1 - random()) * (86_400_000 / perDay)
  if (t >= end) break
  tasks++
  clock.schedule(
    t,
    () =>
      void model.runTask({ cluster: "bench", taskDefinition: "agent", count: 1, command: ["work", "300"] })
  )
}
let peakRss = process.memoryUsage().rss
for (let day = clock.now(); day < end; day += 86_400_000)
  clock.schedule(day + 43_200_000, () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  })
const started = performance.now()
await clock.advanceTo(end)
const seconds = (performance.now() - started) / 1000
peakRss = Math.max(peakRss, process.memoryUsage().rss)
const bill = sim.billing()
const changes = model.events
const points = model.scalingEvaluations
const alarms = model.alarmEvaluations
const all = changes + points + alarms
const rate = (n: number) => Math.round(n / seconds).toLocaleString("en-US")
console.log(
  `${days} days, ${tasks} tasks of 5 minutes, managed scaling, seed 1: ${seconds.toFixed(2)} s wall`
)
console.log(
  `  events: ${changes} state changes + ${points} reservation data points + ${alarms} alarm evaluations = ${all}`
)
console.log(
  `  ${rate(all)} simulated events per wall second (target >= 200,000); state changes alone ${rate(changes)}/s`
)
console.log(
  `  peak RSS ${(peakRss / 1e6).toFixed(0)} MB; ${bill.lines.length} instances billed $${(bill.totalMicroUsd / 1e6).toFixed(2)} (${bill.instanceHours.toFixed(0)} instance-hours)`
)
await sim.close()
