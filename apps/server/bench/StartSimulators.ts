/**
 * `pnpm --filter @hangar/server simulators`: fly-sim and ecs-sim on their usual ports (4280, 4281) on the real
 * clock, an ECS cluster `hangar` with capacity provider `cp`, and the environment hangar-serve needs to reach
 * both written to `.simulators.env` (for `node --env-file`) and printed. Runs until interrupted.
 */
import { writeFileSync } from "node:fs"
import * as Simulators from "./Simulators.js"

const file = ".simulators.env"

const main = async () => {
  const sims = await Simulators.start({ clock: "real", flyPort: 4280, ecsPort: 4281 })
  const env = { ...sims.env, HANGAR_API_TOKEN: process.env.HANGAR_API_TOKEN ?? "hangar-dev-token" }
  writeFileSync(
    file,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`,
    { mode: 0o600 }
  )
  console.log(`fly-sim on ${sims.fly.url}, ecs-sim on ${sims.ecs.url} (cluster hangar, capacity provider cp)`)
  console.log(`the environment for hangar-serve is in ${process.cwd()}/${file}`)
  const stop = () => void sims.stop().then(() => process.exit(0))
  process.on("SIGINT", stop)
  process.on("SIGTERM", stop)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
