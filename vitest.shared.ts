import { defineConfig } from "vitest/config"

/**
 * Shared Vitest settings. Packages resolve each other through the "source" export condition, so tests run
 * against TypeScript sources without a build step. Each package writes a JSON report that `.ci/run` counts.
 * The timeouts are generous on purpose: the kill -9 and crash tests drive child processes in real time, and a
 * shared 2-core machine can run them several times slower than a quiet one. No test asserts a duration.
 */
export const shared = defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
    testTimeout: 300_000,
    hookTimeout: 300_000
  }
})
