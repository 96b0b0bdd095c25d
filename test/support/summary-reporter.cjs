'use strict';
/**
 * jest's own summary, then one closing line with the counts — `tests: N passed, N failed, N skipped` — and
 * before it the name of every skipped test, so a run (CI's above all) says what did not run. It stands in
 * for the summary part of jest's `default` reporter (jest.config.js lists jest's DefaultReporter beside it),
 * because jest prints its summary after every custom reporter.
 */
const { SummaryReporter } = require('@jest/reporters');

class CountingSummaryReporter extends SummaryReporter {
  onRunComplete(contexts, results) {
    super.onRunComplete(contexts, results);
    const skipped = [];
    for (const file of results.testResults) {
      for (const test of file.testResults) {
        if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
          skipped.push(`${file.testFilePath.replace(`${process.cwd()}/`, '')}: ${test.fullName}`);
        }
      }
    }
    const lines = [];
    if (skipped.length) lines.push(`skipped tests (${skipped.length}):`, ...skipped.map((name) => `  - ${name}`));
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    lines.push(`tests: ${results.numPassedTests} passed, ${failed} failed, ${results.numPendingTests + results.numTodoTests} skipped`);
    process.stderr.write(`${lines.join('\n')}\n`);
  }
}

module.exports = CountingSummaryReporter;
