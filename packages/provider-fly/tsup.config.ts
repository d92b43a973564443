import { defineConfig } from "tsup"

export default defineConfig({
  entry: {
    index: "src/index.ts",
    conventions: "src/Conventions.ts",
    "cost-model": "src/FlyCostModel.ts",
    "examples/RunTask": "examples/RunTask.ts"
  },
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20"
})
