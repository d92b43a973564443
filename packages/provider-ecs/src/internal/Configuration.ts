/** Configuration from the environment: what `EcsProvider.config` reads, validated field by field. */
import { readFileSync } from "node:fs"
import { Pricing, PricingCatalog } from "@hangar/core"
import { Config, ConfigError, Either } from "effect"
import type { Options } from "../EcsProvider.js"

const list = (name: string) =>
  Config.option(
    Config.string(name).pipe(
      Config.map((value) =>
        value
          .split(",")
          .map((part) => part.trim())
          .filter((part) => part !== "")
      )
    )
  )
const optional = (name: string) => Config.option(Config.string(name))

/** HANGAR_ECS_PRICING_FILE, read and validated: a bad file or one for another region is a ConfigError naming it. */
const readPricingFile = (
  file: string,
  awsRegion: string
): Either.Either<PricingCatalog.PricingCatalog, ConfigError.ConfigError> => {
  try {
    const pricing = PricingCatalog.parseJson(readFileSync(file, "utf8"), `HANGAR_ECS_PRICING_FILE ${file}`)
    Pricing.ec2Pricing(awsRegion, pricing, "AWS_REGION")
    return Either.right(pricing)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const message =
      code === undefined
        ? (error as Error).message
        : `HANGAR_ECS_PRICING_FILE ${file}: cannot read it (${code})`
    return Either.left(
      ConfigError.InvalidData(
        ["HANGAR_ECS_PRICING_FILE"],
        message.startsWith("HANGAR_ECS_PRICING_FILE")
          ? message
          : `HANGAR_ECS_PRICING_FILE ${file}: ${message}`
      )
    )
  }
}

/** The options `layerConfig` reads from the environment (credentials are left to the SDK's chain). */
export const config: Config.Config<Options> = Config.mapOrFail(
  Config.all({
    cluster: Config.string("HANGAR_ECS_CLUSTER"),
    capacityProvider: optional("HANGAR_ECS_CAPACITY_PROVIDER"),
    gpuCapacityProvider: optional("HANGAR_ECS_GPU_CAPACITY_PROVIDER"),
    awsRegion: Config.string("AWS_REGION").pipe(Config.withDefault("us-east-1")),
    endpoint: optional("AWS_ENDPOINT_URL_ECS"),
    regions: list("HANGAR_ECS_REGIONS"),
    image: optional("HANGAR_ECS_IMAGE"),
    taskRoleArn: optional("HANGAR_ECS_TASK_ROLE_ARN"),
    subnets: list("HANGAR_ECS_SUBNETS"),
    securityGroups: list("HANGAR_ECS_SECURITY_GROUPS"),
    efsFileSystemId: optional("HANGAR_ECS_EFS_FILE_SYSTEM_ID"),
    ebsRoleArn: optional("HANGAR_ECS_EBS_ROLE_ARN"),
    pricingFile: optional("HANGAR_ECS_PRICING_FILE")
  }),
  (c): Either.Either<Options, ConfigError.ConfigError> => {
    const some = <A, K extends string>(key: K, o: { _tag: "Some"; value: A } | { _tag: "None" }) =>
      (o._tag === "Some" ? { [key]: o.value } : {}) as { [P in K]?: A }
    const pricing =
      c.pricingFile._tag === "Some" ? readPricingFile(c.pricingFile.value, c.awsRegion) : undefined
    if (pricing !== undefined && Either.isLeft(pricing)) return Either.left(pricing.left)
    return Either.right({
      cluster: c.cluster,
      awsRegion: c.awsRegion,
      ...(c.capacityProvider._tag === "Some"
        ? { capacityProviderStrategy: [{ capacityProvider: c.capacityProvider.value }] }
        : {}),
      ...some("gpuCapacityProvider", c.gpuCapacityProvider),
      ...some("endpoint", c.endpoint),
      ...some("regions", c.regions),
      ...some("image", c.image),
      ...some("taskRoleArn", c.taskRoleArn),
      ...some("subnets", c.subnets),
      ...some("securityGroups", c.securityGroups),
      workspace:
        c.efsFileSystemId._tag === "Some"
          ? { kind: "efs", fileSystemId: c.efsFileSystemId.value }
          : { kind: "ebs", ...some("roleArn", c.ebsRoleArn) },
      ...(pricing === undefined ? {} : { pricing: pricing.right })
    })
  }
)
