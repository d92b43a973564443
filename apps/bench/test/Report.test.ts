/**
 * report.html in a browser: headless Chromium (Debian's `chromium`, driven by playwright-core) opens a run's
 * report from disk, offline; the tables and both charts are there, the cost chart labels its bars, no console
 * error and no request beyond the file itself. The screenshot is kept as test-results/report.png.
 */
import { mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { chromium } from "playwright-core"
import { assert, describe, it } from "vitest"
import { file, run, smallWorkload, temporary } from "./CommandLine.js"

const executablePath = "/usr/bin/chromium"
const artifacts = new URL("../test-results/", import.meta.url).pathname

describe("report.html", () => {
  it("renders the tables and the charts offline in headless Chromium, without a console error", async () => {
    const dir = temporary("report")
    const results = join(dir, "results")
    const outcome = await run(["run", file(dir, "small.yaml", smallWorkload), "--out", results])
    assert.strictEqual(outcome.code, 0, outcome.err)
    const userDataDir = mkdtempSync(join(tmpdir(), "hangar-bench-chromium-"))
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
    try {
      const page = await context.newPage()
      const errors: Array<string> = []
      const requests: Array<string> = []
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text())
      })
      page.on("pageerror", (error) => errors.push(error.message))
      page.on("request", (request) => {
        if (!request.url().startsWith("file:")) requests.push(request.url())
      })
      await page.goto(pathToFileURL(join(results, "latest", "report.html")).href)
      await page.waitForSelector("body[data-charts]", { timeout: 30_000 })
      assert.strictEqual(await page.getAttribute("body", "data-charts"), "rendered")
      const firstRow = await page
        .locator("table")
        .first()
        .locator("tbody tr")
        .first()
        .locator("td")
        .allTextContents()
      assert.strictEqual(firstRow.length, 4)
      assert.strictEqual(firstRow[0], "small")
      assert.match(firstRow.slice(1).join(" "), /^\$[\d,.]+ \$[\d,.]+ \d+%$/)
      assert.include(
        await page.locator("h2").allTextContents(),
        "What each bill is made of (from the simulators' ledgers)"
      )
      assert.include(
        await page.locator("p.note").allTextContents(),
        "$/mo from 1 simulated day, scaled to 30 days."
      )
      for (const chart of ["#chart-0", "#chart-1"])
        assert.isAbove(await page.locator(`${chart} svg .mark-rect path`).count(), 0, `${chart} draws bars`)
      const labels = await page.locator("#chart-0 svg .mark-text.role-mark text").allTextContents()
      assert.isTrue(labels.length === 2 && labels.every((l) => /^\$\d+\.\d\d$/.test(l)), labels.join(", "))
      mkdirSync(artifacts, { recursive: true })
      await page.screenshot({ path: join(artifacts, "report.png"), fullPage: true })
      assert.deepStrictEqual(errors, [])
      assert.deepStrictEqual(requests, [])
    } finally {
      await context.close()
    }
  }, 120_000)
})
