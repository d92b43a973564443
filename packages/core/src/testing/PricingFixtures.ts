/**
 * Pricing catalogs for tests only. Their prices are made up, marked so on every price (`source` is an
 * example.invalid URL, `note` says "test fixture, not a real price"), and must never bill anything real: the
 * repository's only sourced EC2 prices are us-east-1's (`PricingCatalog.ec2`).
 */
import * as PricingCatalog from "../PricingCatalog.js"

const fixture = {
  source: "https://example.invalid/test-fixture",
  asOf: "2026-01-01",
  note: "test fixture, not a real price"
} as const

/**
 * A made-up eu-west-2 EC2 catalog: t3.medium, t3.large, m6i.large and g4dn.xlarge (no m7i.large, c6i.large or
 * t3.xlarge, so tests can meet a type it does not price) and gp3 at rates unlike us-east-1's.
 */
export const ec2EuWest2: PricingCatalog.PricingCatalog = PricingCatalog.parse(
  {
    schemaVersion: 1,
    provider: "ec2",
    currency: "USD",
    region: "eu-west-2",
    prices: [
      ["t3.medium", "0.0500"],
      ["t3.large", "0.1000"],
      ["m6i.large", "0.1200"],
      ["g4dn.xlarge", "0.7000"]
    ]
      .map(([type, usd]) => ({
        key: `instance:${type}`,
        description: `${type} (test fixture)`,
        usd,
        per: "hour",
        unit: "instance",
        ...fixture
      }))
      .concat([
        {
          key: "ebs:gp3",
          description: "EBS gp3 storage per GiB (test fixture)",
          usd: "0.10",
          per: "730-hours",
          unit: "GB",
          ...fixture
        }
      ])
  },
  "PricingFixtures.ec2EuWest2"
)
