/**
 * A progress bar on stderr while a run takes more than a second: simulated days done, tasks dispatched and an
 * ETA, over every job of the run. Redrawn in place on a terminal; otherwise a plain line per tenth of the way,
 * and at least every half minute, so that a long run shows it is alive.
 */

export interface Totals {
  /** Simulated milliseconds of all jobs together. */
  readonly simulatedMillis: number
  readonly tasks: number
}

export interface Bar {
  /** Job `job` has simulated `simulatedMillis` and dispatched `dispatched` tasks so far. */
  readonly update: (job: number, simulatedMillis: number, dispatched: number) => void
  /** Ends the bar (a last line if one was drawn). */
  readonly done: () => void
}

const dayMillis = 86_400_000
const showAfterMillis = 1_000
const redrawEveryMillis = 100
const plainLineAtLeastEveryMillis = 30_000

export const make = (label: string, totals: Totals, jobs: number): Bar => {
  const tty = process.stderr.isTTY === true
  const startedAt = performance.now()
  const simulated = new Float64Array(jobs)
  const dispatched = new Float64Array(jobs)
  let lastDrawn = 0
  let lastLine = 0
  let lastTenth = -1
  let shown = false

  const line = () => {
    let sim = 0
    let tasks = 0
    for (let i = 0; i < jobs; i++) {
      sim += simulated[i]!
      tasks += dispatched[i]!
    }
    const fraction = totals.simulatedMillis === 0 ? 1 : Math.min(1, sim / totals.simulatedMillis)
    // The work is in the dispatches (a busy week costs more than a quiet month), so the ETA follows the tasks.
    const done = totals.tasks === 0 ? fraction : Math.min(1, tasks / totals.tasks)
    const elapsed = (performance.now() - startedAt) / 1000
    const eta = done > 0 ? (elapsed / done) * (1 - done) : Number.NaN
    const width = 24
    const filled = Math.round(fraction * width)
    const text = `${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(sim / dayMillis).toFixed(1)}/${(totals.simulatedMillis / dayMillis).toFixed(0)} simulated days, ${tasks}/${totals.tasks} tasks dispatched, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : "?"}`
    return { text, fraction }
  }

  const draw = (force: boolean) => {
    const now = performance.now()
    if (now - startedAt < showAfterMillis) return
    if (!force && now - lastDrawn < redrawEveryMillis) return
    lastDrawn = now
    const { text, fraction } = line()
    if (tty) {
      process.stderr.write(`\r${text}\u001b[K`)
      shown = true
    } else {
      const tenth = Math.floor(fraction * 10)
      if (tenth !== lastTenth || force || now - lastLine >= plainLineAtLeastEveryMillis) {
        lastTenth = tenth
        lastLine = now
        process.stderr.write(`${text}\n`)
        shown = true
      }
    }
  }

  return {
    update: (job, simulatedMillis, tasks) => {
      simulated[job] = simulatedMillis
      dispatched[job] = tasks
      draw(false)
    },
    done: () => {
      if (!shown) return
      if (tty) {
        draw(true)
        process.stderr.write("\n")
      } else if (lastTenth !== 10) draw(true)
    }
  }
}
