/** Writes schema/scenario.schema.json from the Effect Schema (`pnpm --filter @hangar/bench schema`). */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import * as ScenarioSchema from "../src/ScenarioSchema.js"

const path = join(process.cwd(), ScenarioSchema.file)
writeFileSync(path, ScenarioSchema.text())
console.log(`wrote ${path}`)
