import { defineConfig } from "tsup"

export default defineConfig({
  entry: {
    index: "src/index.ts",
    "testing/index": "src/testing/index.ts",
    "protocols/index": "src/protocols/index.ts",
    "simulation/index": "src/simulation/index.ts",
    "examples/EchoProvider": "examples/EchoProvider.ts"
  },
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20"
})
