/** Colours for the terminal report: only on a terminal, and never with NO_COLOR set (https://no-color.org). */

export interface Style {
  readonly bold: (text: string) => string
  readonly dim: (text: string) => string
}

const same = (text: string) => text

export const plain: Style = { bold: same, dim: same }

export const ansi: Style = {
  bold: (text) => `\u001b[1m${text}\u001b[22m`,
  dim: (text) => `\u001b[2m${text}\u001b[22m`
}

/** Whether `stream` gets colours: a terminal, and NO_COLOR unset or empty. */
export const coloured = (
  stream: { readonly isTTY?: boolean },
  env: NodeJS.ProcessEnv = process.env
): boolean => stream.isTTY === true && (env.NO_COLOR ?? "") === ""

export const forStream = (
  stream: { readonly isTTY?: boolean },
  env: NodeJS.ProcessEnv = process.env
): Style => (coloured(stream, env) ? ansi : plain)
