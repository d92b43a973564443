import { defineConfig } from "vitest/config"

/**
 * Shared Vitest settings. Packages resolve each other through the "source" export condition, so tests run
 * against TypeScript sources without a build step. Each package writes a JSON report that `.ci/run` counts.
 */
export const shared = defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
