// The browser client's surface is core's ClientEngine's (the engine in src/engine.ts is a
// separate, smaller implementation), and the <script> bundle's global is the package's exports.
import { describe, expect, it } from 'vitest';
import type { ClientEngine } from '@stelar/core/client';
import * as pkg from '../src/index';
import type { MinGlobal } from '../src/index';

/**
 * Every public member of core's ClientEngine. The type makes this list exact: a member added to
 * ClientEngine fails the typecheck here until the browser engine has it too.
 */
const MEMBERS: Record<keyof ClientEngine, 'method' | 'value'> = {
  messagesSent: 'value',
  messagesReceived: 'value',
  connectedAt: 'value',
  lastError: 'value',
  state: 'value',
  id: 'value',
  connected: 'value',
  queued: 'value',
  rooms: 'value',
  connect: 'method',
  close: 'method',
  on: 'method',
  once: 'method',
  off: 'method',
  onAny: 'method',
  offAny: 'method',
  onLifecycle: 'method',
  emit: 'method',
  request: 'method',
  join: 'method',
  leave: 'method',
};

describe('the browser client has the API of core ClientEngine', () => {
  it('every member, with the same kind and initial values', () => {
    const c = pkg.createClient('ws://127.0.0.1:9/');
    for (const [name, kind] of Object.entries(MEMBERS)) {
      expect(name in c, name).toBe(true);
      expect(typeof (c as unknown as Record<string, unknown>)[name] === 'function', name).toBe(kind === 'method');
    }
    expect([c.state, c.id, c.connected, c.queued, [...c.rooms]]).toEqual(['idle', undefined, false, 0, []]);
    expect(c.url).toBe('ws://127.0.0.1:9/');
    expect(c).toBeInstanceOf(pkg.StelarClient);
    // The chaining methods return the client itself.
    const fn = (): void => undefined;
    expect(c.on('a', fn).once('b', fn).off('a', fn).onAny(fn).offAny(fn)).toBe(c);
  });

  it('the package re-exports core\'s StelarError, ErrorCode and DisconnectCode (one class, one table)', async () => {
    const core = await import('@stelar/core');
    expect(pkg.StelarError).toBe(core.StelarError);
    expect(pkg.ErrorCode).toBe(core.ErrorCode);
    expect(pkg.DisconnectCode).toBe(core.DisconnectCode);
    expect(new pkg.DialError('WS_DIAL_FAILED', 'x')).toBeInstanceOf(core.StelarError);
  });
});

describe('the <script> bundle\'s global', () => {
  it('is the package\'s runtime exports but the bundler-only ones (code tables, dialWebSocket), nothing more or less', async () => {
    const { BUNDLER_ONLY } = await import('../scripts/bundle.mjs');
    expect(BUNDLER_ONLY.every((k) => k in pkg)).toBe(true);
    const g = globalThis as { Stelar?: Record<string, unknown> };
    delete g.Stelar;
    await import('../src/global');
    const expected = Object.entries(pkg).filter(([k]) => !BUNDLER_ONLY.includes(k));
    expect(Object.keys(g.Stelar!).sort()).toEqual(expected.map(([k]) => k).sort());
    for (const [k, v] of expected) expect(g.Stelar![k], k).toBe(v);
    // stelar.min.js's declared global (MinGlobal) names the same exports.
    const declared: Record<keyof MinGlobal, true> = { connect: true, createClient: true, StelarClient: true, StelarError: true, DialError: true, resolveUrl: true };
    expect(Object.keys(declared).sort()).toEqual(expected.map(([k]) => k).sort());
    delete g.Stelar;
  });
});

describe('the types of @stelar/client-browser/stelar.min.js and stelar.full.min.js', () => {
  it.each(['min', 'full'] as const)('%s: declare the global Stelar as the package exports (but the bundler-only ones), with the features of that file, for ESM and CommonJS consumers', async (which) => {
    const ts = (await import('typescript')).default;
    const { types, FILES } = await import('../scripts/bundle.mjs');
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join, resolve } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'stelar-types-'));
    const base = FILES[which].file.slice(0, -'.js'.length);
    try {
      const src = resolve(__dirname, '../src/index');
      // A dist/ as the build lays it out, its index types standing in for tsup's.
      for (const [index, dts] of [['index.js', `${base}.d.ts`], ['index.cjs', `${base}.d.cts`]] as const) {
        writeFileSync(join(dir, index.replace(/\.(c?)js$/, '.d.$1ts')), `export * from ${JSON.stringify(src)};\n`);
        writeFileSync(join(dir, dts), types(index, FILES[which].file));
      }
      // What only the full file has is an error with the small one's types.
      const full = which === 'full' ? '' : '// @ts-expect-error: stelar.full.min.js only\n';
      // Binary values inside data: sent by the full file, refused by the small one (README, Binary data).
      const bin = which === 'full' ? '' : '// @ts-expect-error: binary inside data, stelar.full.min.js only\n';
      const use = (from: string) => `import ${JSON.stringify(from)};
type Events = {
  sum: (a: { a: number; b: number }) => number;
  avatar: (png: Uint8Array) => void;
  photo: (p: { name: string; bytes: Uint8Array }) => void;
  parts: (p: { list?: ArrayBuffer[][] }) => void;
  len: (b: Uint8Array) => number;
  either: (m: string | { pcm: Int16Array }) => void;
};
const c = Stelar.connect<Events>('/', { auth: { token: 't' } });
const n: Promise<number> = c.request('sum', { a: 1, b: 2 });
c.emit('avatar', new Uint8Array(1), { volatile: true });
c.emit('either', 'text');
${bin}c.emit('photo', { name: 'a.png', bytes: new Uint8Array(1) });
${bin}c.emit('parts', {});
${bin}c.emit('either', { pcm: new Int16Array(1) });
${bin}void c.request('len', new Uint8Array(1));
const anyData = Stelar.createClient('/');
anyData.emit('x', { bytes: new Uint8Array(1) }); // untyped data compiles (and is refused at run time by the small file)
const client: InstanceType<typeof Stelar.StelarClient> = c;
void client;
const e: InstanceType<typeof Stelar.StelarError> = new Stelar.DialError('WS_DIAL_FAILED', 'x');
void n; void e;
c.onLifecycle('reconnecting', ({ attempt }) => void attempt);
${full}c.onLifecycle('connect_error', (err) => void err);
${full}void c.messagesSent;
${full}void c.connect({ timeout: 5000 });
${full}Stelar.createClient('/', { logger: console });
// @ts-expect-error: not an export
Stelar.nothing;
// @ts-expect-error: bundler-only, not on the global
Stelar.ErrorCode;
// @ts-expect-error: bundler-only, not on the global
Stelar.dialWebSocket;
`;
      writeFileSync(join(dir, 'esm.mts'), use(`./${base}.js`));
      writeFileSync(join(dir, 'cjs.cts'), use(`./${base}.cjs`));
      const program = ts.createProgram([join(dir, 'esm.mts'), join(dir, 'cjs.cts')], {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        // Bundler resolution: the stand-in index types point at src/, written for it.
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        target: ts.ScriptTarget.ES2022,
        lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
        types: [],
      });
      const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
