import { decodeFrame, encodeJson, encodePing, FrameType, parseClientHello } from '@stelar/codec-tcp';
import { describe, expect, it, vi } from 'vitest';
import type { ClientOptions } from '../../src/client/options';
import { Reconnector, type ReconnectorHost } from '../../src/client/reconnector';
import { StelarError } from '../../src/errors';
import type { LinkHandler } from '../../src/link';
import { recordingLink } from '../fixtures';
import { tick, until } from '../memory-link';

/**
 * A reconnector with a recording host and a scripted dialer: `dials[i]` says what attempt i
 * does ('ok' gives a link, 'fail' and 'fatal' reject, 'hang' waits for the abort).
 */
function harness(opts: ClientOptions, dials: ('ok' | 'fail' | 'fatal' | 'hang')[], hadSession = true) {
  const log: unknown[][] = [];
  const links: ReturnType<typeof recordingLink>[] = [];
  const handlers: LinkHandler[] = [];
  const signals: AbortSignal[] = [];
  const host: ReconnectorHost = {
    linkUp: () => void log.push(['linkUp']),
    frame: (f) => void log.push(['frame', f.event]),
    pong: () => void log.push(['pong']),
    linkDown: (code, reason) => {
      log.push(['linkDown', code, reason]);
      return hadSession;
    },
    stopped: (err) => void log.push(['stopped', (err as Error).message]),
    stopHeartbeat: () => undefined,
    notify: (name, ...args) => void log.push([name, ...args]),
    failed: (err) => void log.push(['failed', err.message]),
  };
  let attempt = 0;
  const r = new Reconnector(
    async (handler, signal) => {
      const what = dials[attempt++] ?? 'fail';
      handlers.push(handler);
      signals.push(signal);
      if (what === 'fail') throw new Error('ECONNREFUSED');
      if (what === 'fatal') throw Object.assign(new Error('HTTP 403'), { fatal: true });
      if (what === 'hang') return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      const rec = recordingLink();
      links.push(rec);
      return rec.link;
    },
    opts,
    host,
  );
  const events = (name: string) => log.filter((l) => l[0] === name);
  return { r, log, links, handlers, signals, events, attempts: () => attempt };
}

describe('Reconnector', () => {
  it('dials, sends CONNECT with the auth of this attempt, and is connected once the session is established', async () => {
    let calls = 0;
    const { r, links, events } = harness({ auth: () => ({ n: ++calls }) }, ['ok']);
    const connected = r.connect();
    expect(r.state).toBe('connecting');
    await until(() => links.length === 1);
    const hello = decodeFrame(links[0]!.sent[0]!.frame);
    expect([hello.type, parseClientHello(hello.payload)]).toEqual([FrameType.CONNECT, { v: 1, auth: { n: 1 } }]);
    expect(events('linkUp')).toHaveLength(1);
    r.established();
    r.resolveWaiters();
    await connected;
    expect(r.state).toBe('connected');
    await expect(r.connect()).resolves.toBeUndefined();
    expect(events('state').map((e) => e[1])).toEqual(['connecting', 'connected']);
  });

  it('failed dials are retried with backoff until maxAttempts, then reconnect_failed and a final stop', async () => {
    const { r, events, attempts } = harness({ reconnect: { baseDelay: 1, maxDelay: 2, maxAttempts: 2 } }, ['fail', 'fail', 'fail']);
    await expect(r.connect()).rejects.toThrow('ECONNREFUSED');
    expect(attempts()).toBe(3);
    expect(events('reconnecting').map((e) => (e[1] as { attempt: number }).attempt)).toEqual([1, 2]);
    expect(events('reconnect_failed')).toEqual([['reconnect_failed', { attempts: 2, error: expect.any(Error) }]]);
    expect(events('stopped')).toEqual([['stopped', 'ECONNREFUSED']]);
    expect(r.state).toBe('disconnected');
  });

  it('a fatal dial error stops at once (disconnected, no retry)', async () => {
    const { r, events, attempts } = harness({}, ['fatal', 'ok']);
    await expect(r.connect()).rejects.toThrow('HTTP 403');
    expect(attempts()).toBe(1);
    expect(events('disconnected')).toEqual([['disconnected', { code: 1006, reason: 'HTTP 403', willReconnect: false }]]);
  });

  it('connectTimeout: a dial that hangs is aborted with TIMEOUT; a link without a session is terminated', async () => {
    const hang = harness({ connectTimeout: 30, reconnect: false }, ['hang']);
    await expect(hang.r.connect()).rejects.toMatchObject({ code: 'TIMEOUT', message: 'connection not established within 30 ms' });
    expect(hang.signals[0]!.aborted).toBe(true);
    const silent = harness({ connectTimeout: 30, reconnect: false }, ['ok'], false);
    const p = silent.r.connect();
    await until(() => silent.links[0]?.calls.includes('terminate') === true, 1000);
    silent.handlers[0]!.onClose(1006, '');
    await expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('close() while dialing aborts the dial and stops; close() on a link closes it and stops when it is gone', async () => {
    const dialing = harness({}, ['hang']);
    const p = dialing.r.connect();
    await until(() => dialing.signals.length === 1);
    dialing.r.close(1000, '');
    await expect(p).rejects.toMatchObject({ code: 'DISCONNECTED', message: 'client closed' });
    expect(dialing.signals[0]!.aborted).toBe(true);
    expect(dialing.r.closedForGood).toBe(true);
    const up = harness({}, ['ok']);
    void up.r.connect().catch(() => undefined);
    await until(() => up.links.length === 1);
    up.r.established();
    up.r.close(4100, 'bye');
    expect(up.links[0]!.calls).toEqual(['close 4100 bye']);
    expect(up.r.state).toBe('connected'); // until the link is gone
    up.handlers[0]!.onClose(4100, 'bye');
    expect(up.r.state).toBe('disconnected');
    expect(up.events('disconnected')).toEqual([['disconnected', { code: 4100, reason: 'bye', willReconnect: false }]]);
  });

  it('a refusal before the session, or a 4001/4002 close at any time, stops for good', async () => {
    const early = harness({ reconnect: { baseDelay: 1 } }, ['ok', 'ok']);
    const p = early.r.connect();
    await until(() => early.links.length === 1);
    early.r.refused(new StelarError('UNAUTHORIZED', 'bad token'));
    early.handlers[0]!.onClose(4001, 'bad token');
    await expect(p).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'bad token' });
    const late = harness({ reconnect: { baseDelay: 1 } }, ['ok', 'ok']);
    void late.r.connect().catch(() => undefined);
    await until(() => late.links.length === 1);
    late.r.established();
    late.handlers[0]!.onClose(4002, 'upgrade');
    expect(late.r.state).toBe('disconnected');
    expect(late.attempts()).toBe(1);
  });

  it('a dropped session reconnects; the server’s DISCONNECT code stands in for 1006; events of an old link are ignored', async () => {
    const { r, links, handlers, events } = harness({ reconnect: { baseDelay: 1, maxDelay: 1 } }, ['ok', 'ok']);
    void r.connect();
    await until(() => links.length === 1);
    r.established();
    handlers[0]!.onFrame(decodeFrame(encodeJson('e', 1)), 10);
    handlers[0]!.onPong();
    r.peerClosing({ code: 4100, reason: 'restart' });
    handlers[0]!.onClose(1006, '');
    expect(events('linkDown')).toEqual([['linkDown', 4100, 'restart']]);
    expect(events('disconnected')).toEqual([['disconnected', { code: 4100, reason: 'restart', willReconnect: true }]]);
    expect(r.state).toBe('reconnecting');
    await until(() => links.length === 2);
    handlers[0]!.onFrame(decodeFrame(encodeJson('late', 1)), 10);
    handlers[0]!.onClose(1000, '');
    await tick(5);
    expect(events('frame')).toEqual([['frame', 'e']]);
    expect(events('pong')).toHaveLength(1);
    expect(events('linkDown')).toHaveLength(1);
    r.established();
    expect(events('state').map((e) => e[1])).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });
});

describe('Reconnector: failed attempts (connect_error) and when connect() settles', () => {
  const errorsOf = (events: (name: string) => unknown[][]) =>
    events('connect_error').map((e) => [(e[1] as Error).message, e[2]]);

  it('every failed attempt is reported before the retry is scheduled: attempt 0 first, then the retry numbers; the last one says it will not retry', async () => {
    const { r, log, events } = harness({ reconnect: { baseDelay: 1, maxDelay: 2, maxAttempts: 2 } }, ['fail', 'fail', 'fail']);
    await expect(r.connect()).rejects.toThrow('ECONNREFUSED');
    expect(errorsOf(events)).toEqual([
      ['ECONNREFUSED', { attempt: 0, willRetry: true }],
      ['ECONNREFUSED', { attempt: 1, willRetry: true }],
      ['ECONNREFUSED', { attempt: 2, willRetry: false }],
    ]);
    const order = log.map((l) => l[0]).filter((n) => n === 'connect_error' || n === 'reconnecting' || n === 'reconnect_failed');
    expect(order).toEqual(['connect_error', 'reconnecting', 'connect_error', 'reconnecting', 'connect_error', 'reconnect_failed']);
    expect(events('failed')).toHaveLength(3);
  });

  it('a fatal dial error is reported once, willRetry false', async () => {
    const { r, events } = harness({}, ['fatal']);
    await expect(r.connect()).rejects.toThrow('HTTP 403');
    expect(errorsOf(events)).toEqual([['HTTP 403', { attempt: 0, willRetry: false }]]);
  });

  it('bytes that do not decode before the session: NOT_STELAR, the link terminated (no DISCONNECT sent), no retry even with reconnection on', async () => {
    const { r, links, handlers, events, attempts } = harness({ reconnect: { baseDelay: 1, maxDelay: 1 } }, ['ok', 'ok'], false);
    const p = r.connect();
    await until(() => links.length === 1);
    handlers[0]!.onProtocolError({ code: 'FRAME_TOO_LARGE', message: 'frame of 1213486160 bytes exceeds 16777216', closeCode: 1009 });
    expect(links[0]!.calls).toEqual(['terminate']);
    handlers[0]!.onClose(1006, '');
    await expect(p).rejects.toMatchObject({ code: 'NOT_STELAR', message: 'not a Stelar server: its first bytes are not a Stelar frame (FRAME_TOO_LARGE: frame of 1213486160 bytes exceeds 16777216)' });
    await tick(10);
    expect(attempts()).toBe(1);
    expect(errorsOf(events)).toEqual([[expect.stringContaining('not a Stelar server'), { attempt: 0, willRetry: false }]]);
    expect(r.state).toBe('disconnected');
  });

  it('before the server’s CONNECT, a frame no Stelar server sends there is NOT_STELAR: not handed on, the link terminated, no retry', async () => {
    const { r, links, handlers, events, attempts } = harness({ reconnect: { baseDelay: 1, maxDelay: 1 } }, ['ok', 'ok'], false);
    const p = r.connect();
    await until(() => links.length === 1);
    handlers[0]!.onFrame(decodeFrame(encodePing()), 7); // allowed before CONNECT
    handlers[0]!.onFrame(decodeFrame(encodeJson('chat', { t: 1 })), 20);
    expect(events('frame').map((e) => e[1])).toEqual(['']); // the PING only
    expect(links[0]!.calls).toEqual(['terminate']);
    handlers[0]!.onClose(1006, '');
    await expect(p).rejects.toMatchObject({ code: 'NOT_STELAR', message: 'not a Stelar server: its first frame is JSON, not CONNECT or ERROR' });
    expect(attempts()).toBe(1);
    expect(events('disconnected')).toEqual([['disconnected', { code: 1006, reason: 'not a Stelar server: its first frame is JSON, not CONNECT or ERROR', willReconnect: false }]]);
  });

  it('a protocol error once the session is open closes with its code and reconnects, as before', async () => {
    const { r, links, handlers, events } = harness({ reconnect: { baseDelay: 1, maxDelay: 1 } }, ['ok', 'ok']);
    void r.connect();
    await until(() => links.length === 1);
    r.established();
    handlers[0]!.onProtocolError({ code: 'BAD_TYPE', message: 'unknown frame type 0x0c', closeCode: 1002 });
    expect(links[0]!.calls).toEqual(['close 1002 unknown frame type 0x0c']);
    handlers[0]!.onClose(1002, 'unknown frame type 0x0c');
    await until(() => links.length === 2);
    expect(events('connect_error')).toEqual([]);
  });

  it('an ERROR before the session that is not a refusal (a server failing in its middleware, close 1011) is retried, even on the first connection', async () => {
    const { r, links, handlers, events } = harness({ reconnect: { baseDelay: 1, maxDelay: 1 } }, ['ok', 'ok'], false);
    const p = r.connect();
    await until(() => links.length === 1);
    r.refused(new StelarError('INTERNAL', 'internal server error'));
    handlers[0]!.onClose(1011, 'internal error');
    await until(() => links.length === 2);
    expect(errorsOf(events)).toEqual([['internal server error', { attempt: 0, willRetry: true }]]);
    r.established();
    r.resolveWaiters();
    await expect(p).resolves.toBeUndefined();
  });

  it('connect({ timeout }) and connect({ signal }) end that wait only: the client keeps trying and a later session resolves other waits', async () => {
    const { r, links, events } = harness({ reconnect: { baseDelay: 40, maxDelay: 40 } }, ['fail', 'fail', 'fail', 'fail', 'ok']);
    const patient = r.connect({ timeout: 0 });
    await expect(r.connect({ timeout: 30 })).rejects.toMatchObject({ code: 'TIMEOUT', message: 'not connected within 30 ms (last attempt: ECONNREFUSED)' });
    const ac = new AbortController();
    const aborted = r.connect({ signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
    expect(['connecting', 'reconnecting']).toContain(r.state); // between attempts, or in one
    await until(() => links.length === 1, 5000);
    r.established();
    r.resolveWaiters();
    await expect(patient).resolves.toBeUndefined();
    expect(events('connect_error').length).toBe(4);
  });

  it('with default options connect() settles: after 20 s of failed attempts it rejects with TIMEOUT quoting the last error', async () => {
    vi.useFakeTimers();
    try {
      const { r, attempts } = harness({}, []); // every dial fails; reconnection is unlimited by default
      const p = r.connect().then(() => 'resolved', (e: StelarError) => e);
      await vi.advanceTimersByTimeAsync(19_999);
      expect(await Promise.race([p, 'pending'])).toBe('pending');
      await vi.advanceTimersByTimeAsync(1);
      expect(await p).toMatchObject({ code: 'TIMEOUT', message: 'not connected within 20000 ms (last attempt: ECONNREFUSED)' });
      expect(attempts()).toBeGreaterThan(3);
      expect(['connecting', 'reconnecting']).toContain(r.state); // still trying
      r.close(1000, '');
      expect(r.state).toBe('disconnected');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reconnect.delay replaces the backoff; it gets the retry number and the error that ended the previous attempt', async () => {
    const seen: [number, string][] = [];
    const { r, events } = harness({ reconnect: { maxAttempts: 3, delay: (attempt, error) => (seen.push([attempt, error.message]), attempt * 3) } }, []);
    await expect(r.connect()).rejects.toThrow('ECONNREFUSED');
    expect(seen).toEqual([[1, 'ECONNREFUSED'], [2, 'ECONNREFUSED'], [3, 'ECONNREFUSED']]);
    expect(events('reconnecting').map((e) => e[1])).toEqual([{ attempt: 1, delay: 3 }, { attempt: 2, delay: 6 }, { attempt: 3, delay: 9 }]);
  });

  it('close() from a connect_error listener stops at once: no retry, connect() rejects DISCONNECTED', async () => {
    const { r, log, attempts } = harness({ reconnect: { baseDelay: 1, maxDelay: 1 } }, []);
    const original = log.push.bind(log);
    log.push = (...items: unknown[][]) => {
      const n = original(...items);
      if (items[0]?.[0] === 'connect_error') r.close(1000, '');
      return n;
    };
    await expect(r.connect()).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await tick(20);
    expect(attempts()).toBe(1);
    expect(log.filter((l) => l[0] === 'reconnecting')).toEqual([]);
  });
});
