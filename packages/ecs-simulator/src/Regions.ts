/**
 * ECS is regional as on AWS: each request works on the state of the region its SigV4 credential scope names
 * (`Credential=AKID/date/<region>/ecs/aws4_request`), as AWS and LocalStack keep them apart. The simulator's own
 * region (`--region`, default us-east-1) is the one with Auto Scaling groups, the `/_sim` control plane and the
 * bill; another region starts empty (its clusters and task definitions are its own, and without groups of its
 * own its RunTask finds no container instances). Each region has its own model on the shared clock, and with a
 * data dir its own files (`ecs-simulator.<region>.json` and `.journal`), opened again at start.
 */
import { readdirSync } from "node:fs"
import { PricingCatalog } from "@hangar/core"
import { Schema } from "effect"
import type { Operation } from "./http/AwsJson.js"
import type { EcsModel } from "./model/EcsModel.js"
import * as Persistence from "./Persistence.js"

export interface Region {
  readonly name: string
  readonly model: EcsModel
  readonly operations: ReadonlyMap<string, Operation>
  readonly store: Persistence.Store | undefined
}

export interface Options {
  /** The simulator's own region's model. */
  readonly primary: EcsModel
  /** A fresh model for another region. */
  readonly model: (region: string) => EcsModel
  readonly operations: (model: EcsModel) => ReadonlyMap<string, Operation>
  readonly dataDir: string | undefined
  readonly compactAfterBytes: number | undefined
  /** Most regions kept (default 32: AWS has fewer). */
  readonly most?: number
}

const isRegion = Schema.is(PricingCatalog.AwsRegion)
const otherRegionFile = /^ecs-simulator\.([a-z]{2}(?:-[a-z]+)+-\d)\.(?:json|journal)$/

export class Regions {
  private readonly regions = new Map<string, Promise<Region>>()
  private readonly opened: Array<Region> = []

  private constructor(private readonly options: Options) {}

  /** The primary region, and with a data dir every region saved there before. */
  static async open(options: Options): Promise<Regions> {
    const regions = new Regions(options)
    await regions.add(options.primary.region, options.primary)
    if (options.dataDir !== undefined)
      for (const file of readdirSync(options.dataDir).sort()) {
        const name = otherRegionFile.exec(file)?.[1]
        if (name !== undefined && isRegion(name)) await regions.get(name)
      }
    return regions
  }

  get primary(): Region {
    return this.opened[0]!
  }

  /** The region named (the primary when none is); undefined when it is no AWS region or too many are in use. */
  get(name: string | undefined): Promise<Region> | undefined {
    if (name === undefined) return this.regions.get(this.options.primary.region)
    const known = this.regions.get(name)
    if (known !== undefined) return known
    if (!isRegion(name) || this.regions.size >= (this.options.most ?? 32)) return undefined
    return this.add(name, this.options.model(name))
  }

  private add(name: string, model: EcsModel): Promise<Region> {
    const primary = name === this.options.primary.region
    const region = (async () => {
      const store =
        this.options.dataDir === undefined
          ? undefined
          : await Persistence.Store.open(this.options.dataDir, model, {
              ...(this.options.compactAfterBytes === undefined
                ? {}
                : { compactAfterBytes: this.options.compactAfterBytes }),
              ...(primary ? {} : { base: `ecs-simulator.${name}` })
            })
      const opened: Region = { name, model, operations: this.options.operations(model), store }
      this.opened.push(opened)
      return opened
    })()
    this.regions.set(name, region)
    return region
  }

  /** Every region opened so far (the primary first). */
  all(): ReadonlyArray<Region> {
    return this.opened
  }

  /** Saves what changed in every region (see `Persistence.Store.flush`). */
  flush(clockStepMillis: number): void {
    for (const region of this.opened) region.store?.flush(clockStepMillis)
  }

  close(): void {
    for (const region of this.opened) {
      region.store?.close()
      region.model.dispose()
    }
  }
}
