// Ends a vitest run with one plain line, "vitest: N passed, N failed[, N skipped]", so that
// any log reader (CI included) sees the counts without parsing vitest's coloured summary.
import type { Reporter, TestModule } from 'vitest/node'

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of testModules) {
      let failedHere = 0
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') passed += 1
        else if (state === 'failed') failedHere += 1
        else skipped += 1
      }
      // A file that failed to load, or whose beforeAll/afterAll failed, may have no failed
      // test of its own but must still count as a failure.
      if (module.state() === 'failed' && failedHere === 0) failedHere = 1
      failed += failedHere
    }
    const tail = skipped ? `, ${skipped} skipped` : ''
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed${tail}\n`)
  }
}
