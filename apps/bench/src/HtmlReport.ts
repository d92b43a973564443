/**
 * `report.html`: the cost comparison in one page that reads offline. The tables, the breakdown, the assumptions
 * and the prices with their sources are HTML; the charts are vega-lite specs rendered in the page by vega,
 * vega-lite and vega-embed, whose builds are inlined from node_modules (no CDN, no network).
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import type { TopLevelSpec } from "vega-lite"
import * as CompareReport from "./CompareReport.js"
import * as Results from "./Results.js"
import * as Table from "./Table.js"

const require = createRequire(import.meta.url)

/** A package's minified browser build, found beside the module its `exports` resolves to. */
const browserBuild = (pkg: string, file: string): string =>
  readFileSync(join(dirname(require.resolve(pkg)), file), "utf8")

let scripts: string | undefined

/** vega, vega-lite and vega-embed as inline scripts, read once (a script's text may not close its element). */
const inlineScripts = (): string => {
  scripts ??= [
    browserBuild("vega", "vega.min.js"),
    browserBuild("vega-lite", "vega-lite.min.js"),
    browserBuild("vega-embed", "vega-embed.min.js")
  ]
    .map((code) => `<script>\n${code.replaceAll("</script", "<\\/script")}\n</script>`)
    .join("\n")
  return scripts
}

/** JSON inside a `<script type="application/json">`: `<` escaped so no text in it can end the element. */
const embeddedJson = (value: unknown) => JSON.stringify(value).replaceAll("<", "\\u003c")

const style = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; } .note { color: #555; }
`

/** The comparison's page: `sections` after the monthly table (as the text report), `charts` as vega-lite specs. */
export const compare = (
  results: ReadonlyArray<CompareReport.ScenarioResult>,
  extra: ReadonlyArray<CompareReport.Section>,
  charts: ReadonlyArray<TopLevelSpec>
): string => {
  const title = "ECS + EC2 vs Fly.io, simulated"
  const notes = CompareReport.extrapolation(results).map(
    (line) => `<p class="note">${Table.escapeHtml(line)}.</p>`
  )
  const body = [
    `<h1>${title}</h1>`,
    `<p class="note">Costs are what the simulators billed for each scenario's trace, dispatched through the real Router and policies in virtual time; $/mo is scaled to 30 days. ${Results.tool.name} ${Results.tool.version}, results schema ${Results.schemaVersion}, USD.</p>`,
    Table.html(CompareReport.mainColumns(results), results),
    ...notes,
    `<div class="charts">${charts.map((_, i) => `<div class="chart" id="chart-${i}"></div>`).join("")}</div>`,
    ...CompareReport.sections(results, extra).flatMap((s) => [
      `<h2>${Table.escapeHtml(s.title)}</h2>`,
      s.html
    ])
  ]
  const render = `
const specs = JSON.parse(document.getElementById("specs").textContent);
Promise.all(specs.map((spec, i) => vegaEmbed("#chart-" + i, spec, { actions: false, renderer: "svg" })))
  .then(() => document.body.setAttribute("data-charts", "rendered"))
  .catch((error) => { document.body.setAttribute("data-charts", "failed"); console.error(error); });`
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${title}</title>`,
    `<style>${style}</style>`,
    inlineScripts(),
    "</head>",
    "<body>",
    ...body,
    `<script type="application/json" id="specs">${embeddedJson(charts)}</script>`,
    `<script>${render}</script>`,
    "</body>",
    "</html>"
  ].join("\n")
}
