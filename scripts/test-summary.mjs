// Counts tests from every package's Vitest JSON report and prints `tests: N passed, N failed`.
// Exits non-zero when a test failed, a test file failed to load, or a package with tests wrote no report.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

let passed = 0
let failed = 0
const problems = []
for (const group of ["packages", "apps", "tests"]) {
  for (const name of readdirSync(group)) {
    const dir = join(group, name)
    if (!existsSync(join(dir, "package.json"))) continue
    const report = join(dir, "test-results", "vitest.json")
    if (!existsSync(report)) {
      problems.push(`${dir}: no test report (did its tests run?)`)
      continue
    }
    const json = JSON.parse(readFileSync(report, "utf8"))
    passed += json.numPassedTests
    failed += json.numFailedTests
    const brokenFiles = json.testResults.filter(
      (file) => file.status === "failed" && file.assertionResults.length === 0
    )
    for (const file of brokenFiles) problems.push(`${file.name}: failed to run: ${file.message}`)
    failed += brokenFiles.length
    const skipped = json.numPendingTests + json.numTodoTests
    if (skipped > 0) problems.push(`${dir}: ${skipped} skipped or todo tests`)
  }
}
for (const problem of problems) console.error(problem)
console.log(`tests: ${passed} passed, ${failed} failed`)
process.exit(failed > 0 || problems.length > 0 ? 1 : 0)
