/** Summary of a V8 `.cpuprofile` (from `node --cpu-prof`): where the self time goes. */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface Frame {
  /** `function (file:line)`. */
  name: string;
  /** Package or area: `@stelar/<pkg>`, `node:<module>`, a node_modules package, `(gc)`, `(program)`… */
  area: string;
  /** Share of the busy samples (idle excluded), 0..1. */
  self: number;
}

export interface ProfileSummary {
  /** The job (one per target cell: `oif-ws`, `fan-ws`…). */
  id?: string;
  label: string;
  file: string;
  /** Sampled wall time (ms) and the busy part of it. */
  totalMs: number;
  busyMs: number;
  top: Frame[];
  areas: { area: string; self: number }[];
}

export function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /packages\/([^/]+)\/(?:dist|src)\//.exec(url);
  if (pkg) return `@stelar/${pkg[1] ?? '?'}`;
  if (url.includes('apps/bench/')) return 'bench harness';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url);
  if (nm) return nm[1] ?? 'node_modules';
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(url);
    return `node:${m?.[1] ?? 'internal'}`;
  }
  return url;
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/');
  return i >= 0 ? url.slice(i + 1) : url;
}

/** Maps bundled positions back to the sources (the bench bundles Stelar's packages). */
class SourceMaps {
  private readonly maps = new Map<string, { map: SourceMap; dir: string } | null>();

  /** `path:line` of the original source (repository-relative when possible), or undefined. */
  locate(url: string, line: number, column: number, root: string): { url: string; line: number } | undefined {
    if (!url.startsWith('file://')) return undefined;
    let entry = this.maps.get(url);
    if (entry === undefined) {
      entry = null;
      try {
        const file = fileURLToPath(url);
        if (existsSync(`${file}.map`)) {
          entry = { map: new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as never), dir: dirname(file) };
        }
      } catch {
        entry = null;
      }
      this.maps.set(url, entry);
    }
    if (!entry) return undefined;
    const hit = entry.map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
    if (!hit.originalSource || hit.originalLine === undefined) return undefined;
    const src = hit.originalSource.startsWith('file://') ? fileURLToPath(hit.originalSource) : resolve(entry.dir, hit.originalSource);
    return { url: relative(root, src), line: hit.originalLine };
  }
}

/**
 * Self time per function (mapped to its original source through adjacent `.js.map` files; paths
 * relative to `root`), and per area.
 */
export function summarizeProfile(file: string, label: string, topN = 15, root = process.cwd()): ProfileSummary {
  const maps = new SourceMaps();
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of prof.nodes) byId.set(n.id, n);
  // Self time per node from samples × time deltas (µs); fall back to hit counts.
  const self = new Map<number, number>();
  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    for (let i = 0; i < samples.length; i++) {
      // V8's delta i is the time before sample i; attribute the next delta to sample i.
      const d = deltas[i + 1] ?? 0;
      self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + Math.max(0, d));
    }
  } else {
    const interval = (prof.endTime - prof.startTime) / Math.max(1, prof.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0));
    for (const n of prof.nodes) self.set(n.id, (n.hitCount ?? 0) * interval);
  }
  let total = 0;
  let idle = 0;
  const frames = new Map<string, { name: string; area: string; us: number }>();
  const areas = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const { functionName, url: rawUrl, lineNumber: rawLine, columnNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const mapped = maps.locate(rawUrl, rawLine, columnNumber, root);
    const url = mapped ? mapped.url : rawUrl;
    const lineNumber = mapped ? mapped.line : rawLine;
    const fn = functionName || '(anonymous)';
    const name = url ? `${fn} (${mapped ? url : shortUrl(url)}:${lineNumber + 1})` : fn;
    const area = areaOf(url, fn);
    const key = `${name}|${area}`;
    const f = frames.get(key) ?? { name, area, us: 0 };
    f.us += us;
    frames.set(key, f);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busy = Math.max(1, total - idle);
  return {
    label,
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    top: [...frames.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ name: f.name, area: f.area, self: f.us / busy })),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([area, us]) => ({ area, self: us / busy })),
  };
}

// ---------------------------------------------------------------------------------------------
// Heap snapshots: what one connection retains.

interface HeapSnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: (string[] | string)[] } };
  nodes: number[];
  strings: string[];
}

/** Objects per group (`type:name`) and their self sizes, from a `.heapsnapshot`. */
export function heapGroups(file: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotFile;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, { count: number; size: number }>();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]!] ?? '?';
    const name = snap.strings[nodes[i + iName]!] ?? '?';
    let key: string;
    if (type === 'object' || type === 'closure' || type === 'native') key = `${type === 'object' ? '' : `${type} `}${name}`;
    else if (type === 'array' || type === 'hidden') key = `(${type}) ${name.length > 40 ? `${name.slice(0, 40)}…` : name}`;
    else key = `(${type})`;
    const g = out.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += nodes[i + iSize]!;
    out.set(key, g);
  }
  return out;
}

export interface HeapSummary {
  /** The server kind snapshotted. */
  kind?: string;
  label: string;
  conns: number;
  /** Sum of the positive per-group deltas, per connection (≈ JS heap per connection). */
  bytesPerConn: number;
  top: { group: string; perConn: number; bytesPerConn: number }[];
}

/** Per-connection difference between two snapshots (before and after `conns` connections). */
export function summarizeHeapDiff(before: string, after: string, conns: number, label: string, topN = 15): HeapSummary {
  const a = heapGroups(before);
  const b = heapGroups(after);
  const rows: { group: string; perConn: number; bytesPerConn: number }[] = [];
  let total = 0;
  for (const [group, g] of b) {
    const base = a.get(group) ?? { count: 0, size: 0 };
    const size = (g.size - base.size) / conns;
    if (size <= 0) continue;
    total += size;
    rows.push({ group, perConn: (g.count - base.count) / conns, bytesPerConn: size });
  }
  rows.sort((x, y) => y.bytesPerConn - x.bytesPerConn);
  return { label, conns, bytesPerConn: total, top: rows.slice(0, topN) };
}
