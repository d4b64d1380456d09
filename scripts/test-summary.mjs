#!/usr/bin/env node
// Reads vitest's JSON report and prints the one line CI reads: "N passed, N failed".
import { readFileSync, existsSync } from 'node:fs';

const file = process.argv[2] ?? '.test-report/vitest.json';
if (!existsSync(file)) {
  console.log('0 passed, 1 failed (no test report written)');
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
// Suites that failed to load count as failures too (their tests never ran).
const brokenSuites = (r.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0).length;
const passed = r.numPassedTests ?? 0;
const failed = (r.numFailedTests ?? 0) + brokenSuites;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
