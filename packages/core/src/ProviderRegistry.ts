/**
 * The providers composed into this program, by id. Each plugin provides its own Tag (`FlyProvider`,
 * `EcsProvider`); `layer(...tags)` gathers them, so leaving out a plugin's Layer is a type error, and a lookup
 * of an unknown id lists the ids that are known.
 */
import { Context, Effect, Layer } from "effect"
import { InvalidRequest } from "./ComputeError.js"
import type { ComputeProvider } from "./ComputeProvider.js"

export interface Registry {
  readonly ids: ReadonlyArray<string>
  readonly all: ReadonlyArray<ComputeProvider>
  readonly get: (id: string) => Effect.Effect<ComputeProvider, InvalidRequest>
}

export class ProviderRegistry extends Context.Tag("@hangar/core/ProviderRegistry")<
  ProviderRegistry,
  Registry
>() {}

export const fromProviders = (providers: ReadonlyArray<ComputeProvider>): Registry => {
  const byId = new Map<string, ComputeProvider>()
  for (const provider of providers) {
    if (byId.has(provider.id)) throw new Error(`two providers share the id "${provider.id}"`)
    byId.set(provider.id, provider)
  }
  const ids = [...byId.keys()]
  return {
    ids,
    all: [...byId.values()],
    get: (id) => {
      const provider = byId.get(id)
      return provider === undefined
        ? Effect.fail(
            new InvalidRequest({
              module: "ProviderRegistry",
              method: "get",
              field: "provider",
              expected: ids.length === 0 ? "a provider, but none is composed" : `one of ${ids.join(", ")}`,
              actual: id
            })
          )
        : Effect.succeed(provider)
    }
  }
}

/** A registry of the providers behind `tags`, each supplied by its plugin's Layer. */
// biome-ignore lint/suspicious/noExplicitAny: a Tag of any identifier that provides a ComputeProvider
export const layer = <const Tags extends ReadonlyArray<Context.Tag<any, ComputeProvider>>>(
  ...tags: Tags
): Layer.Layer<ProviderRegistry, never, Context.Tag.Identifier<Tags[number]>> =>
  Layer.effect(
    ProviderRegistry,
    Effect.map(Effect.all(tags.map((tag) => tag as Context.Tag<unknown, ComputeProvider>)), (providers) =>
      fromProviders(providers)
    )
  ) as Layer.Layer<ProviderRegistry, never, Context.Tag.Identifier<Tags[number]>>

/** A registry of providers built in place (tests, the bench). */
export const layerProviders = (providers: ReadonlyArray<ComputeProvider>): Layer.Layer<ProviderRegistry> =>
  Layer.sync(ProviderRegistry, () => fromProviders(providers))
