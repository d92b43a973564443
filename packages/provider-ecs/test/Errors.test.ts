import { assert, describe, it } from "@effect/vitest"
import { ComputeError, VirtualClock } from "@hangar/core"
import { Effect } from "effect"
import * as EcsErrors from "../src/EcsErrors.js"
import * as EcsProvider from "../src/EcsProvider.js"
import { startSimulator, withCluster } from "./Setup.js"

describe("SDK errors from the simulator become core errors", () => {
  const cases: ReadonlyArray<{
    readonly name: string
    readonly fault: { readonly type: string; readonly status: number }
    readonly tag: ComputeError.ComputeError["_tag"]
    readonly reason: string
  }> = [
    {
      name: "throttling",
      fault: { type: "ThrottlingException", status: 400 },
      tag: "RateLimited",
      reason: "Throttled"
    },
    {
      name: "AccessDenied",
      fault: { type: "AccessDeniedException", status: 400 },
      tag: "Unauthorized",
      reason: "Forbidden"
    },
    {
      name: "an unknown access key",
      fault: { type: "UnrecognizedClientException", status: 400 },
      tag: "Unauthorized",
      reason: "InvalidCredentials"
    },
    {
      name: "500",
      fault: { type: "ServerException", status: 500 },
      tag: "ProviderUnavailable",
      reason: "ServerError"
    },
    {
      name: "503",
      fault: { type: "ServiceUnavailableException", status: 503 },
      tag: "ProviderUnavailable",
      reason: "ServerError"
    }
  ]
  for (const c of cases)
    it.effect(`${c.name} → ${c.tag} (${c.reason})`, () =>
      Effect.gen(function* () {
        const { clock, sim, provider } = yield* Effect.promise(() => startSimulator())
        const ecs = yield* Effect.provide(
          EcsProvider.EcsProvider,
          provider("cp", { retry: { maxRetries: 0 } })
        )
        sim.faults.add({ operation: "ListTasks", type: c.fault.type, status: c.fault.status, message: "no" })
        const error = yield* Effect.flip(VirtualClock.drive(clock, ecs.list()))
        assert.strictEqual(error._tag, c.tag)
        assert.strictEqual((error as { reason?: string }).reason, c.reason)
        assert.isTrue(ComputeError.isComputeError(error))
      })
    )

  it.effect("ClusterNotFound → InvalidRequest naming the cluster; retryable errors are retried", () =>
    Effect.gen(function* () {
      const { clock, sim, provider } = yield* Effect.promise(() => startSimulator())
      const missing = yield* Effect.provide(
        EcsProvider.EcsProvider,
        provider("cp", { cluster: "no-such-cluster" })
      )
      const error = yield* Effect.flip(VirtualClock.drive(clock, missing.list()))
      assert.strictEqual(error._tag, "InvalidRequest")
      assert.include(error.message, "no-such-cluster")
      const ecs = yield* Effect.provide(withCluster, provider("cp", { retry: { baseDelay: "1 second" } }))
      sim.faults.add({ operation: "ListTasks", kind: "throttle", times: 2 })
      sim.faults.add({
        operation: "DescribeContainerInstances",
        type: "ServerException",
        status: 500,
        times: 1
      })
      assert.deepStrictEqual(yield* VirtualClock.drive(clock, ecs.list()), [])
      assert.isAbove((yield* VirtualClock.drive(clock, ecs.clusterCost())).totalMicroUsd, 0)
      assert.strictEqual(
        sim.faults.list().reduce((n, rule) => n + rule.hits, 0),
        3
      )
    })
  )

  it("maps what never reached an HTTP answer to a retryable Transport error", () => {
    const reset = Object.assign(new Error("socket hang up"), {
      code: "ECONNRESET",
      $metadata: { attempts: 1 }
    })
    const mapped = EcsErrors.fromSdk("RunTask", "hangar")(reset)
    assert.strictEqual(mapped._tag, "ProviderUnavailable")
    assert.strictEqual((mapped as ComputeError.ProviderUnavailable).reason, "Transport")
    assert.isTrue(mapped.isRetryable)
    const weird = Object.assign(new Error("odd"), {
      name: "WeirdException",
      $fault: "client",
      $metadata: { httpStatusCode: 400 }
    })
    assert.isFalse(EcsErrors.fromSdk("RunTask", "hangar")(weird).isRetryable)
  })
})
