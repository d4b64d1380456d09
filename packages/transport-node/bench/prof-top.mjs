// Self and inclusive time per function of .cpuprofile files (not a test):
//   node prof-top.mjs FILE|DIR [N] [--inclusive]
// Percentages are of the busy samples ((idle) excluded).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const inclusive = argv.includes('--inclusive');
const [target, nArg] = argv.filter((a) => !a.startsWith('--'));
const files = statSync(target).isDirectory() ? readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(target, f)) : [target];
const table = new Map();
let total = 0;
const keyOf = (cf) => `${cf.functionName || '(anon)'} ${cf.url.replace(/^.*\/(packages|node_modules)\//, '$1/').replace(/^file:\/\/.*\//, '')}:${cf.lineNumber + 1}`;
for (const f of files) {
  const p = JSON.parse(readFileSync(f, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const id of p.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, c] of counts) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    total += c;
    if (!inclusive) {
      const k = keyOf(byId.get(id).callFrame);
      table.set(k, (table.get(k) ?? 0) + c);
      continue;
    }
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = keyOf(byId.get(at).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      table.set(k, (table.get(k) ?? 0) + c);
    }
  }
}
const rows = [...table].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 30));
for (const [k, c] of rows) console.log(`${((100 * c) / total).toFixed(1).padStart(5)}%  ${k}`);
