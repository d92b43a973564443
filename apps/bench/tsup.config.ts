import { defineConfig } from "tsup"

/**
 * Two builds into `dist/`: the library entry, which leaves its dependencies to the installer as a library must,
 * and the command line with its worker, which carries Effect and the workspace packages in its own chunks. Loading
 * those as hundreds of separate ES modules cost about a second of every run's start, in the main thread and
 * again in every worker. Effect and everything built on it are bundled together (one copy of Effect's tags);
 * what the bench depends on directly (yaml, vega) stays external. The build script empties `dist/` first.
 */
const shared = { format: ["esm" as const], sourcemap: true, clean: false, target: "node20" }

export default defineConfig([
  { ...shared, entry: { index: "src/index.ts" }, dts: true },
  {
    ...shared,
    entry: { main: "src/main.ts", worker: "src/worker.ts" },
    sourcemap: false,
    noExternal: [/^effect(\/|$)/, /^@effect\//, /^@hangar\//],
    // CommonJS modules bundled along (undici under @effect/platform-node) require Node's built-ins.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
    }
  }
])
