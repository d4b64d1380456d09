// The features of stelar.full.min.js (and of the ESM/CJS entry) beyond issue 14's set, in
// Chromium against the real server: connect_error for every failed attempt, connect({ timeout,
// signal }), the retry of a server failure on the first connection, reconnect.delay, the
// counters and the logger. Each case runs against this package's engine as stelar.full.min.js
// has it and against core's ClientEngine, so the two are held to the same behaviour. (Connection-
// state recovery: test/recovery.test.ts.)
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeJson } from '@stelar/codec-tcp';
import { AuthError } from '@stelar/server';
import { freePort, page, site, until, useChromium, useEngine, type EngineName } from './harness';

const ENGINES: EngineName[] = ['browser engine (full)', "core's ClientEngine"];
useChromium(ENGINES);

/** The page records every connect_error as [code, attempt, willRetry] in `x.errs`. */
const FAILURES = `
  x = { errs: [], log: [] };
  x.record = (c) => {
    c.onLifecycle('connect_error', (e, i) => x.errs.push([e.code, i.attempt, i.willRetry]));
    return c;
  };
`;

/** WebSocket servers that are not Stelar servers, closed after each test. */
const foreign = new Set<http.Server>();
const upgraded = new Set<Socket>();
afterEach(async () => {
  for (const s of upgraded) s.destroy();
  upgraded.clear();
  for (const srv of [...foreign]) {
    foreign.delete(srv);
    await new Promise((r) => srv.close(r));
  }
});

/** A WebSocket server that is not a Stelar server: it accepts the upgrade, then sends `first` (an unmasked frame) after the client's first message. */
async function foreignWebSocket(opcode: number, payload: Uint8Array): Promise<number> {
  const server = http.createServer();
  foreign.add(server);
  server.on('upgrade', (req, socket: Socket) => {
    upgraded.add(socket);
    socket.on('error', () => socket.destroy());
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.once('data', () => socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe.each(ENGINES)('%s', (engine) => {
  useEngine(engine);

  describe('connect() settles by a stated rule, and every failed attempt is reported', () => {
    it('a closed port: each attempt is a connect_error, connect({ timeout }) rejects with TIMEOUT quoting the last one while the client keeps trying, and gets in once a server listens', async () => {
      const port = await freePort();
      const s = await site();
      const p = await page(s.url);
      const r = await p.evaluate(
        async ([port, code]) => {
          eval(code);
          const c = x.record(Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: { baseDelay: 20, maxDelay: 40 } }));
          x.c = c;
          const t0 = performance.now();
          const err = await c.connect({ timeout: 600 }).catch((e: { code: string; message: string; details: unknown }) => e);
          x.patient = c.connect({ timeout: 0 });
          return { code: err.code, message: err.message, details: err.details === c.lastError, ms: performance.now() - t0, state: c.state, errs: x.errs };
        },
        [port, FAILURES] as const,
      );
      expect(r.code).toBe('TIMEOUT');
      expect(r.message).toMatch(/^not connected within 600 ms \(last attempt: .+\)$/);
      expect(r.details).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(550);
      expect(r.errs.length).toBeGreaterThanOrEqual(2);
      r.errs.forEach((e: unknown[], i: number) => expect(e).toEqual(['WS_DIAL_FAILED', i, true]));
      expect(['connecting', 'reconnecting']).toContain(r.state); // only the wait ended
      // Now a server listens on that port: the client, still trying, gets in.
      const late = await site({ port });
      expect(late.port).toBe(port);
      await p.evaluate(() => x.patient);
      expect(await p.evaluate(() => x.c.connected)).toBe(true);
    });

    it('connect({ signal }): ABORTED when it aborts (the client keeps trying), at once and starting nothing when already aborted; close() rejects every wait', async () => {
      const port = await freePort();
      const s = await site();
      const p = await page(s.url);
      const r = await p.evaluate(async (port) => {
        const idle = Stelar.createClient(`ws://127.0.0.1:${port}/`);
        const early = await idle.connect({ signal: AbortSignal.abort() }).catch((e: { code: string }) => e.code);
        const c = Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: { baseDelay: 20, maxDelay: 40 } });
        const ac = new AbortController();
        const aborted = c.connect({ signal: ac.signal }).catch((e: { code: string; message: string }) => [e.code, e.message]);
        const patient = c.connect({ timeout: 0 }).catch((e: { code: string }) => e.code);
        await new Promise((r) => setTimeout(r, 50));
        ac.abort(new Error('the user navigated away'));
        const a = await aborted;
        const state = c.state;
        c.close();
        return { early, idleState: idle.state, a, state, patient: await patient };
      }, port);
      expect(r).toEqual({ early: 'ABORTED', idleState: 'idle', a: ['ABORTED', 'connect() aborted: the user navigated away'], state: r.state, patient: 'DISCONNECTED' });
      expect(['connecting', 'reconnecting']).toContain(r.state);
    });

    it('a server failing in its connection middleware (1011) is retried even on the first connection; a refusal (AuthError) is a final connect_error', async () => {
      let calls = 0;
      const s = await site({}, (srv) =>
        srv.use(async (conn, next) => {
          calls++;
          if ((conn.auth as { token?: string } | undefined)?.token === 'bad') throw new AuthError('bad token');
          if (calls === 1) throw new Error('database down');
          await next();
        }),
      );
      const p = await page(s.url);
      const r = await p.evaluate(async (code) => {
        eval(code);
        const c = x.record(Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } }));
        await c.connect();
        const first = [...x.errs];
        x.errs.length = 0;
        const bad = x.record(Stelar.createClient('/', { auth: { token: 'bad' }, reconnect: { baseDelay: 5, maxDelay: 10 } }));
        const err = await bad.connect().catch((e: { code: string }) => e.code);
        return { first, connected: c.connected, err, badErrs: x.errs, badState: bad.state };
      }, FAILURES);
      expect(r.first).toEqual([['INTERNAL_ERROR', 0, true]]);
      expect(r.connected).toBe(true);
      expect(r).toMatchObject({ err: 'UNAUTHORIZED', badErrs: [['UNAUTHORIZED', 0, false]], badState: 'disconnected' });
    });
  });

  it('a WebSocket server that is not Stelar (a text message, a frame other than CONNECT or ERROR, bytes that are not a frame, before the session): NOT_STELAR, final', async () => {
    const ports = [
      await foreignWebSocket(0x1, Buffer.from('{"type":"hello"}')),
      await foreignWebSocket(0x2, encodeJson('welcome', 1).subarray(4)),
      await foreignWebSocket(0x2, new Uint8Array([0x63, 0, 0])), // type 99
    ];
    const s = await site();
    const p = await page(s.url);
    const r = await p.evaluate(
      async ([ports, code]) => {
        eval(code);
        const out = [];
        for (const port of ports) {
          x.errs = [];
          const c = x.record(Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: { baseDelay: 5, maxDelay: 10 } }));
          const e = await c.connect().catch((e: { code: string; message: string }) => e);
          out.push({ code: e.code, message: e.message, errs: x.errs, state: c.state });
        }
        return out;
      },
      [ports, FAILURES] as const,
    );
    expect(r.map((o) => [o.code, o.errs, o.state])).toEqual(r.map(() => ['NOT_STELAR', [['NOT_STELAR', 0, false]], 'disconnected']));
    expect(r[0]!.message).toMatch(/^not a Stelar server: /);
    expect(r[1]!.message).toMatch(/^not a Stelar server: its first frame is .+, not CONNECT or ERROR$/);
    expect(r[2]!.message).toMatch(/^not a Stelar server: its first bytes are not a Stelar frame \(BAD_TYPE/);
  });

  it('reconnect.delay replaces the backoff (given the retry number, the error and the backoff); one that throws or returns a bad value falls back to the backoff with a BAD_OPTIONS error', async () => {
    const port = await freePort();
    const s = await site();
    const p = await page(s.url);
    const r = await p.evaluate(async (port) => {
      const seen: unknown[] = [];
      const delays: number[] = [];
      const c = Stelar.createClient(`ws://127.0.0.1:${port}/`, {
        reconnect: { maxAttempts: 3, baseDelay: 1, maxDelay: 2, delay: (attempt: number, err: Error, backoff: number) => (seen.push([attempt, (err as Error & { code: string }).code, backoff <= 2]), attempt * 60) },
      });
      c.onLifecycle('reconnecting', ({ delay }: { delay: number }) => void delays.push(delay));
      const t0 = performance.now();
      const code = await c.connect().catch((e: { code: string }) => e.code);
      const ms = performance.now() - t0;
      const errors: string[] = [];
      const bad = [() => -1, () => NaN, () => 'soon', () => { throw new Error('nope'); }];
      const d2: number[] = [];
      const c2 = Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: { maxAttempts: 4, baseDelay: 1, maxDelay: 3, delay: ((a: number) => bad[a - 1]!()) as never } });
      c2.onLifecycle('error', (e: { code: string; message: string }) => void errors.push(`${e.code}: ${e.message}`));
      c2.onLifecycle('reconnecting', ({ delay }: { delay: number }) => void d2.push(delay));
      await c2.connect().catch(() => undefined);
      return { seen, delays, code, ms, errors, d2 };
    }, port);
    expect(r.code).toBe('WS_DIAL_FAILED');
    expect(r.delays).toEqual([60, 120, 180]);
    expect(r.seen).toEqual([
      [1, 'WS_DIAL_FAILED', true],
      [2, 'WS_DIAL_FAILED', true],
      [3, 'WS_DIAL_FAILED', true],
    ]);
    expect(r.ms).toBeGreaterThanOrEqual(350);
    expect(r.errors).toEqual([
      'BAD_OPTIONS: reconnect.delay returned -1, not a finite number ≥ 0',
      'BAD_OPTIONS: reconnect.delay returned NaN, not a finite number ≥ 0',
      'BAD_OPTIONS: reconnect.delay returned string, not a finite number ≥ 0',
      'BAD_OPTIONS: reconnect.delay threw: nope',
    ]);
    r.d2.forEach((d: number) => expect(d).toBeLessThanOrEqual(3));
  });

  it('counters: messagesSent / messagesReceived count events, requests and replies both ways, once; connectedAt is the session’s start; lastError the last failure', async () => {
    const s = await site({}, (srv) => {
      srv.on('sum', ({ a, b }: { a: number; b: number }) => a + b);
      srv.on('blob', (b: Uint8Array, conn) => void conn.emit('blob', b));
    });
    const p = await page(s.url);
    const before = Date.now();
    const r1 = await p.evaluate(async () => {
      const c = Stelar.createClient('/', { reconnect: { baseDelay: 5, maxDelay: 10 } });
      x = { c };
      c.on('confirm', (q: string) => q === 'ok?');
      c.on('blob', () => undefined);
      c.on('news', () => undefined);
      const queued = c.emit('chat', { n: 1 });
      const start = [c.messagesSent, c.messagesReceived, c.connectedAt, c.lastError];
      await c.connect();
      const sum = await c.request('sum', { a: 2, b: 3 });
      c.emit('blob', new Uint8Array([1, 2, 3]));
      return { queued, start, sum, id: c.id, at: c.connectedAt };
    });
    expect(r1.queued).toBe(true);
    expect(r1.start).toEqual([0, 0, undefined, undefined]);
    expect(r1.sum).toBe(5);
    expect(r1.at).toBeGreaterThanOrEqual(before - 1000); // the page's clock is the machine's
    const conn = s.stelar.getConnection(r1.id!)!;
    expect(await conn.request('confirm', 'ok?')).toBe(true);
    conn.emit('news', { text: 'hi' });
    await until(() => p.evaluate(() => x.c.messagesReceived === 4), 'four messages received');
    // Sent: the queued chat, the request, the blob, the reply. Received: the reply, the blob, the request, the news.
    expect(await p.evaluate(() => [x.c.messagesSent, x.c.messagesReceived])).toEqual([4, 4]);
    conn.disconnect(4100, 'moving');
    await until(() => p.evaluate((id) => x.c.connected && x.c.id !== id, r1.id!), 'the new session');
    expect(await p.evaluate(() => x.c.connectedAt)).toBeGreaterThanOrEqual(r1.at!);
    const r2 = await p.evaluate(() => {
      x.c.emit('chat', { n: 2 });
      return { err: x.c.lastError.code, message: x.c.lastError.message, sent: x.c.messagesSent };
    });
    expect(r2.err).toBe('DISCONNECTED');
    expect(r2.message).toContain('4100');
    expect(r2.sent).toBe(5);
  });

  it('logger: the lifecycle as (fields, message) at debug, info and warn; a logger that throws changes nothing', async () => {
    const port = await freePort();
    const s = await site();
    const p = await page(s.url);
    const r = await p.evaluate(async (port) => {
      const lines: unknown[] = [];
      const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((l) => [l, (f: Record<string, unknown>, m: string) => void lines.push([l, m, Object.keys(f).sort().join()])])) as never;
      const c = Stelar.createClient('/', { logger });
      await c.connect();
      const closed = new Promise((r) => c.onLifecycle('disconnected', r));
      c.close();
      await closed;
      const failing = Stelar.createClient(`ws://127.0.0.1:${port}/`, { reconnect: false, logger });
      await failing.connect().catch(() => undefined);
      const throwing = Stelar.createClient('/', { logger: { debug: () => { throw new Error('x'); }, info: () => { throw new Error('x'); }, warn: () => undefined, error: () => undefined } });
      await throwing.connect();
      const ok = throwing.connected;
      throwing.close();
      return { lines, ok };
    }, port);
    expect(r.ok).toBe(true);
    expect(r.lines).toEqual([
      ['debug', 'state', 'state'],
      ['debug', 'state', 'state'],
      ['info', 'connected', 'id,recovered'],
      ['debug', 'state', 'state'],
      ['info', 'disconnected', 'code,reason,willReconnect'],
      ['debug', 'state', 'state'],
      ['warn', 'connect failed', 'attempt,err'],
      ['debug', 'state', 'state'],
    ]);
  });
});
