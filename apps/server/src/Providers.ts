/**
 * Everything hangar-serve composes from its configuration, in one module: the providers (through the plugins'
 * own `layer` functions), the routing and idle policies. The same binary runs against the simulators or the
 * clouds: Fly from FLY_API_TOKEN and FLY_FLAPS_BASE_URL (a fly-sim URL, or api.machines.dev by default), ECS from
 * the plugin's own `EcsProvider.config` (HANGAR_ECS_*, AWS_REGION, AWS_ENDPOINT_URL_ECS; credentials from the AWS
 * SDK's chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY …). The file's `[providers.*]` values fill in what the
 * environment leaves out; the environment wins.
 */
import { type IdlePolicy, ProviderRegistry, type RoutingPolicy } from "@hangar/core"
import { EcsProvider } from "@hangar/provider-ecs"
import { FlyProvider } from "@hangar/provider-fly"
import { IdlePolicies, RoutingPolicies } from "@hangar/router"
import { Config, ConfigProvider, Effect, Layer } from "effect"
import { ConfigError, type ConfigFile } from "./ServerConfig.js"

// ---- configuration sources

/** The file's provider values under the environment names the plugins read. */
const fileValues = (file: ConfigFile): Map<string, string> => {
  const values = new Map<string, string>()
  const set = (name: string, value: string | ReadonlyArray<string> | undefined) => {
    if (value !== undefined) values.set(name, typeof value === "string" ? value : value.join(","))
  }
  const { ecs, fly } = file.providers
  set("FLY_REGIONS", fly.regions)
  set("HANGAR_FLY_APP_PREFIX", fly.appPrefix)
  set("HANGAR_ECS_CLUSTER", ecs.cluster)
  set("HANGAR_ECS_CAPACITY_PROVIDER", ecs.capacityProvider)
  set("HANGAR_ECS_GPU_CAPACITY_PROVIDER", ecs.gpuCapacityProvider)
  set("HANGAR_ECS_REGIONS", ecs.regions)
  return values
}

/** The environment first, then the file. */
const sources = (file: ConfigFile): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromEnv().pipe(
    ConfigProvider.orElse(() => ConfigProvider.fromMap(fileValues(file), { seqDelim: "," }))
  )

const configError = (provider: string) => (error: { toString(): string }) =>
  new ConfigError({ message: `providers.${provider}: ${error.toString().replace(/\s+/g, " ")}` })

// ---- providers

const flyOptions = (file: ConfigFile) =>
  Config.all({
    token: Config.redacted("FLY_API_TOKEN"),
    baseUrl: Config.string("FLY_FLAPS_BASE_URL").pipe(Config.withDefault("https://api.machines.dev")),
    regions: Config.array(Config.string(), "FLY_REGIONS").pipe(Config.withDefault(["iad"])),
    appPrefix: Config.string("HANGAR_FLY_APP_PREFIX").pipe(Config.withDefault("hangar"))
  }).pipe(
    Effect.withConfigProvider(sources(file)),
    Effect.mapError(configError("fly")),
    Effect.map((options): FlyProvider.Options & { readonly flyToml?: undefined } => ({
      ...options,
      autostop: file.providers.fly.autostop ?? (file.idle.policy === "platform" ? "suspend" : "off")
    }))
  )

const ecsOptions = (file: ConfigFile) =>
  EcsProvider.config.pipe(
    Effect.withConfigProvider(sources(file)),
    Effect.mapError(configError("ecs")),
    Effect.map(
      (options): EcsProvider.Options => ({
        ...options,
        ...(file.providers.ecs.familyPrefix === undefined
          ? {}
          : { familyPrefix: file.providers.ecs.familyPrefix }),
        // Several instances on one Postgres start tasks on the same cluster.
        sharedCluster: file.store.kind === "postgres"
      })
    )
  )

/** The registry of the enabled providers, each built by its plugin's `layer`. */
export const registry = (
  file: ConfigFile
): Effect.Effect<Layer.Layer<ProviderRegistry.ProviderRegistry>, ConfigError> =>
  Effect.gen(function* () {
    const enabled = new Set(file.providers.enabled)
    const fly = enabled.has("fly") ? FlyProvider.layer(yield* flyOptions(file)) : undefined
    const ecs = enabled.has("ecs") ? EcsProvider.layer(yield* ecsOptions(file)) : undefined
    if (fly !== undefined && ecs !== undefined)
      return ProviderRegistry.layer(FlyProvider.FlyProvider, EcsProvider.EcsProvider).pipe(
        Layer.provide(Layer.merge(fly, ecs))
      )
    if (fly !== undefined) return ProviderRegistry.layer(FlyProvider.FlyProvider).pipe(Layer.provide(fly))
    if (ecs !== undefined) return ProviderRegistry.layer(EcsProvider.EcsProvider).pipe(Layer.provide(ecs))
    return yield* Effect.fail(new ConfigError({ message: "providers.enabled: name fly, ecs or both" }))
  })

// ---- policies

export const routing = (file: ConfigFile): Layer.Layer<RoutingPolicy.RoutingPolicy> => {
  const { defaultProvider, policy, quickStart, shortTaskSeconds, steady } = file.routing
  switch (policy) {
    case "preferred":
      return RoutingPolicies.preferred({ defaultProvider })
    case "primary-overflow":
      return RoutingPolicies.primaryOverflow({ primary: quickStart, overflow: steady })
    case "cost-aware":
      return RoutingPolicies.costAware()
    case "rules":
      return RoutingPolicies.rules({
        quickStart,
        steady,
        ...(shortTaskSeconds === undefined ? {} : { shortTaskSeconds })
      })
  }
}

export const idle = (file: ConfigFile): Layer.Layer<IdlePolicy.IdlePolicy> => {
  switch (file.idle.policy) {
    case "fixed-timeout":
      return IdlePolicies.fixedTimeout(file.idle.minutes)
    case "platform":
      return IdlePolicies.platform
    case "break-even":
      return IdlePolicies.breakEven()
  }
}
