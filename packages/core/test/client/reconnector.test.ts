import { decodeFrame, encodeJson, FrameType, parseClientHello } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
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
