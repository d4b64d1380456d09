// The <script> bundle in Chromium against the real server: every behaviour of core's ClientEngine
// that @stelar/client-node's tests check, here for the browser's own engine (src/engine.ts).
// Timing bounds are generous (a loaded 2-core machine); none is an upper bound under 2 s.
import { describe, expect, it } from 'vitest';
import { encodeAckRequest, encodeDisconnect, encodeFrame, encodeJson, encodeServerConnect, FrameType } from '@stelar/codec-tcp';
import { linkOf } from '@stelar/core/internal';
import { AuthError, StelarError } from '@stelar/server';
import { freePort, page, site, tick, until, useChromium, useEngine, type EngineName, type Server } from './harness';

// The same tests run against this package's engine as stelar.min.js has it, as
// stelar.full.min.js has it (every feature on: with recovery off on the server, as here, the wire
// is the same), and core's ClientEngine (test/core-engine.ts), so a difference between them shows
// up as a failure here.
const ENGINES: EngineName[] = ['browser engine', 'browser engine (full)', "core's ClientEngine"];
useChromium(ENGINES);

/** Handlers most tests use. */
function standard(s: Server): void {
  s.on('sum', ({ a, b }: { a: number; b: number }) => a + b);
  s.on('echo', (v: unknown) => v);
  s.on('blob', (b: Uint8Array, conn) => void conn.emit('blob', b));
  s.on('fail', () => {
    throw new StelarError('NOPE', 'not today');
  });
}

/** The page records its client's lifecycle in `x.log` (and sent frames' type bytes in `x.sent`, via a WebSocket spy). */
const RECORD = `
  x = { log: [], sent: [], errors: [] };
  x.Spy = class extends WebSocket { send(d) { x.sent.push(Array.from(d)); super.send(d); } };
  x.record = (c) => {
    for (const n of ['state', 'connected', 'disconnected', 'reconnecting', 'reconnect_failed'])
      c.onLifecycle(n, (i) => x.log.push(n === 'state' ? 'state:' + i : n === 'disconnected' ? ['disconnected', i.code, i.reason, i.willReconnect] : n));
    c.onLifecycle('error', (e, ev) => x.errors.push([e.code, ev]));
    return c;
  };
`;

describe.each(ENGINES)('%s', (engine) => {
  useEngine(engine);

  describe('connecting', () => {
    it('a refused port is retried with full-jitter backoff, then reconnect_failed after maxAttempts; connect() rejects with a DialError; a later connect() starts over', async () => {
      const s = await site();
      const port = await freePort();
      const p = await page(s.url);
      const r = await p.evaluate(
        async ([port, code]) => {
          eval(code);
          const c = x.record(Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: { baseDelay: 8, factor: 2, maxDelay: 40, maxAttempts: 5 } }));
          const delays: number[] = [];
          c.onLifecycle('reconnecting', ({ attempt, delay }: { attempt: number; delay: number }) => void delays.push(attempt, delay));
          const failed = new Promise((r) => c.onLifecycle('reconnect_failed', (f: { attempts: number; error: unknown }) => r({ attempts: f.attempts, code: (f.error as { code: string }).code })));
          const err = await c.connect().catch((e: unknown) => e);
          const again = await c.connect().catch((e: { code: string }) => e.code);
          return { delays, failed: await failed, err: { name: err.name, code: err.code, fatal: err.fatal, isStelar: err instanceof Stelar.StelarError }, log: x.log, again, state: c.state };
        },
        [port, RECORD] as const,
      );
      const attempts = r.delays.filter((_, i) => i % 2 === 0);
      const delays = r.delays.filter((_, i) => i % 2 === 1);
      expect(attempts).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]); // the second connect() has a fresh budget
      // Full jitter: each delay is an integer in [0, min(maxDelay, baseDelay · factor^n)].
      delays.forEach((d, i) => {
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(40, 8 * 2 ** (i % 5)));
      });
      expect(r.failed).toEqual({ attempts: 5, code: 'WS_DIAL_FAILED' });
      expect(r.err).toEqual({ name: 'DialError', code: 'WS_DIAL_FAILED', fatal: false, isStelar: true });
      expect(r.log[0]).toBe('state:connecting');
      expect(r.log.filter((l: unknown) => l === 'reconnect_failed')).toHaveLength(2);
      expect([r.again, r.state]).toEqual(['WS_DIAL_FAILED', 'disconnected']);
    });

    it('reconnect: false gives up after the first failure', async () => {
      const s = await site();
      const port = await freePort();
      const p = await page(s.url);
      const r = await p.evaluate(
        async ([port, code]) => {
          eval(code);
          const c = x.record(Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: false }));
          const err = await c.connect().catch((e: { code: string }) => e.code);
          return { err, log: x.log };
        },
        [port, RECORD] as const,
      );
      expect(r).toEqual({ err: 'WS_DIAL_FAILED', log: ['state:connecting', 'state:disconnected'] });
    });

    it('connectTimeout bounds a server whose connection middleware never answers: TIMEOUT, each attempt closed, then retried per the policy', async () => {
      let seen = 0;
      const s = await site({}, (srv) =>
        srv.use(() => {
          seen++;
          return new Promise<void>(() => undefined);
        }),
      );
      const p = await page(s.url);
      const r = await p.evaluate(async (code) => {
        eval(code);
        const c = x.record(Stelar.createClient('/', { connectTimeout: 150, reconnect: { baseDelay: 1, maxDelay: 5, maxAttempts: 1 } }));
        const t0 = performance.now();
        const err = await c.connect().catch((e: { code: string; message: string }) => e);
        return { code: err.code, message: err.message, ms: performance.now() - t0, log: x.log };
      }, RECORD);
      expect(r.code).toBe('TIMEOUT');
      expect(r.message).toContain('150 ms');
      expect(r.ms).toBeGreaterThanOrEqual(290); // two attempts of 150 ms
      // Attempts before the first session are `connecting` again (as core's engine does).
      expect(r.log).toEqual(['state:connecting', 'state:reconnecting', 'reconnecting', 'state:connecting', 'reconnect_failed', 'state:disconnected']);
      expect(seen).toBe(2);
      await until(() => s.stelar.getStats().connections.open === 0, 'the server to see both sockets closed');
    });

    it('a refusal (AuthError) rejects with UNAUTHORIZED and never reconnects; an auth function is called before every connection', async () => {
      const seen: unknown[] = [];
      const s = await site({}, (srv) =>
        srv.use(async (conn, next) => {
          seen.push(conn.auth);
          if ((conn.auth as { token?: string } | undefined)?.token !== 'secret') throw new AuthError('bad token');
          await next();
        }),
      );
      const p = await page(s.url);
      const r = await p.evaluate(async (code) => {
        eval(code);
        const bad = x.record(Stelar.createClient('/', { auth: { token: 'nope' }, reconnect: { baseDelay: 1, maxDelay: 5 } }));
        const err = await bad.connect().catch((e: { code: string; message: string }) => [e.code, e.message]);
        await new Promise((r) => setTimeout(r, 100));
        let n = 0;
        const good = Stelar.createClient('/', { auth: () => ({ token: 'secret', n: ++n }), reconnect: { baseDelay: 1, maxDelay: 5 } });
        await good.connect();
        x.good = good;
        return { err, log: x.log, state: bad.state };
      }, RECORD);
      // A refusal ends the client: a final `disconnected` (willReconnect: false), no `reconnecting`.
      expect(r).toEqual({ err: ['UNAUTHORIZED', 'bad token'], log: ['state:connecting', 'state:disconnected', ['disconnected', 4001, 'bad token', false]], state: 'disconnected' });
      // The auth function runs again for a reconnection.
      const first = [...s.stelar.connections.values()][0]!;
      linkOf(first).terminate();
      await until(async () => seen.length === 3 && (await p.evaluate(() => x.good.connected as boolean)), 'the reconnection');
      expect(seen).toEqual([{ token: 'nope' }, { token: 'secret', n: 1 }, { token: 'secret', n: 2 }]);
      expect(s.stelar.getStats().connections.rejected).toBe(1);
    });

    it('a server failing in its connection middleware (ERROR INTERNAL_ERROR, close 1011) is not a refusal: retried even on the first connection', async () => {
      let calls = 0;
      const s = await site({}, (srv) =>
        srv.use(async (_conn, next) => {
          if (++calls === 1) throw new Error('database down');
          await next();
        }),
      );
      const p = await page(s.url);
      const r = await p.evaluate(async (code) => {
        eval(code);
        const c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } }));
        await c.connect();
        return { connected: c.connected, log: x.log };
      }, RECORD);
      expect(r.connected).toBe(true);
      expect(calls).toBe(2);
      expect(r.log).toEqual(['state:connecting', 'state:reconnecting', 'reconnecting', 'state:connecting', 'state:connected', 'connected']);
    });

    it('a refusal on a reconnection (credentials expired) stops reconnecting too', async () => {
      let allow = true;
      const s = await site({}, (srv) =>
        srv.use(async (_conn, next) => {
          if (!allow) throw new AuthError('token expired');
          await next();
        }),
      );
      const p = await page(s.url);
      await p.evaluate(async (code) => {
        eval(code);
        x.c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 1, maxDelay: 5 } }));
        await x.c.connect();
      }, RECORD);
      allow = false;
      linkOf([...s.stelar.connections.values()][0]!).terminate();
      await p.waitForFunction(() => x.c.state === 'disconnected', undefined, { timeout: 8000 });
      const log = await p.evaluate(() => x.log.filter((l: unknown) => Array.isArray(l)));
      expect(log).toEqual([
        ['disconnected', 1006, '', true],
        ['disconnected', 4001, 'token expired', false],
      ]);
    });

    it('a server disconnect with an application code reconnects; with 4001 it stops for good', async () => {
      const s = await site();
      const p = await page(s.url);
      await p.evaluate(async (code) => {
        eval(code);
        x.c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } }));
        await x.c.connect();
      }, RECORD);
      const first = await p.evaluate(() => x.c.id as string);
      s.stelar.getConnection(first)!.disconnect(4100, 'maintenance');
      await p.waitForFunction((first) => x.c.connected && x.c.id !== first, first, { timeout: 8000 });
      s.stelar.getConnection(await p.evaluate(() => x.c.id as string))!.disconnect(4001, 'banned');
      await p.waitForFunction(() => x.c.state === 'disconnected', undefined, { timeout: 8000 });
      await tick(50);
      expect(await p.evaluate(() => x.log.filter((l: unknown) => Array.isArray(l)))).toEqual([
        ['disconnected', 4100, 'maintenance', true],
        ['disconnected', 4001, 'banned', false],
      ]);
      expect(s.stelar.getStats().connections.total).toBe(2);
    });

    it('over maxConnections the client is turned away (not a refusal: it retries) and gets in once a place is free', async () => {
      const s = await site({ maxConnections: 1 });
      const p = await page(s.url);
      await p.evaluate(async () => {
        x = {};
        x.first = Stelar.createClient('/');
        await x.first.connect();
        x.retries = 0;
        x.second = Stelar.createClient('/', { reconnect: { baseDelay: 10, maxDelay: 20 } });
        x.second.onLifecycle('reconnecting', () => void x.retries++);
        x.in = x.second.connect();
      });
      await p.waitForFunction(() => x.retries >= 2, undefined, { timeout: 8000 });
      expect(await p.evaluate(() => x.second.connected)).toBe(false);
      await p.evaluate(async () => {
        x.first.close();
        await x.in;
      });
      expect(s.stelar.getStats().connections.open).toBe(1);
    });

    it('close(code, reason) reaches the server; connect() after close() opens a new session', async () => {
      const s = await site({}, standard);
      const gone = new Promise<[number, string]>((r) => s.stelar.onDisconnect((_conn, code, reason) => r([code, reason])));
      const p = await page(s.url);
      const r = await p.evaluate(async () => {
        const c = Stelar.createClient('/');
        await c.connect();
        const first = c.id;
        const down = new Promise<void>((r) => c.onLifecycle('state', (st) => st === 'disconnected' && r()));
        c.close(4100, 'bye');
        const closedState = c.state; // until the socket is closed
        await down;
        await c.connect();
        return { closedState, differs: c.id !== first, sum: await c.request('sum', { a: 2, b: 2 }), state: c.state };
      });
      await expect(gone).resolves.toEqual([4100, 'bye']);
      expect(r).toEqual({ closedState: 'connected', differs: true, sum: 4, state: 'connected' });
    });

    it('a close reason over the 123 bytes a close frame holds is cut at a character boundary (2- and 4-byte UTF-8 characters)', async () => {
      const reasons: string[] = [];
      const s = await site({}, (srv) => srv.onDisconnect((_conn, _code, reason) => void reasons.push(reason)));
      const p = await page(s.url);
      for (const reason of ['é'.repeat(100), 'a' + '😀'.repeat(40), 'x'.repeat(123)]) {
        await p.evaluate(async (reason) => {
          const c = Stelar.createClient('/');
          await c.connect();
          const down = new Promise<void>((r) => c.onLifecycle('state', (st) => st === 'disconnected' && r()));
          c.close(4100, reason);
          await down;
        }, reason);
      }
      await until(() => reasons.length === 3, 'three disconnections');
      expect(reasons).toEqual(['é'.repeat(61), 'a' + '😀'.repeat(30), 'x'.repeat(123)]);
    });
  });

  describe('requests', () => {
    /** A server whose `hang` handler answers only when the test says so. */
    async function hanging() {
      const answers: ((v: string) => void)[] = [];
      const calls: string[] = [];
      const s = await site({}, (srv) => {
        standard(srv);
        srv.on('hang', (tag: string) => {
          calls.push(tag);
          return new Promise<string>((r) => answers.push(r));
        });
      });
      return { s, answers, calls };
    }

    it('a request times out with TIMEOUT (per request and the client default); a late reply is ignored', async () => {
      const { s, answers } = await hanging();
      const p = await page(s.url);
      const r = await p.evaluate(async () => {
        const c = Stelar.createClient('/', { requestTimeout: 150 });
        x = { c };
        await c.connect();
        const t0 = performance.now();
        const a = await c.request('hang', 'a', { timeout: 60 }).catch((e: { code: string; message: string }) => [e.code, e.message, performance.now() - t0]);
        const b = await c.request('hang', 'b').catch((e: { code: string; message: string }) => [e.code, e.message, performance.now() - t0]);
        return { a, b };
      });
      expect(r.a.slice(0, 2)).toEqual(['TIMEOUT', 'request "hang" timed out after 60 ms']);
      expect(r.a[2]).toBeGreaterThanOrEqual(55);
      expect(r.b.slice(0, 2)).toEqual(['TIMEOUT', 'request "hang" timed out after 150 ms']);
      expect(r.b[2]).toBeGreaterThanOrEqual(200);
      for (const answer of answers) answer('late');
      await tick(50);
      expect(await p.evaluate(async () => [x.c.state, await x.c.request('sum', { a: 1, b: 2 })])).toEqual(['connected', 3]);
    });

    it('an AbortSignal cancels a request in flight, before it is sent, and while it is queued; a queued request times out and leaves the queue', async () => {
      const { s, calls } = await hanging();
      const p = await page(s.url);
      const queued = await p.evaluate(async () => {
        const c = Stelar.createClient('/');
        x = { c };
        const ac = new AbortController();
        const q = c.request('hang', 'queued', { signal: ac.signal }).catch((e: { code: string }) => e.code);
        const before = c.queued;
        ac.abort();
        const timedOut = await c.request('sum', { a: 1, b: 1 }, { timeout: 50 }).catch((e: { code: string }) => e.code);
        return [before, await q, c.queued, timedOut, c.queued];
      });
      expect(queued).toEqual([1, 'ABORTED', 0, 'TIMEOUT', 0]);
      await p.evaluate(async () => {
        await x.c.connect();
        x.ac = new AbortController();
        x.inFlight = x.c.request('hang', 'in flight', { signal: x.ac.signal }).catch((e: { code: string }) => e.code);
      });
      await until(() => calls.length === 1, 'the request to reach the server');
      const r = await p.evaluate(async () => {
        x.ac.abort();
        return [await x.inFlight, await x.c.request('hang', 'never sent', { signal: AbortSignal.abort() }).catch((e: { code: string }) => e.code)];
      });
      expect(r).toEqual(['ABORTED', 'ABORTED']);
      await tick(30);
      expect(calls).toEqual(['in flight']); // neither the queued nor the pre-aborted one reached the server
    });

    it('many concurrent requests each get their own reply', async () => {
      const s = await site({}, (srv) =>
        srv.on('slow', async (n: number) => {
          await tick((n * 7) % 13);
          return n * 2;
        }),
      );
      const p = await page(s.url);
      const replies = await p.evaluate(async () => {
        const c = Stelar.createClient('/');
        await c.connect();
        return Promise.all(Array.from({ length: 300 }, (_, i) => c.request('slow', i)));
      });
      expect(replies).toEqual(Array.from({ length: 300 }, (_, i) => i * 2));
    });

    it('a dropped connection rejects requests on the wire with DISCONNECTED; retry: true ones are sent again and answered after the reconnection', async () => {
      let flakyCalls = 0;
      const { s, calls } = await hanging();
      s.stelar.on('flaky', (n: number, conn) => {
        if (flakyCalls++ > 0) return n * 2;
        setTimeout(() => linkOf(conn).terminate(), 20);
        return new Promise<number>(() => undefined);
      });
      const p = await page(s.url);
      await p.evaluate(async () => {
        const c = Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } });
        x = { c };
        await c.connect();
        x.plain = c.request('hang', 'plain').catch((e: { code: string }) => e.code);
      });
      await until(() => calls.length === 1, 'the plain request to reach the server');
      const r = await p.evaluate(async () => {
        const retried = x.c.request('flaky', 21, { retry: true });
        return [await x.plain, await retried, x.c.state];
      });
      expect(r).toEqual(['DISCONNECTED', 42, 'connected']);
      expect(flakyCalls).toBe(2);
    });

    it("the server's requests: replies, async replies, thrown codes, NO_HANDLER, an unanswered one times out at the server, a reply JSON cannot carry, a body that is not JSON", async () => {
      const s = await site();
      const p = await page(s.url);
      await p.evaluate(async (code) => {
        eval(code);
        const c = Stelar.createClient('/', { WebSocket: x.Spy });
        x.c = c;
        c.on('confirm', (q: string) => q === 'ok?');
        c.on('compute', async (n: number) => {
          await new Promise((r) => setTimeout(r, 10));
          return n * 2;
        });
        c.on('coded', () => {
          throw Object.assign(new Error('nope'), { code: 'MY_CODE' });
        });
        c.on('plain', () => Promise.reject(new Error('broke')));
        c.on('never', () => new Promise(() => undefined));
        c.on('bigint', () => BigInt(1));
        await c.connect();
      }, RECORD);
      const conn = s.stelar.getConnection(await p.evaluate(() => x.c.id as string))!;
      await expect(conn.request('confirm', 'ok?')).resolves.toBe(true);
      await expect(conn.request('compute', 21)).resolves.toBe(42);
      await expect(conn.request('coded', 0)).rejects.toMatchObject({ code: 'MY_CODE', message: 'nope' });
      await expect(conn.request('plain', 0)).rejects.toMatchObject({ code: 'HANDLER_ERROR', message: 'broke' });
      await expect(conn.request('nobody', 1)).rejects.toMatchObject({ code: 'NO_HANDLER' });
      await expect(conn.request('bigint', 1)).rejects.toMatchObject({ code: 'HANDLER_ERROR' });
      await expect(conn.request('never', 1, { timeout: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
      // A request whose body is not JSON: the client answers BAD_JSON (ACK_RES, status 1).
      const bad = encodeAckRequest(77, 'confirm', 'x');
      const raw = new Uint8Array([...bad.subarray(0, bad.length - 3), 0x7b, 0x7b, 0x7b]);
      linkOf(conn).send(raw);
      // ACK_RES: type 6, event length 7, "confirm", id 77, status 1 (error), then the body.
      const head = [6, 0, 7, ...new TextEncoder().encode('confirm'), 0, 0, 0, 77, 1];
      await p.waitForFunction((head) => x.sent.some((f: number[]) => head.every((b, i) => f[i] === b)), head, { timeout: 5000 });
      const ack = await p.evaluate((head) => x.sent.find((f: number[]) => head.every((b, i) => f[i] === b)) as number[], head);
      expect(JSON.parse(new TextDecoder().decode(new Uint8Array(ack.slice(head.length))))).toMatchObject({ code: 'BAD_JSON' });
      expect(await p.evaluate(() => x.c.state)).toBe('connected');
    });

    it("a frame bigger than the server's announced maxFrame is refused locally (FRAME_TOO_LARGE), the connection stays up", async () => {
      const s = await site({ maxFrameSize: 2048 }, standard);
      const p = await page(s.url);
      const r = await p.evaluate(async (code) => {
        eval(code);
        const c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } }));
        await c.connect();
        const big = 'x'.repeat(5000);
        const req = await c.request('echo', big, { retry: true, timeout: 400 }).catch((e: { code: string }) => e.code);
        let thrown = '';
        try {
          c.emit('echo', big);
        } catch (e) {
          thrown = `${(e as { code: string }).code}: ${(e as Error).message}`;
        }
        return { req, thrown, fits: await c.request('echo', 'fits'), log: x.log };
      }, RECORD);
      expect(r.req).toBe('FRAME_TOO_LARGE');
      expect(r.thrown).toMatch(/^FRAME_TOO_LARGE: .*exceeds the server's limit of 2048/);
      expect(r.fits).toBe('fits');
      expect(r.log).toEqual(['state:connecting', 'state:connected', 'connected']);
      expect(s.stelar.getStats().connections.total).toBe(1);
    });
  });

  describe('offline queue', () => {
    /** A server that records the `chat` messages it receives, in order. */
    async function recording() {
      const got: number[] = [];
      const s = await site({}, (srv) => {
        standard(srv);
        srv.on('chat', (m: { n: number }) => void got.push(m.n));
      });
      return { s, got, p: await page(s.url) };
    }
    const chat = (n: number, text = 'x') => ({ n, text });
    const size = (n: number, text = 'x'): number => encodeJson('chat', chat(n, text)).length;

    it('messages sent before the first connection are queued and delivered in order; volatile ones are dropped; requests wait too', async () => {
      const { p, got } = await recording();
      const r = await p.evaluate(async () => {
        const c = Stelar.createClient('/');
        const sent = [c.emit('chat', { n: 1, text: '' }), c.emit('chat', { n: 2, text: '' }, { volatile: true }), c.emit('chat', { n: 3, text: '' })];
        const sum = c.request('sum', { a: 1, b: 1 });
        const queued = c.queued;
        await c.connect();
        return { sent, queued, sum: await sum, after: c.queued };
      });
      expect(r).toEqual({ sent: [true, false, true], queued: 3, sum: 2, after: 0 });
      await until(() => got.length === 2);
      expect(got).toEqual([1, 3]);
    });

    it('maxMessages: drop-oldest (default) keeps the newest and rejects an evicted request with QUEUE_FULL; drop-newest refuses; error throws', async () => {
      const { p, got } = await recording();
      const r = await p.evaluate(async () => {
        const chat = (n: number) => ({ n, text: '' });
        const oldest = Stelar.createClient('/', { queue: { maxMessages: 3 } });
        const evicted = oldest.request('sum', { a: 1, b: 2 }).catch((e: { code: string }) => e.code);
        const a = [1, 2, 3, 4, 5].map((n) => oldest.emit('chat', chat(n)));
        const newest = Stelar.createClient('/', { queue: { maxMessages: 3, policy: 'drop-newest' } });
        const b = [11, 12, 13, 14].map((n) => newest.emit('chat', chat(n)));
        const refused = await newest.request('sum', { a: 1, b: 2 }).catch((e: { code: string }) => e.code);
        const strict = Stelar.createClient('/', { queue: { maxMessages: 2, policy: 'error' } });
        strict.emit('chat', chat(21));
        strict.emit('chat', chat(22));
        let thrown: unknown;
        try {
          strict.emit('chat', chat(23));
        } catch (e) {
          thrown = [e instanceof Stelar.StelarError, (e as { code: string }).code];
        }
        const strictReq = await strict.request('sum', { a: 1, b: 2 }, { timeout: 200 }).catch((e: { code: string }) => e.code);
        const queued = [oldest.queued, newest.queued, strict.queued];
        await Promise.all([oldest.connect(), newest.connect(), strict.connect()]);
        return { evicted: await evicted, a, b, refused, thrown, strictReq, queued };
      });
      expect(r).toEqual({
        evicted: 'QUEUE_FULL',
        a: [true, true, true, true, true],
        b: [true, true, true, false],
        refused: 'QUEUE_FULL',
        thrown: [true, 'QUEUE_FULL'],
        strictReq: 'QUEUE_FULL',
        queued: [3, 3, 2],
      });
      await until(() => got.length === 8);
      expect([...got].sort((m, n) => m - n)).toEqual([3, 4, 5, 11, 12, 13, 21, 22]);
    });

    it('maxBytes: drop-oldest evicts until the new message fits, drop-newest refuses what does not fit, error throws; a message bigger than maxBytes is never queued', async () => {
      const { p, got } = await recording();
      const text = 'y'.repeat(100);
      const one = size(1, text); // every chat(n < 10) with this text has this size
      const maxBytes = Math.floor(one * 2.5); // room for two
      expect(size(9, '')).toBeLessThanOrEqual(maxBytes - 2 * one);
      const r = await p.evaluate(
        async ([maxBytes, text]) => {
          const chat = (n: number, t = text) => ({ n, text: t });
          const oldest = Stelar.createClient('/', { queue: { maxBytes, maxMessages: 100 } });
          const a = [1, 2, 3, 4, 5].map((n) => oldest.emit('chat', chat(n)));
          const newest = Stelar.createClient('/', { queue: { maxBytes, policy: 'drop-newest' } });
          const b = [6, 7, 8].map((n) => newest.emit('chat', chat(n)));
          const small = newest.emit('chat', chat(9, '')); // still fits in what is left
          const strict = Stelar.createClient('/', { queue: { maxBytes, policy: 'error' } });
          strict.emit('chat', chat(1));
          strict.emit('chat', chat(2));
          let thrown = '';
          try {
            strict.emit('chat', chat(3));
          } catch (e) {
            thrown = (e as { code: string }).code;
          }
          const huge = Stelar.createClient('/', { queue: { maxBytes } });
          const hugeSent = huge.emit('chat', chat(0, 'z'.repeat(maxBytes)));
          const hugeReq = await huge.request('echo', 'z'.repeat(maxBytes)).catch((e: { code: string }) => e.code);
          const queued = [oldest.queued, newest.queued, strict.queued, huge.queued];
          await Promise.all([oldest.connect(), newest.connect(), strict.connect(), huge.connect()]);
          return { a, b, small, thrown, hugeSent, hugeReq, queued };
        },
        [maxBytes, text] as const,
      );
      expect(r).toEqual({ a: [true, true, true, true, true], b: [true, true, false], small: true, thrown: 'QUEUE_FULL', hugeSent: false, hugeReq: 'QUEUE_FULL', queued: [2, 3, 2, 0] });
      await until(() => got.length === 7);
      expect([...got].sort((m, n) => m - n)).toEqual([1, 2, 4, 5, 6, 7, 9]);
    });

    it('queue: false drops messages sent while offline and rejects requests with QUEUE_FULL; close() drops the queue and rejects queued requests with DISCONNECTED', async () => {
      const { p, got } = await recording();
      const r = await p.evaluate(async () => {
        const none = Stelar.createClient('/', { queue: false });
        const a = [none.emit('chat', { n: 1, text: '' }), await none.request('sum', { a: 1, b: 2 }).catch((e: { code: string }) => e.code), none.queued];
        await none.connect();
        none.emit('chat', { n: 2, text: '' });
        const c = Stelar.createClient('/');
        c.emit('chat', { n: 3, text: '' });
        const req = c.request('sum', { a: 1, b: 2 }).catch((e: { code: string }) => e.code);
        c.close();
        const b = [await req, c.queued, c.emit('chat', { n: 4, text: '' }), await c.request('sum', { a: 1, b: 2 }).catch((e: { code: string }) => e.code), c.state];
        return { a, b };
      });
      expect(r).toEqual({ a: [false, 'QUEUE_FULL', 0], b: ['DISCONNECTED', 0, false, 'DISCONNECTED', 'disconnected'] });
      await until(() => got.length === 1);
      await tick(50);
      expect(got).toEqual([2]);
    });
  });

  describe('rooms', () => {
    it('joined while offline; refused joins reject with the server code; left rooms are not re-joined; a re-join refused after reconnecting is an error notification', async () => {
      let refuseAll = false;
      const s = await site({ authorizeJoin: (_conn, room) => !refuseAll && !room.startsWith('vip') }, standard);
      const p = await page(s.url);
      const r = await p.evaluate(async (code) => {
        eval(code);
        const c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } }));
        x.c = c;
        const early = c.join('lobby');
        const twice = c.join('lobby');
        const refused = c.join('vip-lounge').catch((e: { code: string; message: string }) => [e.code, e.message]);
        const offline = [...c.rooms];
        await c.connect();
        await early;
        await twice;
        const refusal = await refused;
        const after = [...c.rooms];
        await c.join('kitchen');
        await c.leave('kitchen');
        await c.join('lobby'); // already in: resolves at once
        return { offline, refused: refusal, after, rooms: [...c.rooms] };
      }, RECORD);
      expect(r).toEqual({ offline: ['lobby', 'vip-lounge'], refused: ['REJECTED', 'not allowed to join "vip-lounge"'], after: ['lobby'], rooms: ['lobby'] });
      const id = await p.evaluate(() => x.c.id as string);
      expect([...s.stelar.getConnection(id)!.rooms].sort()).toEqual(['lobby']);

      // After a drop, only `lobby` is re-joined, before anything else is sent.
      linkOf(s.stelar.getConnection(id)!).terminate();
      await p.waitForFunction((id) => x.c.connected && x.c.id !== id, id, { timeout: 8000 });
      const id2 = await p.evaluate(() => x.c.id as string);
      await until(() => s.stelar.getConnection(id2)?.rooms.has('lobby') === true, 'the re-join');
      expect(await s.stelar.to('kitchen').count()).toBe(0);

      // A re-join the server refuses, with nobody waiting in join(): an `error` notification.
      refuseAll = true;
      linkOf(s.stelar.getConnection(id2)!).terminate();
      await p.waitForFunction(() => x.errors.length > 0, undefined, { timeout: 8000 });
      expect(await p.evaluate(() => [x.errors, [...x.c.rooms], x.c.connected])).toEqual([[['REJECTED', 'lobby']], [], true]);
    });

    it('leave() before the join was accepted rejects the join with REJECTED', async () => {
      const s = await site({}, standard);
      const p = await page(s.url);
      const r = await p.evaluate(async () => {
        const c = Stelar.createClient('/');
        const j = c.join('lobby').catch((e: { code: string; message: string }) => [e.code, e.message]);
        await c.leave('lobby');
        await c.connect();
        return [await j, [...c.rooms]];
      });
      expect(r).toEqual([['REJECTED', 'left "lobby" before it was joined'], []]);
    });
  });

  describe('events', () => {
    it('on, once, off, onAny, offAny; JSON, binary (Uint8Array, ArrayBuffer, empty) and no data, both ways', async () => {
      const got: unknown[] = [];
      const s = await site({}, (srv) => {
        standard(srv);
        srv.on('nothing', (d: unknown) => void got.push(['nothing', d]));
      });
      const p = await page(s.url);
      await p.evaluate(async () => {
        const c = Stelar.createClient('/');
        x = { c, log: [] };
        const log = (tag: string) => (d: unknown) => void x.log.push([tag, d instanceof Uint8Array ? ['bytes', ...d] : d]);
        x.offMe = log('off');
        x.anyFn = (ev: string) => void x.log.push(['any', ev]);
        c.on('news', log('on')).once('news', log('once')).on('news', x.offMe).off('news', x.offMe).onAny(x.anyFn);
        c.on('blob', log('blob'));
        c.on('empty', log('empty'));
        await c.connect();
        c.emit('blob', new Uint8Array([1, 2, 255]));
        c.emit('blob', new Uint8Array([7, 8]).buffer);
        c.emit('blob', new Uint8Array(0));
        c.emit('nothing');
      });
      await until(() => got.length === 1);
      await p.waitForFunction(() => x.log.length === 6, undefined, { timeout: 5000 });
      const conn = s.stelar.getConnection(await p.evaluate(() => x.c.id as string))!;
      conn.emit('news', { n: 1 });
      conn.emit('news', { n: 2 });
      await p.waitForFunction(() => x.log.length === 11, undefined, { timeout: 5000 });
      await p.evaluate(() => x.c.offAny(x.anyFn).off('blob'));
      conn.emit('news', { n: 3 });
      conn.emit('blob', new Uint8Array([9]));
      conn.emit('empty');
      await p.waitForFunction(() => x.log.some((l: unknown[]) => l[0] === 'empty'), undefined, { timeout: 5000 });
      expect(await p.evaluate(() => x.log)).toEqual([
        ['any', 'blob'],
        ['blob', ['bytes', 1, 2, 255]],
        ['any', 'blob'],
        ['blob', ['bytes', 7, 8]],
        ['any', 'blob'],
        ['blob', ['bytes']],
        ['any', 'news'],
        ['on', { n: 1 }],
        ['once', { n: 1 }],
        ['any', 'news'],
        ['on', { n: 2 }],
        ['on', { n: 3 }],
        ['empty', undefined],
      ]);
      expect(got).toEqual([['nothing', undefined]]);
    });

    it('error notifications: ERROR frames (a rate limit), failing handlers (thrown, rejected), a JSON body that is not JSON; listeners unsubscribe', async () => {
      const s = await site({ rateLimit: { events: { chat: { rate: 1, burst: 1 } } } }, (srv) => srv.on('chat', () => undefined));
      const p = await page(s.url);
      await p.evaluate(async () => {
        const c = Stelar.createClient('/');
        x = { c, errors: [], calls: 0 };
        c.onLifecycle('error', (e, ev) => void x.errors.push([e.code, ev, e instanceof Stelar.StelarError]));
        x.off = c.onLifecycle('error', () => void x.calls++);
        c.on('news', () => {
          throw new Error('my handler broke');
        });
        c.on('later', () => Promise.reject(Object.assign(new Error('async'), { code: 'ASYNC_CODE' })));
        await c.connect();
        x.off();
        c.emit('chat', 1);
        c.emit('chat', 2);
      });
      const conn = s.stelar.getConnection(await p.evaluate(() => x.c.id as string))!;
      conn.emit('news', { text: 'boom' });
      conn.emit('later');
      linkOf(conn).send(encodeFrame(FrameType.JSON, 'news', new TextEncoder().encode('{not json')));
      await p.waitForFunction(() => x.errors.length === 4, undefined, { timeout: 5000 });
      const r = await p.evaluate(() => [x.errors, x.calls, x.c.state]);
      expect(r[0]).toEqual(expect.arrayContaining([['RATE_LIMITED', 'chat', true], ['HANDLER_ERROR', 'news', true], ['ASYNC_CODE', 'later', true], ['BAD_JSON', 'news', true]]));
      expect(r.slice(1)).toEqual([0, 'connected']);
    });
  });

  describe('heartbeats', () => {
    it('a live server keeps the session through many client PINGs; a server that stops reading is detected after interval + timeout and the client reconnects', async () => {
      const s = await site({}, standard);
      const p = await page(s.url);
      await p.evaluate(async (code) => {
        eval(code);
        x.c = x.record(Stelar.createClient('/', { WebSocket: x.Spy, heartbeat: { interval: 60, timeout: 600 }, reconnect: { baseDelay: 5, maxDelay: 10 } }));
        await x.c.connect();
      }, RECORD);
      const first = await p.evaluate(() => x.c.id as string);
      await tick(700); // ten intervals: the server answers every PING
      const pings = await p.evaluate(() => x.sent.filter((f: number[]) => f[0] === 3).length);
      expect(pings).toBeGreaterThanOrEqual(3);
      expect(await p.evaluate(() => [x.c.id, x.log.filter((l: unknown) => Array.isArray(l))])).toEqual([first, []]);

      // The server hangs (its link stops reading): no PONG comes back.
      const stuck = linkOf(s.stelar.getConnection(first)!);
      stuck.pause();
      const t0 = Date.now();
      await p.waitForFunction(() => x.log.some((l: unknown) => Array.isArray(l)), undefined, { timeout: 8000 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(550); // the PING unanswered for `timeout` (600 ms)
      expect(await p.evaluate(() => x.log.filter((l: unknown) => Array.isArray(l)))).toEqual([['disconnected', 1006, '', true]]);
      await p.waitForFunction((first) => x.c.connected && x.c.id !== first, first, { timeout: 8000 });
      stuck.resume();
    });

    it("the server's heartbeat interval from CONNECT is the default; a Stelar PING from the server is answered with a PONG of the same bytes", async () => {
      const s = await site({ heartbeat: { interval: 80, timeout: 5000 } }, standard);
      const p = await page(s.url);
      await p.evaluate(async (code) => {
        eval(code);
        x.c = Stelar.createClient('/', { WebSocket: x.Spy, heartbeat: { timeout: 500 } });
        await x.c.connect();
      }, RECORD);
      await tick(600);
      const pings = await p.evaluate(() => x.sent.filter((f: number[]) => f[0] === 3).length);
      expect(pings).toBeGreaterThanOrEqual(3); // about one per 80 ms of silence
      expect(pings).toBeLessThanOrEqual(10);
      const conn = s.stelar.getConnection(await p.evaluate(() => x.c.id as string))!;
      linkOf(conn).send(encodeFrame(FrameType.PING, '', new TextEncoder().encode('are you there')));
      await p.waitForFunction(() => x.sent.some((f: number[]) => f[0] === 4), undefined, { timeout: 5000 });
      const pong = await p.evaluate(() => x.sent.find((f: number[]) => f[0] === 4) as number[]);
      expect(new TextDecoder().decode(new Uint8Array(pong.slice(3)))).toBe('are you there');
      expect(pong.slice(0, 3)).toEqual([4, 0, 0]);
      expect(await p.evaluate(() => x.c.state)).toBe('connected');
    });

    it('with heartbeat: false the client sends no PING, and a strict server keeps it (the browser answers WebSocket pings)', async () => {
      const closes: number[] = [];
      // The server pings every 50 ms and drops a peer silent for 600 ms; the test waits twice that.
      const s = await site({ heartbeat: { interval: 50, timeout: 600 } }, (srv) => srv.onDisconnect((_c, code) => void closes.push(code)));
      const p = await page(s.url);
      const r = await p.evaluate(async (code) => {
        eval(code);
        const c = Stelar.createClient('/', { WebSocket: x.Spy, heartbeat: false });
        await c.connect();
        const id = c.id;
        await new Promise((r) => setTimeout(r, 1300));
        return [c.id === id, c.state, x.sent.map((f: number[]) => f[0])];
      }, RECORD);
      expect(r).toEqual([true, 'connected', [7]]); // CONNECT only
      expect(closes).toEqual([]);
    });
  });

  describe('protocol errors from the server', () => {
    it('a DISCONNECT frame gives the code and reason when the socket then ends without a close frame (1006): 4100 reconnects, 4001 stops', async () => {
      const s = await site({}, standard);
      const p = await page(s.url);
      await p.evaluate(async (code) => {
        eval(code);
        x.c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } }));
        await x.c.connect();
      }, RECORD);
      for (const [code, reason] of [
        [4100, 'moving'],
        [4001, 'banned'],
      ] as const) {
        const id = await p.evaluate(() => x.c.id as string);
        const link = linkOf(s.stelar.getConnection(id)!);
        link.send(encodeDisconnect(code, reason));
        await tick(30);
        link.terminate();
        await p.waitForFunction((id) => x.c.id !== id, id, { timeout: 8000 });
        if (code === 4100) await p.waitForFunction(() => x.c.connected, undefined, { timeout: 8000 });
      }
      await p.waitForFunction(() => x.c.state === 'disconnected', undefined, { timeout: 8000 });
      expect(await p.evaluate(() => x.log.filter((l: unknown) => Array.isArray(l)))).toEqual([
        ['disconnected', 4100, 'moving', true],
        ['disconnected', 4001, 'banned', false],
      ]);
    });

    it('a frame the decoder refuses, a frame type a client never receives, and a second CONNECT each close the link (1002) and the client reconnects', async () => {
      const s = await site({}, standard);
      const p = await page(s.url);
      await p.evaluate(async (code) => {
        eval(code);
        x.c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } }));
        await x.c.connect();
      }, RECORD);
      const bad = [
        new Uint8Array([0, 0, 0, 7, 12, 0, 0]), // type 0x0C
        encodeFrame(FrameType.JOIN, 'lobby'),
        encodeServerConnect({ v: 1, id: 'again', heartbeat: 0, maxFrame: 1 << 20 }),
      ];
      for (let i = 0; i < bad.length; i++) {
        const id = await p.evaluate(() => x.c.id as string);
        linkOf(s.stelar.getConnection(id)!).send(bad[i]!);
        await p.waitForFunction(([id, n]) => x.c.connected && x.c.id !== id && x.log.filter((l: unknown) => Array.isArray(l)).length === n, [id, i + 1] as const, { timeout: 8000 });
      }
      expect(await p.evaluate(() => x.log.filter((l: unknown) => Array.isArray(l)))).toEqual([
        // The reasons' wording is each engine's own (core's decoder says "unknown frame type 0x0c").
        ['disconnected', 1002, expect.stringMatching(/BAD_TYPE|unknown frame type 0x0c/), true],
        ['disconnected', 1002, expect.stringMatching(/^unexpected frame type 9/), true],
        ['disconnected', 1002, 'duplicate CONNECT', true],
      ]);
    });
  });
});
