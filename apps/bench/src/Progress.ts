/** A progress bar on stderr while the bench runs (a line per 10% when stderr is not a terminal). */
export const make = (label: string) => {
  const tty = process.stderr.isTTY === true
  let lastTenth = -1
  return {
    update: (done: number, total: number) => {
      const fraction = total === 0 ? 1 : done / total
      if (tty) {
        const width = 30
        const filled = Math.round(fraction * width)
        process.stderr.write(
          `\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}`
        )
        if (done === total) process.stderr.write("\n")
      } else {
        const tenth = Math.floor(fraction * 10)
        if (tenth !== lastTenth) {
          lastTenth = tenth
          process.stderr.write(`${label}: ${Math.round(fraction * 100)}%\n`)
        }
      }
    }
  }
}
