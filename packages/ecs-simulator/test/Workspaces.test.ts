import { assert, describe, it } from "@effect/vitest"
import { Money, Pricing, VirtualClock } from "@hangar/core"
import * as Billing from "../src/model/Billing.js"
import { EcsModel } from "../src/model/EcsModel.js"
import type * as Workspaces from "../src/model/Workspaces.js"

const fileSystemId = "fs-0123456789abcdef0"

const request = (repository: string): Workspaces.CreateAccessPoint => ({
  fileSystemId,
  clientToken: `token-${repository.replaceAll("/", "-")}`,
  rootDirectory: `/workspaces/${repository}`,
  tags: [{ key: "hangar:repository", value: repository }]
})

/** A cluster with one t3.large group (instances with a public IPv4) and the workspaces' file system. */
const world = () => {
  const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
  const model = new EcsModel({ clock, seed: 1, publicIpv4: true, workspaceGb: 5 })
  const group = model.createAutoScalingGroup({
    name: "g",
    instanceType: "t3.large",
    min: 1,
    max: 4,
    desired: 1
  })
  model.createCapacityProvider("cp", group.arn, 100, true, true)
  model.createCluster("c")
  model.putClusterCapacityProviders("c", ["cp"], [{ capacityProvider: "cp" }])
  model.workspaces.provisionFileSystem(fileSystemId)
  return { clock, model }
}

describe("repository workspaces (EFS access points) in the model", () => {
  it("bills each workspace's stored GB at the region's EFS price, and instances' public IPv4, in the ledger", async () => {
    const { clock, model } = world()
    const first = model.workspaces.create(request("acme/one"), clock.now())
    // The same client token answers the same access point: asking again makes nothing new.
    assert.strictEqual(model.workspaces.create(request("acme/one"), clock.now()), first)
    await clock.advanceTo(clock.now() + 3_600_000)
    const bill = Billing.compute(model)
    assert.deepStrictEqual(
      bill.workspaces.map((w) => [w.repository, w.storedGb]),
      [["acme/one", 5]]
    )
    assert.strictEqual(
      bill.components.workspaceStorage,
      Money.cost(Pricing.efsRate(5, model.pricing.catalog), 3_600_000)
    )
    assert.strictEqual(bill.components.publicIpv4, Money.cost(Pricing.ipv4Rate(), 3_600_000))
    assert.strictEqual(
      bill.totalMicroUsd,
      bill.components.compute +
        bill.components.rootDisk +
        bill.components.publicIpv4 +
        bill.components.workspaceStorage
    )
    assert.includeMembers(
      bill.pricing.prices.map((p) => p.key),
      ["ipv4:public", "efs:standard"]
    )
    // A deleted workspace stops being billed.
    model.workspaces.delete(first.id, clock.now())
    const atDeletion = Billing.compute(model).components.workspaceStorage
    await clock.advanceTo(clock.now() + 3_600_000)
    assert.strictEqual(Billing.compute(model).components.workspaceStorage, atDeletion)
  })

  it("refuses a bad CreateAccessPoint naming the field and changes nothing", () => {
    const { clock, model } = world()
    assert.throws(
      () => model.workspaces.create({ ...request("a/b"), fileSystemId: "fs-x" }, clock.now()),
      /FileSystemId: expected fs-/
    )
    assert.throws(
      () => model.workspaces.create({ ...request("a/b"), fileSystemId: "fs-00000000000000099" }, clock.now()),
      /does not exist/
    )
    assert.throws(
      () => model.workspaces.create({ ...request("a/b"), rootDirectory: "relative" }, clock.now()),
      /RootDirectory\.Path/
    )
    model.workspaces.create(request("a/b"), clock.now())
    assert.throws(
      () => model.workspaces.create({ ...request("a/b"), rootDirectory: "/elsewhere" }, clock.now()),
      /another RootDirectory/
    )
    assert.throws(() => model.workspaces.delete("fsap-missing", clock.now()), /does not exist/)
    assert.strictEqual(model.workspaces.accessPoints.size, 1)
  })
})

describe("repository workspaces over EFS's wire", () => {
  it("CreateAccessPoint is validated, idempotent by client token, and survives a restart without close (kill -9)", async () => {
    const { mkdtempSync } = await import("node:fs")
    const { tmpdir } = await import("node:os")
    const { join } = await import("node:path")
    const { EcsSimulator } = await import("../src/index.js")
    const dataDir = mkdtempSync(join(tmpdir(), "ecs-sim-efs-"))
    const clock = new VirtualClock.VirtualClock(Date.UTC(2026, 0, 1))
    const first = await EcsSimulator.make({ clock, seed: 1, dataDir })
    first.provisionFileSystem(fileSystemId)
    const post = (payload: unknown) =>
      first.server.inject({
        method: "POST",
        url: "/2015-02-01/access-points",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify(payload)
      })
    const bad = await post({ ClientToken: "t", FileSystemId: fileSystemId, Tags: [{ Key: "" }] })
    assert.strictEqual(bad.statusCode, 400)
    assert.strictEqual(bad.headers["x-amzn-errortype"], "BadRequest")
    assert.match(bad.json().Message, /Tags/)
    const body = {
      ClientToken: "t-1",
      FileSystemId: fileSystemId,
      RootDirectory: { Path: "/workspaces/acme/api" },
      Tags: [{ Key: "hangar:repository", Value: "acme/api" }]
    }
    const made = await post(body)
    assert.strictEqual(made.statusCode, 200)
    assert.strictEqual((await post(body)).json().AccessPointId, made.json().AccessPointId)
    const missing = await post({ ...body, ClientToken: "t-2", FileSystemId: "fs-00000000000000001" })
    assert.strictEqual(missing.statusCode, 404)
    // A second simulator on the same data dir, the first never closed: the acknowledged access point is there.
    const second = await EcsSimulator.make({ clock, seed: 1, dataDir })
    const listed = await second.server.inject({
      method: "GET",
      url: `/2015-02-01/access-points?FileSystemId=${fileSystemId}`
    })
    assert.deepStrictEqual(
      listed
        .json()
        .AccessPoints.map((a: { AccessPointId: string; RootDirectory: { Path: string } }) => [
          a.AccessPointId,
          a.RootDirectory.Path
        ]),
      [[made.json().AccessPointId, "/workspaces/acme/api"]]
    )
    const removed = await second.server.inject({
      method: "DELETE",
      url: `/2015-02-01/access-points/${made.json().AccessPointId}`
    })
    assert.strictEqual(removed.statusCode, 204)
    const again = await second.server.inject({
      method: "DELETE",
      url: `/2015-02-01/access-points/${made.json().AccessPointId}`
    })
    assert.strictEqual(again.statusCode, 404)
    await second.close()
    await first.close()
  })
})
