/**
 * This package's version, from its package.json: imported, so the build inlines it, and it stays this package's
 * version wherever the code is bundled (the bench bundles the simulators into its command line).
 */
import packageJson from "../package.json" with { type: "json" }

export const version: string = packageJson.version
