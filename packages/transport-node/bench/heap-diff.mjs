// What N live connections hold on the JS heap (not a test): self size by constructor, from two
// heap snapshots of one server process (with the connections open, and after they closed).
//   node heap-diff.mjs OPEN.heapsnapshot CLOSED.heapsnapshot N [rows]
import { readFileSync } from 'node:fs';

const [openFile, closedFile, nArg, rowsArg] = process.argv.slice(2);
const N = Number(nArg);
function byName(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const w = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const out = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += w) {
    const type = types[nodes[i + iType]];
    let name = snap.strings[nodes[i + iName]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    else if (type === 'code') name = '(code)';
    else if (name.length > 60) name = name.slice(0, 60);
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}
const a = byName(openFile);
const b = byName(closedFile);
const rows = [];
let total = 0;
for (const [k, v] of a) {
  const u = b.get(k) ?? { count: 0, size: 0 };
  const d = v.size - u.size;
  total += d;
  rows.push([k, (v.count - u.count) / N, d / N]);
}
rows.sort((x, y) => y[2] - x[2]);
console.log(`heap held per connection: ${(total / N).toFixed(0)} B`);
for (const [k, c, sz] of rows.slice(0, Number(rowsArg ?? 40))) console.log(`${sz.toFixed(1).padStart(8)} B  ${c.toFixed(2).padStart(6)} objs  ${k}`);
