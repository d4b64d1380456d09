/**
 * `pnpm --filter @stelar/app-conformance conformance [--role server|client] [--only 1.1,6.4]
 *  [--report path] [--verbose] [--target-port N]`
 *
 * Runs the WebSocket conformance catalogue against Stelar in both roles, prints a summary per
 * category and role, and writes the JSON report (default `reports/latest.json`). Exits 1 when a
 * case fails or is non-strict without a listed exception.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATALOGUE } from './cases';
import { EXCEPTIONS } from './exceptions';
import { formatSummary, runCatalogue } from './runner';
import type { PeerRole } from './tester';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const here = dirname(fileURLToPath(import.meta.url));
const role = arg('role') as PeerRole | undefined;
const only = arg('only')?.split(',').filter(Boolean);
const reportPath = resolve(arg('report') ?? resolve(here, '../reports/latest.json'));
const verbose = process.argv.includes('--verbose');
// Server role against another server on 127.0.0.1 (calibration of the tester; see the README).
const targetPort = arg('target-port');

const report = await runCatalogue(CATALOGUE, {
  ...(role ? { roles: [role] } : {}),
  ...(only ? { only } : {}),
  ...(targetPort ? { roles: ['server'] as const, target: { port: Number(targetPort), open: 0, idle: async () => 0, close: async () => undefined } } : {}),
  onResult: (r) => {
    if (verbose || r.verdict !== 'PASS') {
      const extra = r.exception ? ' [known exception]' : '';
      console.log(`${r.verdict.padEnd(10)} ${r.role.padEnd(6)} ${r.id.padEnd(8)} ${r.title}${r.detail ? ` — ${r.detail}` : ''}${extra}`);
    }
  },
});

console.log('');
console.log(formatSummary(report));
const timings = report.results.filter((r) => r.category === 9 && r.metrics);
if (timings.length > 0) {
  console.log('\ncategory 9 timings (ms):');
  for (const r of timings) {
    console.log(`  ${r.role.padEnd(6)} ${r.id.padEnd(7)} ${Object.entries(r.metrics!).map(([k, v]) => `${k}=${v}`).join(' ').padEnd(18)} ${r.title}`);
  }
}
const excused = report.results.filter((r) => r.exception);
if (excused.length > 0) {
  console.log('\nknown exceptions:');
  for (const reason of new Set(excused.map((r) => r.exception!))) {
    console.log(`  ${excused.filter((r) => r.exception === reason).map((r) => `${r.role} ${r.id}`).join(', ')}:\n    ${reason}`);
  }
}
console.log(`\n${report.results.length} case runs in ${(report.durationMs / 1000).toFixed(1)} s`);
mkdirSync(dirname(reportPath), { recursive: true });
writeFileSync(reportPath, JSON.stringify({ ...report, exceptions: EXCEPTIONS }, null, 2) + '\n');
console.log(`report: ${reportPath}`);
const unexpected = report.results.filter((r) => r.verdict !== 'PASS' && !r.exception);
process.exitCode = unexpected.length > 0 ? 1 : 0;
