/**
 * The cost-aware policy routes to the local provider by the cost model it declares, and away from it when the
 * box is priced above the alternative, through the real Router: no change to core or the router was needed.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ProviderRegistry } from "@hangar/core"
import { Conformance, FakeProvider } from "@hangar/core/testing"
import { IdlePolicies, Router, RoutingPolicies, SessionStore } from "@hangar/router"
import { Context, Effect, Layer } from "effect"
import { afterAll } from "vitest"
import * as LocalProvider from "../src/LocalProvider.js"

const root = mkdtempSync(join(tmpdir(), "hangar-local-routing-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Dispatches one task through a Router over a fake cloud provider (10 µ$/s) and a local box at `dollarsPerHour`. */
const dispatchWith = (dollarsPerHour: number) =>
  Effect.gen(function* () {
    const cloud = yield* FakeProvider.make({ id: "cloud", regions: ["iad"], runningMicroUsdPerSecond: 10 })
    const local = yield* LocalProvider.make({ root, regions: ["iad"], cost: { dollarsPerHour } })
    const context = yield* Layer.build(
      Router.layer({ instanceId: "local-routing", reconcile: false }).pipe(
        Layer.provide(
          Layer.mergeAll(
            ProviderRegistry.layerProviders([cloud.provider, local]),
            RoutingPolicies.costAware({ startLatencyTargetSeconds: 30 }),
            IdlePolicies.breakEven(),
            SessionStore.layerMemory
          )
        )
      )
    )
    const router = Context.get(context, Router.Router)
    return yield* Conformance.testClockTime.drive(
      router.dispatch({
        taskId: `build-${dollarsPerHour}`,
        repository: "acme/web",
        region: "iad",
        command: ["echo", "built"],
        expectedDurationSeconds: 600
      })
    )
  })

describe("cost-aware routing with the local provider", () => {
  it.scoped("a free box is the cheapest: the task runs locally", () =>
    Effect.gen(function* () {
      const result = yield* dispatchWith(0)
      assert.strictEqual(result.provider, "local")
      assert.strictEqual(result.result.stdout, "built\n")
      const local = result.decision.estimates.find((e) => e.provider === "local")
      assert.strictEqual(local?.costMicroUsd, 0)
    })
  )

  it.scoped("a box dearer than the cloud loses: the task goes to the cloud", () =>
    Effect.gen(function* () {
      const result = yield* dispatchWith(100)
      assert.strictEqual(result.provider, "cloud")
      const local = result.decision.estimates.find((e) => e.provider === "local")
      const cloud = result.decision.estimates.find((e) => e.provider === "cloud")
      assert.isAbove(local?.costMicroUsd ?? 0, cloud?.costMicroUsd ?? Number.POSITIVE_INFINITY)
    })
  )
})
