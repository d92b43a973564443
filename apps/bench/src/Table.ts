/** Plain-text and Markdown tables for the bench's reports. */
export type Align = "left" | "right"

export interface Column<Row> {
  readonly header: string
  readonly align?: Align
  readonly value: (row: Row) => string
}

const pad = (text: string, width: number, align: Align) =>
  align === "right" ? text.padStart(width) : text.padEnd(width)

export const text = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>): string => {
  const cells = rows.map((row) => columns.map((c) => c.value(row)))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)))
  const line = (values: ReadonlyArray<string>) =>
    values
      .map((v, i) => pad(v, widths[i]!, columns[i]!.align ?? "left"))
      .join("  ")
      .trimEnd()
  return [
    line(columns.map((c) => c.header)),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.map(line)
  ].join("\n")
}

export const markdown = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>): string => {
  const escape = (s: string) => s.replaceAll("|", "\\|")
  return [
    `| ${columns.map((c) => escape(c.header)).join(" | ")} |`,
    `| ${columns.map((c) => (c.align === "right" ? "---:" : "---")).join(" | ")} |`,
    ...rows.map((row) => `| ${columns.map((c) => escape(c.value(row))).join(" | ")} |`)
  ].join("\n")
}

export const usd = (value: number, digits = 2): string =>
  `$${value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`

export const percent = (value: number, digits = 0): string => `${(value * 100).toFixed(digits)}%`
