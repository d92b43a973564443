/** Plain-text and Markdown tables for the bench's reports. */
import * as Style from "./Style.js"

export type Align = "left" | "right"

export interface Column<Row> {
  readonly header: string
  readonly align?: Align
  readonly value: (row: Row) => string
}

const pad = (text: string, width: number, align: Align) =>
  align === "right" ? text.padStart(width) : text.padEnd(width)

export const text = <Row>(
  columns: ReadonlyArray<Column<Row>>,
  rows: ReadonlyArray<Row>,
  style: Style.Style = Style.plain
): string => {
  const cells = rows.map((row) => columns.map((c) => c.value(row)))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)))
  const line = (values: ReadonlyArray<string>) =>
    values
      .map((v, i) => pad(v, widths[i]!, columns[i]!.align ?? "left"))
      .join("  ")
      .trimEnd()
  return [
    style.bold(line(columns.map((c) => c.header))),
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

const escapeHtml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")

/** An HTML table (values escaped); a cell that is an http(s) URL becomes a link. */
export const html = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>): string => {
  const cell = (value: string) =>
    /^https?:\/\/\S+$/.test(value)
      ? `<a href="${escapeHtml(value)}">${escapeHtml(value)}</a>`
      : escapeHtml(value)
  const align = (c: Column<Row>) => (c.align === "right" ? ' class="num"' : "")
  return [
    "<table>",
    `<thead><tr>${columns.map((c) => `<th${align(c)}>${escapeHtml(c.header)}</th>`).join("")}</tr></thead>`,
    "<tbody>",
    ...rows.map(
      (row) => `<tr>${columns.map((c) => `<td${align(c)}>${cell(c.value(row))}</td>`).join("")}</tr>`
    ),
    "</tbody>",
    "</table>"
  ].join("\n")
}

export { escapeHtml }
