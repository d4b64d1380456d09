// Binary values inside JSON data in Chromium against the real server (issue 15 item 4;
// docs/protocol.md §3, the attachment form): events, requests and replies, both ways, received
// as Uint8Array. The full engine (stelar.full.min.js, the ESM/CJS entry: BINARY on) and core's
// ClientEngine run the same cases, with the server's recovery off and on (an offset before each
// event's payload, then the attachment form). stelar.min.js (BINARY off) turns what it cannot
// decode into BAD_JSON errors and refuses to send binary values inside data (a TypeError), never
// garbled data. (src/wire.ts against codec-tcp, byte for
// byte: test/wire.test.ts.)
import { describe, expect, it } from 'vitest';
import type { Connection } from '@stelar/server';
import { page, site, until, useChromium, useEngine, type EngineName, type Server } from './harness';

const FULL: EngineName[] = ['browser engine (full)', "core's ClientEngine"];
useChromium(['browser engine', ...FULL]);

type Img = { name: string; bytes: Uint8Array; more?: Uint8Array[] };

/** The server's handlers: `img` echoed back, `thumb` answering with a slice, `len` with a length, `echo`. */
function handlers(got: Img[]): (s: Server) => void {
  return (s) => {
    s.on('img', (m: Img, conn: Connection) => {
      got.push(m);
      conn.emit('img', { name: `back:${m.name}`, bytes: m.bytes, more: m.more });
    });
    s.on('thumb', (m: { bytes: Uint8Array }) => ({ head: m.bytes.subarray(0, 3), size: m.bytes.length }));
    s.on('len', (b: unknown) => (b instanceof Uint8Array ? b.length : -1));
    s.on('echo', (v: unknown) => v);
  };
}

/** On the page: `x.show(v)` turns each Uint8Array inside `v` into { u8: [...bytes] } (anything else binary into { other }). */
const SHOW = `
  x = { got: [], errors: [] };
  x.show = (v) => v instanceof Uint8Array ? { u8: [...v] } : ArrayBuffer.isView(v) || v instanceof ArrayBuffer ? { other: String(v) }
    : Array.isArray(v) ? v.map(x.show) : v && typeof v == 'object' ? Object.fromEntries(Object.entries(v).map(([k, w]) => [k, x.show(w)])) : v;
  x.big = new Uint8Array(600 * 1024).map((_, i) => (i * 131 + 7) & 0xff);
  x.same = (a, b) => a instanceof Uint8Array && a.length === b.length && a.every((v, i) => v === b[i]);
`;

const bigOf = (): Uint8Array => new Uint8Array(600 * 1024).map((_, i) => (i * 131 + 7) & 0xff);

describe.each(FULL)('%s', (engine) => {
  useEngine(engine);

  describe.each([false, true])('server recovery: %s', (recovery) => {
    it('binary values inside data arrive as Uint8Array both ways: events, requests and replies, a 600 KiB one, typed arrays, DataView and ArrayBuffer, binary as the whole data of a request', async () => {
      const got: Img[] = [];
      const s = await site({ recovery }, handlers(got));
      const p = await page(s.url);
      const sent = await p.evaluate(async (code) => {
        eval(code);
        const c = Stelar.createClient('/');
        x.c = c;
        c.on('img', (m: Img) => void x.got.push(m));
        c.on('pick', (m: { choices: Uint8Array[] }) => m.choices[1]);
        c.on('wrap', (b: Uint8Array) => ({ b, n: b.length }));
        c.onLifecycle('error', (e: { code: string }, ev?: string) => void x.errors.push([e.code, ev]));
        await c.connect();
        const q = new Uint8Array([1, 2, 3, 4]);
        c.emit('img', { name: 'small', bytes: new Uint8Array([1, 2, 3]), more: [new ArrayBuffer(2), new DataView(q.buffer, 1, 2), new Int16Array([1, -1]), new Uint8Array(0)] });
        c.emit('img', { name: 'big', bytes: x.big });
        const thumb = await c.request('thumb', { bytes: x.big });
        const len = [await c.request('len', new Int16Array([1, 2, 3])), await c.request('len', new Uint8Array(5)), await c.request('len', q.buffer)];
        const echo = await c.request('echo', { a: [new Uint8Array([5])], plain: { $bin: 0, n: 1 } });
        return { thumb: x.show(thumb), len, echo: x.show(echo) };
      }, SHOW);
      expect(sent.thumb).toEqual({ head: { u8: [7, 138, 13] }, size: 600 * 1024 });
      expect(sent.len).toEqual([6, 5, 4]);
      expect(sent.echo).toEqual({ a: [{ u8: [5] }], plain: { $bin: 0, n: 1 } });

      await until(() => got.length === 2, 'the server to get both images');
      const [small, big] = got;
      expect(small).toEqual({ name: 'small', bytes: new Uint8Array([1, 2, 3]), more: [new Uint8Array([0, 0]), new Uint8Array([2, 3]), new Uint8Array([1, 0, 255, 255]), new Uint8Array(0)] });
      for (const b of [small!.bytes, big!.bytes, ...small!.more!]) expect([b.constructor.name, Buffer.isBuffer(b)]).toEqual(['Uint8Array', false]);
      expect(Buffer.compare(big!.bytes, bigOf())).toBe(0);

      await until(() => p.evaluate(() => x.got.length === 2), 'the echoes');
      const back = await p.evaluate(() => ({ small: x.show(x.got[0]), big: [x.got[1].name, x.same(x.got[1].bytes, x.big)], errors: x.errors }));
      expect(back).toEqual({
        small: { name: 'back:small', bytes: { u8: [1, 2, 3] }, more: [{ u8: [0, 0] }, { u8: [2, 3] }, { u8: [1, 0, 255, 255] }, { u8: [] }] },
        big: ['back:big', true],
        errors: [],
      });

      // The server's requests: data with binary values in, a reply with binary values out (whole, or inside).
      const conn = s.stelar.getConnection(await p.evaluate(() => x.c.id as string))!;
      const chosen = await conn.request('pick', { choices: [new Uint8Array([1]), new Uint8Array([9, 9])] });
      expect(chosen).toEqual(new Uint8Array([9, 9]));
      expect(await conn.request('wrap', new Uint8Array([4, 2]))).toEqual({ b: new Uint8Array([4, 2]), n: 2 });
    });
  });

  it('an object whose only key is "$bin" beside binary values is refused with a TypeError (emit throws, request rejects; a reply becomes HANDLER_ERROR), as the codec does; alone it is ordinary data', async () => {
    const s = await site({}, handlers([]));
    const p = await page(s.url);
    const r = await p.evaluate(async () => {
      const c = Stelar.createClient('/');
      const bad = { a: new Uint8Array(1), b: { $bin: 0 } };
      c.on('ask', () => bad);
      await c.connect();
      let thrown = '';
      try {
        c.emit('img', bad);
      } catch (e) {
        thrown = `${(e as Error).name}: ${(e as Error).message}`;
      }
      const rejected = await c.request('echo', bad).catch((e: Error) => e.name);
      const plain = await c.request('echo', { $bin: 0 });
      return { thrown, rejected, plain, state: c.state, id: c.id as string };
    });
    expect(r.thrown).toMatch(/^TypeError: .*"\$bin"/);
    expect(r).toMatchObject({ rejected: 'TypeError', plain: { $bin: 0 }, state: 'connected' });
    await expect(s.stelar.getConnection(r.id)!.request('ask', 1)).rejects.toMatchObject({ code: 'HANDLER_ERROR' });
  });
});

describe('stelar.min.js (BINARY off)', () => {
  useEngine('browser engine');

  it('a payload in the attachment form is BAD_JSON, never garbled data: an event is an error notification, a server request gets a BAD_JSON reply, a reply rejects the request; the session stays up', async () => {
    const s = await site({}, (srv) => {
      srv.on('photo', () => ({ bytes: new Uint8Array([1, 2]) }));
      srv.on('echo', (v: unknown) => v);
    });
    const p = await page(s.url);
    const id = await p.evaluate(async (code) => {
      eval(code);
      const c = Stelar.createClient('/');
      x.c = c;
      c.on('img', (m: unknown) => void x.got.push(m));
      c.on('pick', () => 'never called');
      c.onLifecycle('error', (e: { code: string; message: string }, ev?: string) => void x.errors.push([e.code, e.message, ev]));
      await c.connect();
      return c.id as string;
    }, SHOW);
    const conn = s.stelar.getConnection(id)!;
    conn.emit('img', { bytes: new Uint8Array([1, 2, 3]) });
    conn.emit('img', { n: 1 });
    await until(() => p.evaluate(() => x.got.length === 1), 'the plain event');
    await expect(conn.request('pick', { choices: [new Uint8Array([1])] })).rejects.toMatchObject({ code: 'BAD_JSON' });
    const r = await p.evaluate(async () => ({
      got: x.show(x.got),
      errors: x.errors,
      reply: await x.c.request('photo').catch((e: { code: string }) => e.code),
      state: x.c.state,
    }));
    expect(r).toEqual({ got: [{ n: 1 }], errors: [['BAD_JSON', 'invalid JSON', 'img']], reply: 'BAD_JSON', state: 'connected' });
  });

  it('refuses a binary value inside data rather than garbling it: emit throws a TypeError naming stelar.full.min.js, request rejects with it, a reply becomes HANDLER_ERROR; nothing reaches the server, binary as the whole data of emit still goes, the session stays up', async () => {
    const got: unknown[] = [];
    const s = await site({}, (srv) => {
      srv.on('img', (m: unknown) => void got.push(m));
      srv.on('echo', (v: unknown) => v);
    });
    const p = await page(s.url);
    const r = await p.evaluate(async () => {
      const c = Stelar.createClient('/');
      c.on('ask', () => ({ bytes: new Uint8Array(1) }));
      await c.connect();
      const thrown = (data: unknown): string => {
        try {
          c.emit('img', data);
          return 'sent';
        } catch (e) {
          return `${(e as Error).name}: ${(e as Error).message}`;
        }
      };
      const b = new Uint8Array([1, 2]);
      const emits = [{ bytes: b }, { ab: new ArrayBuffer(2) }, [new DataView(b.buffer)], new Int16Array(1), { deep: [{ deeper: { f: new Float64Array(1) } }] }].map(thrown);
      const requests = await Promise.all([{ bytes: b }, b, b.buffer].map((d) => c.request('echo', d).then(() => 'resolved', (e: Error) => e.name)));
      // What still goes: binary as the whole data of emit (a BINARY frame), and plain data.
      const whole = [c.emit('img', b), c.emit('img', b.buffer), c.emit('img', { n: 1 })];
      return { emits, requests, whole, state: c.state, id: c.id as string };
    });
    expect(new Set(r.emits)).toEqual(new Set(['TypeError: binary data needs stelar.full.min.js']));
    expect(r.emits).toHaveLength(5);
    expect(r).toMatchObject({ requests: ['TypeError', 'TypeError', 'TypeError'], whole: [true, true, true], state: 'connected' });
    await expect(s.stelar.getConnection(r.id)!.request('ask', 1)).rejects.toMatchObject({ code: 'HANDLER_ERROR' });
    await until(() => got.length === 3, 'the three events that go');
    expect(got.map((g) => (g instanceof Uint8Array ? [...g] : g))).toEqual([[1, 2], [1, 2], { n: 1 }]);
  });

  it('an `auth` with a binary value fails the attempt with that TypeError (it is not sent garbled, and the socket is not left waiting)', async () => {
    let sessions = 0;
    const s = await site({}, (srv) => srv.onConnection(() => void sessions++));
    const p = await page(s.url);
    const r = await p.evaluate(async () => {
      const c = Stelar.createClient('/', { auth: { key: new Uint8Array(4) }, reconnect: false });
      const err = await c.connect().then(() => 'connected', (e: Error) => `${e.name}: ${e.message}`);
      return { err, state: c.state };
    });
    expect(r).toEqual({ err: 'TypeError: binary data needs stelar.full.min.js', state: 'disconnected' });
    expect(sessions).toBe(0);
  });
});
