/** For tests of a simulator's command line: run it in-process and read what it printed; hold a port taken. */
import { createServer } from "node:net"
import type { CliApp, Command } from "@effect/cli"
import { Effect, type Scope } from "effect"
import { SimulatorCli } from "../simulation/index.js"

export interface Outcome {
  readonly code: number
  readonly out: string
  readonly err: string
}

/** Runs `command` on `args` as its binary would, with what it prints to stdout and stderr recorded. */
export const run =
  <Name extends string, R, A>(
    command: Command.Command<Name, R, SimulatorCli.UsageError, A>,
    info: { readonly name: string; readonly version: string; readonly summary: string }
  ) =>
  (args: ReadonlyArray<string>): Effect.Effect<Outcome, never, R | CliApp.CliApp.Environment> =>
    Effect.gen(function* () {
      const out: Array<string> = []
      const err: Array<string> = []
      const code = yield* SimulatorCli.run(
        command,
        info
      )(args).pipe(Effect.withConsole(SimulatorCli.recordingConsole(out, err)))
      return { code, out: out.join("\n"), err: err.join("\n") }
    })

/** A loopback port held by another listener for the scope's life: for "port already in use". */
export const occupiedPort: Effect.Effect<number, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly close: () => void }>((resume) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () =>
      resume(
        Effect.succeed({
          port: (server.address() as { port: number }).port,
          close: () => void server.close()
        })
      )
    )
  }),
  ({ close }) => Effect.sync(close)
).pipe(Effect.map(({ port }) => port))
