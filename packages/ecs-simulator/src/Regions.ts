/**
 * ECS is regional as on AWS: each request works on the state of the region its SigV4 credential scope names
 * (`Credential=AKID/date/<region>/ecs/aws4_request`), and of its account, as AWS and LocalStack keep them apart.
 * The account is the access key id when that is 12 digits (LocalStack's rule), else the simulator's
 * (123456789012); another account's state is kept as another region's is (`ecs-simulator.<account>.<region>`). The simulator's own
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
  readonly account: string
  readonly model: EcsModel
  readonly operations: ReadonlyMap<string, Operation>
  readonly store: Persistence.Store | undefined
}

export interface Options {
  /** The simulator's own region's model. */
  readonly primary: EcsModel
  /** A fresh model for another region or account. */
  readonly model: (region: string, account: string) => EcsModel
  readonly operations: (model: EcsModel) => ReadonlyMap<string, Operation>
  readonly dataDir: string | undefined
  readonly compactAfterBytes: number | undefined
  /** Most regions kept (default 32: AWS has fewer). */
  readonly most?: number
}

const isRegion = Schema.is(PricingCatalog.AwsRegion)
const otherRegionFile = /^ecs-simulator\.(?:(\d{12})\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.(?:json|journal)$/

/** The account of a request's access key id: the key when it is 12 digits (as LocalStack has it), else none. */
export const accountOf = (accessKey: string | undefined): string | undefined =>
  accessKey !== undefined && /^\d{12}$/.test(accessKey) ? accessKey : undefined

export class Regions {
  private readonly regions = new Map<string, Promise<Region>>()
  private readonly opened: Array<Region> = []

  private constructor(private readonly options: Options) {}

  /** The primary region, and with a data dir every region saved there before. */
  static async open(options: Options): Promise<Regions> {
    const regions = new Regions(options)
    await regions.add(options.primary.region, options.primary.account, options.primary)
    if (options.dataDir !== undefined)
      for (const file of readdirSync(options.dataDir).sort()) {
        const found = otherRegionFile.exec(file)
        if (found !== null && isRegion(found[2]!)) await regions.get(found[2], found[1])
      }
    return regions
  }

  get primary(): Region {
    return this.opened[0]!
  }

  /**
   * The region named of the account named (the primary's when none is); undefined when it is no AWS region or
   * too many are in use.
   */
  get(name: string | undefined, account: string | undefined): Promise<Region> | undefined {
    const region = name ?? this.options.primary.region
    const owner = account ?? this.options.primary.account
    const known = this.regions.get(`${owner}/${region}`)
    if (known !== undefined) return known
    if (!isRegion(region) || this.regions.size >= (this.options.most ?? 32)) return undefined
    return this.add(region, owner, this.options.model(region, owner))
  }

  private add(name: string, account: string, model: EcsModel): Promise<Region> {
    const ownAccount = account === this.options.primary.account
    const primary = name === this.options.primary.region && ownAccount
    const region = (async () => {
      const store =
        this.options.dataDir === undefined
          ? undefined
          : await Persistence.Store.open(this.options.dataDir, model, {
              ...(this.options.compactAfterBytes === undefined
                ? {}
                : { compactAfterBytes: this.options.compactAfterBytes }),
              ...(primary
                ? {}
                : { base: ownAccount ? `ecs-simulator.${name}` : `ecs-simulator.${account}.${name}` })
            })
      const opened: Region = { name, account, model, operations: this.options.operations(model), store }
      this.opened.push(opened)
      return opened
    })()
    this.regions.set(`${account}/${name}`, region)
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
