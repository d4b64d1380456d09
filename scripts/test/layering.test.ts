/**
 * The layering rules of docs/architecture.md, checked on every import of packages/*\/src:
 * a package imports only packages of a lower layer (and only those it depends on), core and the
 * platform-neutral packages import no `node:` module, only transport-node opens sockets, nothing
 * but tests imports @stelar/test-utils, and inside core the client engine and the server side
 * meet only in the shared modules. Each rule is also run on a small wrong example, so a checker
 * that stopped seeing imports would fail here too.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Lower layers first; a package may import only packages of a strictly lower layer. */
const LAYER: Readonly<Record<string, number>> = {
  'codec-tcp': 0,
  'codec-ws': 0,
  core: 1,
  cluster: 2,
  'transport-node': 2,
  server: 3,
  'client-node': 3,
  'client-browser': 3,
  'adapter-redis': 3,
};
/** Tests only: no package's src imports it. */
const TEST_ONLY = 'test-utils';
/** Run in browsers or anywhere: not one `node:` import. */
const NO_NODE = new Set(['codec-tcp', 'core', 'cluster', 'client-browser']);
/** Modules that open or serve sockets: value imports only in transport-node (type imports are free). */
const SOCKETS = new Set(['node:net', 'node:tls', 'node:dgram', 'node:http2']);
/** The HTTP server: transport-node, and server, which creates it for health, metrics and the dashboard. */
const HTTP = new Set(['node:http', 'node:https']);
/** core/src modules both ends use; core/src/client/ imports only these outside its folder. */
const CORE_SHARED = new Set(['clock', 'close', 'dispatch', 'errors', 'ids', 'link', 'logger', 'registry', 'replies', 'requests', 'types']);
const CORE_ENTRIES = new Set(['index.ts', 'internal.ts', 'client/index.ts']);

type Import = { readonly spec: string; readonly typeOnly: boolean };

/** Every static import, re-export, dynamic import and require of a TypeScript source. */
function importsOf(text: string): Import[] {
  const out: Import[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const m of code.matchAll(/(?:^|[\n;])\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*'([^']+)'/g)) {
    const names = m[3]!;
    const allTyped = /^\{[\s\S]*\}$/.test(names.trim()) && names.replace(/[{}\s]/g, '').split(',').filter(Boolean).every((n) => n.startsWith('type'));
    out.push({ spec: m[4]!, typeOnly: m[2] !== undefined || allTyped });
  }
  for (const m of code.matchAll(/(?:^|[\n;])\s*import\s*'([^']+)'/g)) out.push({ spec: m[1]!, typeOnly: false });
  for (const m of code.matchAll(/\b(?:import|require)\s*\(\s*'([^']+)'\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

/** What is wrong with one import of `file` (a path inside packages/<pkg>/src), or nothing. */
function violation(pkg: string, file: string, imp: Import, deps: ReadonlySet<string>): string | undefined {
  const { spec, typeOnly } = imp;
  const where = `packages/${pkg}/src/${file}: '${spec}'`;
  if (spec.startsWith('node:')) {
    if (NO_NODE.has(pkg)) return `${where}: ${pkg} imports no Node module`;
    if (!typeOnly && SOCKETS.has(spec) && pkg !== 'transport-node') return `${where}: only transport-node opens sockets`;
    if (!typeOnly && HTTP.has(spec) && pkg !== 'transport-node' && pkg !== 'server') return `${where}: only transport-node and server use the HTTP server`;
    return undefined;
  }
  if (spec.startsWith('.')) {
    const target = resolve('/src', dirname(file), spec);
    if (!target.startsWith('/src/')) return `${where}: a relative import leaves the package's src`;
    if (/\.[cm]?[jt]s$/.test(spec)) return `${where}: relative imports name no file extension`;
    if (pkg === 'core' && !CORE_ENTRIES.has(file)) {
      const from = file.startsWith('client/') ? 'client' : 'server';
      const to = target.startsWith('/src/client/') ? 'client' : 'server';
      const name = target.slice('/src/'.length);
      if (from === 'client' && to === 'server' && !CORE_SHARED.has(name)) return `${where}: core's client engine imports only the shared modules`;
      if (from === 'server' && to === 'client' && !typeOnly) return `${where}: core's server side does not import the client engine`;
      if (from === 'server' && CORE_SHARED.has(file.replace(/\.ts$/, '')) && !CORE_SHARED.has(name)) return `${where}: a shared core module imports only shared modules`;
    }
    return undefined;
  }
  const m = /^@stelar\/([a-z-]+)(\/.*)?$/.exec(spec);
  if (m) {
    const dep = m[1]!;
    if (m[2] !== undefined && /\/src\b/.test(m[2])) return `${where}: import a package's entry points, not its src`;
    if (dep === TEST_ONLY) return `${where}: @stelar/test-utils is for tests only`;
    const mine = LAYER[pkg];
    const theirs = LAYER[dep];
    if (mine === undefined || theirs === undefined) return `${where}: no layer for ${mine === undefined ? pkg : dep} (add it to LAYER and docs/architecture.md)`;
    if (theirs >= mine) return `${where}: ${pkg} (layer ${mine}) may not import ${dep} (layer ${theirs})`;
  }
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  if (!deps.has(name) && !typeOnly) return `${where}: not a dependency of packages/${pkg}`;
  return undefined;
}

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => f.replaceAll('\\', '/'))
    .filter((f) => f.endsWith('.ts'));
}

const packageDirs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));

describe('layering (docs/architecture.md)', () => {
  it('every package has a layer (or is the test-only package)', () => {
    expect(packageDirs.filter((d) => LAYER[d] === undefined && d !== TEST_ONLY)).toEqual([]);
  });

  it('no import in packages/*/src breaks a rule', () => {
    const bad: string[] = [];
    let count = 0;
    for (const pkg of packageDirs) {
      if (pkg === TEST_ONLY) continue;
      const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
        optionalDependencies?: Record<string, string>;
      };
      const deps = new Set(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies }));
      const src = join(root, 'packages', pkg, 'src');
      for (const file of sources(src)) {
        for (const imp of importsOf(readFileSync(join(src, file), 'utf8'))) {
          count++;
          const v = violation(pkg, file, imp, deps);
          if (v) bad.push(v);
        }
      }
    }
    expect(count).toBeGreaterThan(300);
    expect(bad).toEqual([]);
  });

  it('tests may use @stelar/test-utils; it is private and no published package depends on it', () => {
    if (!packageDirs.includes(TEST_ONLY)) return;
    const manifest = JSON.parse(readFileSync(join(root, 'packages', TEST_ONLY, 'package.json'), 'utf8')) as { private?: boolean; name: string };
    expect(manifest).toMatchObject({ name: '@stelar/test-utils', private: true });
    for (const pkg of packageDirs) {
      const m = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      expect(Object.keys(m.dependencies ?? {}), pkg).not.toContain('@stelar/test-utils');
    }
  });

  it('the checker sees what is wrong (one wrong import per rule)', () => {
    const deps = new Set(['@stelar/codec-tcp', '@stelar/core', 'ioredis']);
    const bad = (pkg: string, file: string, spec: string, typeOnly = false): string | undefined => violation(pkg, file, { spec, typeOnly }, deps);
    expect(bad('core', 'hub.ts', 'node:events')).toMatch(/no Node module/);
    expect(bad('core', 'hub.ts', 'node:events', true)).toMatch(/no Node module/);
    expect(bad('codec-tcp', 'decode.ts', '@stelar/core')).toMatch(/may not import core/);
    expect(bad('core', 'hub.ts', '@stelar/transport-node')).toMatch(/may not import transport-node/);
    expect(bad('transport-node', 'x.ts', '@stelar/cluster')).toMatch(/may not import cluster/);
    expect(bad('server', 'server.ts', 'node:net')).toMatch(/only transport-node opens sockets/);
    expect(bad('server', 'server.ts', 'node:net', true)).toBeUndefined();
    expect(bad('server', 'server.ts', 'node:http')).toBeUndefined();
    expect(bad('adapter-redis', 'a.ts', 'node:http')).toMatch(/HTTP server/);
    expect(bad('server', 'server.ts', '@stelar/test-utils')).toMatch(/tests only/);
    expect(bad('server', 'server.ts', '@stelar/core/src/hub')).toMatch(/entry points/);
    expect(bad('server', 'server.ts', 'left-pad')).toMatch(/not a dependency/);
    expect(bad('server', 'a/b.ts', '../../../core/src/hub')).toMatch(/leaves the package/);
    expect(bad('server', 'a.ts', './b.js')).toMatch(/no file extension/);
    expect(bad('core', 'client/session.ts', '../pipeline')).toMatch(/client engine imports only the shared/);
    expect(bad('core', 'client/session.ts', '../requests')).toBeUndefined();
    expect(bad('core', 'hub.ts', './client/engine')).toMatch(/does not import the client/);
    expect(bad('core', 'requests.ts', './hub-context')).toMatch(/shared core module/);
    expect(bad('brand-new', 'a.ts', '@stelar/core')).toMatch(/no layer/);
    expect(importsOf("import type { A } from './a';\nimport { type B, type C } from './b';\nimport { d, type E } from './d';\nexport * from './e';\nimport './f';\nconst g = await import('./g');"))
      .toEqual([
        { spec: './a', typeOnly: true },
        { spec: './b', typeOnly: true },
        { spec: './d', typeOnly: false },
        { spec: './e', typeOnly: false },
        { spec: './f', typeOnly: false },
        { spec: './g', typeOnly: false },
      ]);
  });
});
