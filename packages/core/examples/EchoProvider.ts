/**
 * A provider plugin in under 80 lines: the SPI of a toy "echo" provider that runs commands in memory, turned into
 * a full `ComputeProvider` by core's `make` (spans, retries, error normalisation, capability checks and
 * idempotent creation come from core). Run it with `node packages/core/dist/examples/EchoProvider.js`.
 */
import { Clock, Context, Effect, Layer } from "effect"
import {
  Capabilities,
  ComputeError,
  ComputeProvider,
  CostModel,
  Money,
  ProviderRegistry,
  Session,
  TaskResult,
  type TaskSpec,
  Usage,
  VirtualClock
} from "../src/index.js"

export class EchoProvider extends Context.Tag("example/EchoProvider")<
  EchoProvider,
  ComputeProvider.ComputeProvider
>() {}

const pricePerSecond = Money.rate("0.0001", "second")

export const make = Effect.gen(function* () {
  const sessions = new Map<string, { session: Session.Session; startedAt: number }>()
  const find = (id: string) =>
    Effect.suspend(() => {
      const found = sessions.get(id)
      return found
        ? Effect.succeed(found)
        : Effect.fail(
            new ComputeError.SessionNotFound({
              module: "EchoProvider",
              method: "find",
              sessionId: id,
              reason: "Unknown"
            })
          )
    })
  const setStatus = (id: string, status: Session.SessionStatus) =>
    Effect.map(find(id), (entry) => {
      entry.session = new Session.Session({ ...entry.session, status })
      return entry.session
    })
  return yield* ComputeProvider.make({
    id: "echo" as TaskSpec.ProviderId,
    capabilities: new Capabilities.Capabilities({
      regions: ["iad" as never],
      sizes: ["dev"],
      unsupported: { gpu: "echo has no GPUs", suspend: "echo only stops" },
      startLatencySeconds: { cold: 0, warm: 0 }
    }),
    // Echo costs nothing: a flat model at zero, stopped (not suspended) when idle.
    costModel: CostModel.flat({
      runningMicroUsdPerSecond: 0,
      sleepingMicroUsdPerSecond: 0,
      startSeconds: 0,
      wakeSeconds: 0,
      sleepsBy: "stop"
    }),
    create: (task) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const session = new Session.Session({
          ...task,
          id: `echo-${task.taskId}`,
          provider: "echo" as TaskSpec.ProviderId,
          status: "running",
          metadata: {}
        })
        sessions.set(session.id, { session, startedAt: now })
        return session
      }),
    get: (id) => Effect.map(find(id), (entry) => entry.session),
    start: (id) => setStatus(id, "running"),
    stop: (id) => setStatus(id, "stopped"),
    destroy: (id) => Effect.sync(() => void sessions.delete(id)),
    exec: (_id, command) =>
      Effect.succeed(
        new TaskResult.TaskResult({
          exitCode: 0,
          stdout: `${command.join(" ")}\n`,
          stderr: "",
          durationMs: 0
        })
      ),
    list: () => Effect.succeed([...sessions.values()].map((entry) => entry.session)),
    usage: (id) =>
      Effect.gen(function* () {
        const entry = yield* find(id)
        const running = ((yield* Clock.currentTimeMillis) - entry.startedAt) / 1000
        return new Usage.Usage({
          sessionId: id,
          seconds: { ...Usage.zeroSeconds, running },
          costMicroUsd: Money.cost(pricePerSecond, Math.round(running * 1000))
        })
      })
  })
})

export const layer = Layer.effect(EchoProvider, make)

/** Compose the plugin into a registry, run a task, print its output and cost. */
const program = Effect.gen(function* () {
  const registry = yield* ProviderRegistry.ProviderRegistry
  const echo = yield* registry.get("echo")
  const session = yield* echo.create({ taskId: "readme-1", repository: "acme/webapp", size: "dev" })
  const result = yield* echo.exec(session.id, ["echo", "hello from", session.id])
  yield* Effect.sleep("90 seconds")
  const usage = yield* echo.usage(session.id)
  yield* Effect.log(
    `${result.stdout.trim()} (exit ${result.exitCode}); ${usage.seconds.running}s running cost ${Money.format(usage.costMicroUsd, 4)}`
  )
}).pipe(Effect.provide(ProviderRegistry.layer(EchoProvider).pipe(Layer.provide(layer))))

if (import.meta.url === `file://${process.argv[1]}`) {
  // Virtual time: the 90 seconds above pass instantly.
  const clock = new VirtualClock.VirtualClock()
  Effect.runPromise(VirtualClock.drive(clock, program)).catch((error) => {
    console.error(String(error))
    process.exitCode = 1
  })
}
