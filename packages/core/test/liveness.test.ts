import { describe, expect, it } from 'vitest';
import { linkOf } from '../src/connection-access';
import { Hub } from '../src/index';
import { openSessions, useHubs } from './fixtures';
import { tick, until } from './memory-link';

const setup = useHubs();

describe('liveness: handshake deadline, heartbeats, session end, drain', () => {
  it('closes links that never send CONNECT (4003)', async () => {
    const { hub, raw } = setup({ handshakeTimeout: 60 });
    const r = raw();
    await until(() => r.closed.code !== undefined);
    expect(r.closed.code).toBe(4003);
    expect(hub.getStats().connections.opening).toBe(0);
    expect(hub.getStats().errors['HANDSHAKE_TIMEOUT']).toBe(1);
  });

  it('pings idle clients and keeps them while they answer', async () => {
    const { hub, client } = setup({ heartbeat: { interval: 60, timeout: 300 } });
    const c = client();
    await c.connect();
    await tick(500);
    expect(hub.getStats().connections.open).toBe(1);
  });

  it('a silent peer is pinged once after `interval`, closed with 4004 after `interval + timeout`', async () => {
    const hub = new Hub({ heartbeat: { interval: 40, timeout: 40 } });
    const [s] = openSessions(hub, 1);
    await until(() => s!.calls.includes('ping'), 1000);
    await until(() => s!.calls.some((c) => c.startsWith('close 4004')), 1000);
    expect(s!.calls.filter((c) => c === 'ping')).toHaveLength(1);
    expect(hub.getStats().errors['HEARTBEAT_TIMEOUT']).toBe(1);
    s!.handler.onClose(4004, 'heartbeat timeout');
    await hub.dispose();
  });

  it('a peer close code the hub may not take (4006) is reported as 1002, not as a slow consumer; reasons are cut to 123 bytes', async () => {
    const { hub, client } = setup();
    const codes: [number, string][] = [];
    hub.onDisconnect((_c, code, reason) => void codes.push([code, reason]));
    const c = client();
    await c.connect();
    c.close(4006, 'claimed');
    await until(() => codes.length === 1);
    expect(codes[0]).toEqual([1002, 'invalid close code from the peer']);
    expect(hub.getStats().backpressure.slowConsumerDisconnects).toBe(0);
    const d = client();
    await d.connect();
    d.close(4100, 'x'.repeat(500));
    await until(() => codes.length === 2);
    expect(codes[1]).toEqual([4100, 'x'.repeat(123)]);
  });

  it('the hub’s own 4006 counts a slow consumer; a session ends once; links that never opened are not reported', async () => {
    const hub = new Hub({ heartbeat: false });
    const ends: number[] = [];
    hub.onDisconnect((_c, code) => ends.push(code));
    const [open] = openSessions(hub, 1);
    open!.handler.onClose(4006, 'slow consumer');
    open!.handler.onClose(1000, 'again');
    const opening = hub.accept(linkOf(open!.conn));
    opening.onClose(1006, '');
    expect(ends).toEqual([4006]);
    expect(hub.getStats().backpressure.slowConsumerDisconnects).toBe(1);
    expect(hub.getStats().connections).toMatchObject({ open: 0, opening: 0 });
    await hub.dispose();
  });

  it('drain: requests in flight get their replies, then clients are told 1001; new links are refused', async () => {
    const { hub, client } = setup();
    hub.on('slow', async (ms: number) => {
      await tick(ms);
      return 'finished';
    });
    const c = client();
    const closes: number[] = [];
    c.onLifecycle('disconnected', (i) => closes.push(i.code));
    await c.connect();
    const inflight = [c.request('slow', 50), c.request('slow', 80)];
    await until(() => hub.getStats().acks.inFlightHandlers === 2);
    const drained = hub.drain({ timeout: 2000 });
    await expect(Promise.all(inflight)).resolves.toEqual(['finished', 'finished']);
    await expect(drained).resolves.toBe(true);
    expect(closes).toEqual([1001]);
    expect(hub.isReady).toBe(false);
    const late = client();
    await expect(late.connect()).rejects.toBeDefined();
  });

  it('drain gives up at its timeout (false) when a handler never answers', async () => {
    const { hub, client } = setup();
    hub.on('hang', () => new Promise(() => undefined));
    const c = client();
    await c.connect();
    void c.request('hang').catch(() => undefined);
    await until(() => hub.getStats().acks.inFlightHandlers === 1);
    await expect(hub.drain({ timeout: 50 })).resolves.toBe(false);
  });
});
