import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { VirtualClock } from "@hangar/core"
import { PricingFixtures } from "@hangar/core/testing"
import { ConfigProvider, Effect, Layer } from "effect"
import * as EcsProvider from "../src/EcsProvider.js"
import { startSimulator } from "./Setup.js"

const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"

const fromMap = (entries: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

describe("configuration", () => {
  it.effect(
    "config reads the cluster, strategy, awsvpc, image, task role and workspace from the environment",
    () =>
      Effect.gen(function* () {
        const options = yield* Effect.provide(
          EcsProvider.config,
          fromMap({
            HANGAR_ECS_CLUSTER: "prod",
            HANGAR_ECS_CAPACITY_PROVIDER: "cp",
            HANGAR_ECS_GPU_CAPACITY_PROVIDER: "gpu",
            HANGAR_ECS_SUBNETS: "subnet-1, subnet-2",
            HANGAR_ECS_SECURITY_GROUPS: "sg-1",
            HANGAR_ECS_IMAGE: "ghcr.io/acme/agent:1",
            HANGAR_ECS_TASK_ROLE_ARN: "arn:aws:iam::1:role/agent",
            HANGAR_ECS_EFS_FILE_SYSTEM_ID: "fs-123",
            AWS_REGION: "eu-west-1",
            AWS_ENDPOINT_URL_ECS: "http://127.0.0.1:4281"
          })
        )
        assert.deepStrictEqual(options, {
          cluster: "prod",
          awsRegion: "eu-west-1",
          capacityProviderStrategy: [{ capacityProvider: "cp" }],
          gpuCapacityProvider: "gpu",
          endpoint: "http://127.0.0.1:4281",
          image: "ghcr.io/acme/agent:1",
          taskRoleArn: "arn:aws:iam::1:role/agent",
          subnets: ["subnet-1", "subnet-2"],
          securityGroups: ["sg-1"],
          workspace: { kind: "efs", fileSystemId: "fs-123" }
        })
        const minimal = yield* Effect.provide(EcsProvider.config, fromMap({ HANGAR_ECS_CLUSTER: "c" }))
        assert.deepStrictEqual(minimal, { cluster: "c", awsRegion: "us-east-1", workspace: { kind: "ebs" } })
        const missing = yield* Effect.flip(Effect.provide(EcsProvider.config, fromMap({})))
        assert.include(String(missing), "HANGAR_ECS_CLUSTER")
      })
  )

  it.effect(
    "HANGAR_ECS_PRICING_FILE: a region's catalog is read and validated; a bad one or another region's names the field",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "provider-ecs-pricing-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const file = join(dir, "eu-west-2.json")
        writeFileSync(file, JSON.stringify(PricingFixtures.ec2EuWest2))
        const read = (env: Record<string, string>) =>
          Effect.provide(EcsProvider.config, fromMap({ HANGAR_ECS_CLUSTER: "c", ...env }))
        const options = yield* read({ AWS_REGION: "eu-west-2", HANGAR_ECS_PRICING_FILE: file })
        assert.deepStrictEqual(options.pricing, PricingFixtures.ec2EuWest2)
        const elsewhere = yield* Effect.flip(read({ HANGAR_ECS_PRICING_FILE: file }))
        assert.include(String(elsewhere), "HANGAR_ECS_PRICING_FILE")
        assert.include(
          String(elsewhere),
          "the catalog's prices are for eu-west-2, but AWS_REGION is us-east-1"
        )
        const missing = yield* Effect.flip(read({ HANGAR_ECS_PRICING_FILE: join(dir, "none.json") }))
        assert.include(String(missing), "cannot read it (ENOENT)")
        const broken = JSON.parse(JSON.stringify(PricingFixtures.ec2EuWest2))
        delete broken.prices[0].source
        broken.prices[1].asOf = "2026-13-01"
        broken.prices[2].usd = "-1"
        writeFileSync(file, JSON.stringify(broken))
        const invalid = String(
          yield* Effect.flip(read({ AWS_REGION: "eu-west-2", HANGAR_ECS_PRICING_FILE: file }))
        )
        for (const path of ["prices.0.source", "prices.1.asOf", "prices.2.usd"]) assert.include(invalid, path)
      }).pipe(Effect.scoped)
  )

  describe("layerConfig against the simulator's port", () => {
    const saved = { ...process.env }
    beforeAll(() => {
      // the SDK's standard chain reads these; the provider never sees them
      process.env.AWS_ACCESS_KEY_ID = "AKIDENV"
      process.env.AWS_SECRET_ACCESS_KEY = secret
    })
    afterAll(() => {
      process.env = saved
    })

    it.effect("reaches the endpoint in AWS_ENDPOINT_URL_ECS with credentials from the SDK chain", () =>
      Effect.gen(function* () {
        const { url } = yield* Effect.promise(() => startSimulator())
        const ecs = yield* Effect.provide(
          EcsProvider.EcsProvider,
          EcsProvider.layerConfig.pipe(
            Layer.provide(fromMap({ HANGAR_ECS_CLUSTER: "hangar", AWS_ENDPOINT_URL_ECS: url }))
          )
        )
        assert.deepStrictEqual(yield* ecs.list(), [])
        const elsewhere = yield* Effect.provide(
          EcsProvider.EcsProvider,
          EcsProvider.layerConfig.pipe(
            Layer.provide(fromMap({ HANGAR_ECS_CLUSTER: "nope", AWS_ENDPOINT_URL_ECS: url }))
          )
        )
        const error = yield* Effect.flip(elsewhere.list())
        assert.strictEqual(error._tag, "InvalidRequest")
        assert.include(error.message, "nope")
        assert.notInclude(error.message, secret)
      })
    )
  })
})

describe("what the provider sends", () => {
  it.effect(
    "awsvpc, EBS workspace, environment, task role; one task definition per size; no secret on the wire",
    () =>
      Effect.gen(function* () {
        const { provider, requests, drive } = yield* Effect.promise(() => startSimulator())
        const ecs = yield* Effect.provide(
          EcsProvider.EcsProvider,
          provider("cp", {
            credentials: { accessKeyId: "AKIDSHAPE", secretAccessKey: secret },
            subnets: ["subnet-1"],
            securityGroups: ["sg-1"],
            taskRoleArn: "arn:aws:iam::1:role/agent",
            image: "ghcr.io/acme/agent:1",
            workspace: { kind: "ebs", roleArn: "arn:aws:iam::1:role/ecs-infrastructure" }
          })
        )
        yield* drive(ecs.create({ taskId: "t1", repository: "acme/web", branch: "fix", size: "standard" }))
        yield* drive(ecs.create({ taskId: "t2", repository: "acme/api", size: "standard" }))
        const registered = requests.filter((r) => r.operation === "RegisterTaskDefinition")
        assert.strictEqual(registered.length, 1, "registered once, then remembered")
        assert.strictEqual(
          requests.filter((r) => r.operation === "DescribeTaskDefinition").length,
          1,
          "looked up before registering, and not again for the second task"
        )
        const definition = registered[0]!.body as {
          networkMode: string
          taskRoleArn: string
          cpu: string
          memory: string
          containerDefinitions: Array<{ image: string; mountPoints: Array<{ containerPath: string }> }>
          volumes: Array<{ name: string; configuredAtLaunch?: boolean }>
        }
        assert.strictEqual(definition.networkMode, "awsvpc")
        assert.strictEqual(definition.taskRoleArn, "arn:aws:iam::1:role/agent")
        assert.deepStrictEqual([definition.cpu, definition.memory], ["1024", "1024"])
        assert.strictEqual(definition.containerDefinitions[0]!.image, "ghcr.io/acme/agent:1")
        assert.deepStrictEqual(definition.volumes, [{ name: "workspace", configuredAtLaunch: true }])
        const run = requests.find((r) => r.operation === "RunTask")!.body as {
          clientToken: string
          enableExecuteCommand: boolean
          networkConfiguration: {
            awsvpcConfiguration: { subnets: Array<string>; securityGroups: Array<string> }
          }
          volumeConfigurations: Array<{
            name: string
            managedEBSVolume: {
              roleArn: string
              tagSpecifications: Array<{ tags: Array<{ key: string; value: string }> }>
              terminationPolicy: { deleteOnTermination: boolean }
            }
          }>
          overrides: { containerOverrides: Array<{ environment: Array<{ name: string; value: string }> }> }
        }
        assert.deepStrictEqual(run.networkConfiguration.awsvpcConfiguration, {
          subnets: ["subnet-1"],
          securityGroups: ["sg-1"]
        })
        assert.isTrue(run.enableExecuteCommand)
        assert.isAtMost(run.clientToken.length, 64)
        const volume = run.volumeConfigurations[0]!
        assert.strictEqual(volume.name, "workspace")
        assert.strictEqual(volume.managedEBSVolume.roleArn, "arn:aws:iam::1:role/ecs-infrastructure")
        assert.deepStrictEqual(volume.managedEBSVolume.tagSpecifications[0]!.tags, [
          { key: "hangar:repository", value: "acme/web" }
        ])
        // A scratch volume: deleted with its task, so nothing is left behind.
        assert.isTrue(volume.managedEBSVolume.terminationPolicy.deleteOnTermination)
        const env = Object.fromEntries(
          run.overrides.containerOverrides[0]!.environment.map((e) => [e.name, e.value] as const)
        )
        assert.deepInclude(env, {
          REPOSITORY: "acme/web",
          BRANCH: "fix",
          TASK_ID: "t1",
          WORKSPACE: "/workspace"
        })
        const wire = JSON.stringify(requests)
        assert.include(wire, "AKIDSHAPE", "the requests were signed with these credentials")
        assert.notInclude(wire, secret)
        assert.notInclude(wire, secret.slice(0, 12))
      })
  )

  it.effect(
    "EFS workspaces: the repository's access point in its task definition, mounted at WORKSPACE",
    () =>
      Effect.gen(function* () {
        const { clock, provider, requests, sim } = yield* Effect.promise(() => startSimulator())
        sim.provisionFileSystem("fs-0123456789abcdef0")
        const ecs = yield* Effect.provide(
          EcsProvider.EcsProvider,
          provider("cp", {
            workspace: { kind: "efs", fileSystemId: "fs-0123456789abcdef0" },
            familyPrefix: "efs"
          })
        )
        yield* VirtualClock.drive(clock, ecs.create({ taskId: "e1", repository: "acme/web" }))
        const definition = requests.find((r) => r.operation === "RegisterTaskDefinition")!.body as {
          family: string
          networkMode: string
          volumes: Array<unknown>
          containerDefinitions: Array<{ mountPoints: Array<{ containerPath: string }> }>
        }
        const [accessPoint] = sim.model.workspaces.describe("fs-0123456789abcdef0")
        assert.strictEqual(accessPoint!.rootDirectory, "/workspaces/acme/web")
        assert.isTrue(definition.family.endsWith(`-${accessPoint!.id}`))
        assert.match(definition.family, /^efs-standard-[0-9a-f]{8}-fsap-/)
        assert.strictEqual(definition.networkMode, "bridge")
        assert.deepStrictEqual(definition.volumes, [
          {
            name: "workspace",
            efsVolumeConfiguration: {
              fileSystemId: "fs-0123456789abcdef0",
              transitEncryption: "ENABLED",
              authorizationConfig: { accessPointId: accessPoint!.id, iam: "DISABLED" }
            }
          }
        ])
        assert.strictEqual(definition.containerDefinitions[0]!.mountPoints[0]!.containerPath, "/workspace")
        const run = requests.find((r) => r.operation === "RunTask")!.body as {
          volumeConfigurations?: unknown
          networkConfiguration?: unknown
          overrides: { containerOverrides: Array<{ environment: Array<{ name: string; value: string }> }> }
        }
        assert.isUndefined(run.volumeConfigurations)
        assert.isUndefined(run.networkConfiguration)
        assert.deepInclude(run.overrides.containerOverrides[0]!.environment, {
          name: "WORKSPACE",
          value: "/workspace"
        })
      })
  )
})
