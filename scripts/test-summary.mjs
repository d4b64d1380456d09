#!/usr/bin/env node
// Reads vitest's JSON report and prints the one line CI reads: "N passed, N failed, N skipped".
// Exits 1 when anything failed, when any test was skipped (skipped, pending or todo: a test that
// did not run proves nothing), or when no test ran at all.
import { readFileSync, existsSync } from 'node:fs';

const file = process.argv[2] ?? '.test-report/vitest.json';
if (!existsSync(file)) {
  console.log('0 passed, 1 failed, 0 skipped (no test report written)');
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
let passed = 0;
let failed = 0;
const skipped = [];
const brokenFiles = [];
for (const suite of r.testResults ?? []) {
  const tests = suite.assertionResults ?? [];
  let failedHere = 0;
  for (const t of tests) {
    if (t.status === 'passed') passed++;
    else if (t.status === 'failed') failedHere++;
    else skipped.push(`${t.status}: ${t.fullName ?? t.title} (${suite.name})`);
  }
  failed += failedHere;
  // A file that failed without a failing test (it did not load, or a hook threw) is a failure too.
  if (suite.status === 'failed' && failedHere === 0) {
    failed++;
    brokenFiles.push(`${suite.name}: ${suite.message || 'failed outside its tests'}`);
  }
}
// The report's own counters must agree with the per-test statuses (a format change would show here).
const reported = (r.numPassedTests ?? 0) + (r.numFailedTests ?? 0) + (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
const counted = passed + skipped.length + failed - brokenFiles.length;
for (const line of brokenFiles) console.log(`broken test file: ${line}`);
for (const line of skipped) console.log(`not run (${line})`);
if (reported !== counted) {
  console.log(`test report counters disagree: ${reported} in the totals, ${counted} in the per-test results`);
  failed++;
}
if (passed + failed === 0) {
  console.log('no test ran');
  failed++;
}
console.log(`${passed} passed, ${failed} failed, ${skipped.length} skipped`);
process.exit(failed > 0 || skipped.length > 0 ? 1 : 0);
