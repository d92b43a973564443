/**
 * ecs-sim's flags: the ones both simulators share (core's `SimulatorFlags`: --host --port --seed --clock --exec,
 * plus repeatable --access-key), --secret-key SECRET (or ECS_SIM_SECRET_KEY: the access keys' secret, so SigV4
 * signatures are verified), --data-dir, --region REGION and --pricing FILE (a JSON pricing catalog of that
 * region's EC2 prices), all parsed by node:util's parseArgs.
 */
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { Pricing, PricingCatalog, SimulatorFlags } from "@hangar/core"
import { Redacted, Schema } from "effect"
import type * as EcsSimulator from "./EcsSimulator.js"

export interface Flags {
  readonly host: string
  readonly port: number
  readonly clockName: "real" | "virtual"
  readonly seed: number
  readonly options: EcsSimulator.Options
}

export const defaultPort = 4281

export const parse = (
  args: ReadonlyArray<string>,
  environment: Readonly<Record<string, string | undefined>> = process.env
): Flags => {
  const { tokens } = parseArgs({
    args: [...args],
    options: {
      host: { type: "string" },
      port: { type: "string" },
      seed: { type: "string" },
      clock: { type: "string" },
      exec: { type: "string" },
      "access-key": { type: "string", multiple: true },
      "secret-key": { type: "string" },
      "data-dir": { type: "string" },
      region: { type: "string" },
      pricing: { type: "string" }
    },
    strict: true,
    allowPositionals: false,
    tokens: true
  })
  let dataDir: string | undefined
  let region: string | undefined
  let pricingFile: string | undefined
  let secretKey =
    environment.ECS_SIM_SECRET_KEY === undefined ? undefined : Redacted.make(environment.ECS_SIM_SECRET_KEY)
  const shared: Array<string> = []
  for (const token of tokens) {
    if (token.kind !== "option") continue
    if (token.name === "data-dir") {
      if (token.value === undefined || token.value === "")
        throw new Error("ecs-sim: --data-dir needs a directory")
      dataDir = token.value
    } else if (token.name === "region") {
      if (token.value === undefined || !Schema.is(PricingCatalog.AwsRegion)(token.value))
        throw new Error(
          `ecs-sim: --region needs an AWS region code such as eu-west-2, got "${token.value ?? ""}"`
        )
      region = token.value
    } else if (token.name === "pricing") {
      if (token.value === undefined || token.value === "")
        throw new Error("ecs-sim: --pricing needs a JSON pricing catalog file")
      pricingFile = token.value
    } else if (token.name === "secret-key") {
      if (token.value === undefined || token.value === "")
        throw new Error("ecs-sim: --secret-key needs a value")
      secretKey = Redacted.make(token.value)
    } else shared.push(`--${token.name}`, token.value ?? "")
  }
  const pricing = pricingFile === undefined ? undefined : readCatalog(pricingFile)
  if (pricing !== undefined) {
    try {
      Pricing.ec2Pricing(
        region ?? "us-east-1",
        pricing,
        `--region${region === undefined ? " (default us-east-1)" : ""}`
      )
    } catch (error) {
      throw new Error(`ecs-sim: --pricing ${pricingFile}: ${(error as Error).message}`)
    }
  }
  const flags = SimulatorFlags.parse("ecs-sim", defaultPort, "access-key", shared)
  if (secretKey !== undefined && flags.extra === undefined)
    throw new Error(
      "ecs-sim: --secret-key (or ECS_SIM_SECRET_KEY) needs --access-key: the key ids it is the secret of"
    )
  return {
    host: flags.host,
    port: flags.port,
    clockName: flags.clockName,
    seed: flags.seed,
    options: {
      clock: flags.clock,
      seed: flags.seed,
      exec: flags.exec,
      ...(flags.extra === undefined ? {} : { accessKeys: flags.extra }),
      ...(secretKey === undefined ? {} : { secretKey }),
      ...(dataDir === undefined ? {} : { dataDir }),
      ...(region === undefined ? {} : { region }),
      ...(pricing === undefined ? {} : { pricing })
    }
  }
}

/** A pricing catalog from a JSON file; the error names the flag, the file and each bad field. */
const readCatalog = (file: string): PricingCatalog.PricingCatalog => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (error) {
    throw new Error(
      `ecs-sim: --pricing ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`
    )
  }
  return PricingCatalog.parseJson(text, `ecs-sim: --pricing ${file}`)
}
