/**
 * What a peer sends never grows the hub: bounded error labels, close codes a client may send,
 * reasons cut to 123 bytes, `conn.signal`, the process-wide cap on handlers, rate-limit rules
 * looked up as own keys only.
 */
import { encodeDisconnect, encodeError } from '@stelar/codec-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { Hub, StelarError, type Connection, type HubOptions } from '../src/index';
import { ClientEngine } from '../src/client/index';
import { cutReason, isPeerCloseCode, MAX_CLOSE_REASON_BYTES, type LinkHandler } from '../src/internal';
import { Metrics } from '../src/metrics';
import { linkPair, memoryDialer, tick, until } from './memory-link';

const hubs: Hub[] = [];
const clients: ClientEngine[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const h of hubs.splice(0)) {
    await h.drain({ timeout: 200 });
    await h.dispose();
  }
});

function setup(options: HubOptions = {}) {
  const hub = new Hub({ heartbeat: false, ...options });
  hubs.push(hub);
  const client = () => {
    const c = new ClientEngine(memoryDialer(() => hub), { heartbeat: false, reconnect: false });
    clients.push(c);
    return c;
  };
  /** A raw link to the hub: what the hub sends is collected as frames' bytes. */
  const raw = () => {
    const pair = linkPair();
    const closed: { code?: number } = {};
    const client: LinkHandler = { onFrame() {}, onProtocolError() {}, onPong() {}, onDrain() {}, onClose: (code) => (closed.code = code) };
    pair.attachClient(client);
    pair.attachServer(hub.accept(pair.server));
    return { send: (f: Uint8Array) => pair.client.send(f), closed, sent: pair.serverSent };
  };
  return { hub, client, raw };
}

describe('close codes and reasons', () => {
  it('isPeerCloseCode: what protocol.md §5 lets a client send', () => {
    for (const ok of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4100, 4999]) expect(isPeerCloseCode(ok)).toBe(true);
    for (const bad of [0, -1, 1.5, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 2999, 4000, 4001, 4006, 4099, 5000, 1e308, Infinity, NaN]) {
      expect(isPeerCloseCode(bad)).toBe(false);
    }
  });

  it('cutReason: at most 123 bytes of UTF-8, never inside a character', () => {
    expect(cutReason('short')).toBe('short');
    expect(cutReason('a'.repeat(200))).toBe('a'.repeat(MAX_CLOSE_REASON_BYTES));
    expect(cutReason('é'.repeat(100))).toBe('é'.repeat(61));
    expect(cutReason('€'.repeat(100))).toBe('€'.repeat(41));
    const emoji = cutReason('😀'.repeat(100));
    expect(emoji).toBe('😀'.repeat(30));
    expect(new TextEncoder().encode(emoji).length).toBeLessThanOrEqual(123);
  });

  it('a peer close code the hub may not take (4006) is reported as 1002, not as a slow consumer', async () => {
    const { hub, client } = setup();
    const codes: number[] = [];
    hub.onDisconnect((_c, code) => codes.push(code));
    const c = client();
    await c.connect();
    c.close(4006, 'claimed');
    await until(() => codes.length === 1);
    expect(codes).toEqual([1002]);
    expect(hub.getStats().backpressure.slowConsumerDisconnects).toBe(0);
    const d = client();
    await d.connect();
    d.close(4100, 'x'.repeat(500));
    await until(() => codes.length === 2);
    expect(codes[1]).toBe(4100);
  });

  it('DISCONNECT with a bad code gets ERROR PROTOCOL and 1002', async () => {
    const { hub, raw } = setup();
    const r = raw();
    r.send(encodeDisconnect(99999, 'x'));
    await until(() => r.closed.code !== undefined);
    expect(r.closed.code).toBe(1002);
    expect(hub.getStats().errors['PROTOCOL']).toBe(1);
  });
});

describe('error labels', () => {
  it('Stelar codes keep their label; 64 others are admitted; the rest, long ones and odd characters count as "other"', () => {
    const m = new Metrics(() => 0);
    m.error('PROTOCOL');
    m.error('HEARTBEAT_TIMEOUT');
    for (let i = 0; i < 100; i++) m.error(`APP_${i}`);
    m.error('X'.repeat(65));
    m.error('with space');
    m.error('PROTOCOL');
    expect(m.errors['PROTOCOL']).toBe(2);
    expect(m.errors['HEARTBEAT_TIMEOUT']).toBe(1);
    expect(m.errors['APP_63']).toBe(1);
    expect(m.errors['APP_64']).toBeUndefined();
    expect(m.errors['other']).toBe(36 + 2);
    m.peerError('BAD_JSON');
    m.peerError('whatever');
    m.peerError('Y'.repeat(1 << 20));
    expect(m.errors['peer:BAD_JSON']).toBe(1);
    expect(m.errors['peer:other']).toBe(2);
    expect(Object.keys(m.errors)).toHaveLength(2 + 64 + 1 + 2);
  });

  it('ERROR before CONNECT closes 1002; after it, it is counted under peer:', async () => {
    const { hub, raw, client } = setup();
    const r = raw();
    r.send(encodeError('NOPE', 'early'));
    await until(() => r.closed.code !== undefined);
    expect(r.closed.code).toBe(1002);
    const c = client();
    await c.connect();
    expect(hub.getStats().errors['PROTOCOL']).toBe(1);
  });
});

describe('handlers', () => {
  it('conn.signal aborts with DISCONNECTED when the connection closes; it is created on first use', async () => {
    const { hub, client } = setup();
    let conn: Connection | undefined;
    hub.onConnection((c) => (conn = c));
    const c = client();
    await c.connect();
    const signal = conn!.signal;
    expect(signal.aborted).toBe(false);
    expect(conn!.signal).toBe(signal);
    c.close();
    await until(() => signal.aborted);
    expect(signal.reason).toBeInstanceOf(StelarError);
    expect((signal.reason as StelarError).code).toBe('DISCONNECTED');
  });

  it('maxHandlersInFlight: requests over it wait in order and are all answered', async () => {
    const { hub, client } = setup({ maxHandlersInFlight: 2 });
    let running = 0;
    let most = 0;
    hub.on('work', async (n: number) => {
      running++;
      most = Math.max(most, running);
      await tick(5);
      running--;
      return n;
    });
    const cs = [client(), client(), client()];
    await Promise.all(cs.map((c) => c.connect()));
    const replies = await Promise.all(cs.flatMap((c, i) => [1, 2, 3].map((k) => c.request('work', i * 10 + k))));
    expect(replies).toEqual([1, 2, 3, 11, 12, 13, 21, 22, 23]);
    expect(most).toBe(2);
    expect(hub.getStats().acks.inFlightHandlers).toBe(0);
  });

  it('a connection that closes while waiting for a handler slot leaves the line', async () => {
    const { hub, client } = setup({ maxHandlersInFlight: 1 });
    let release: () => void = () => undefined;
    hub.on('block', () => new Promise<number>((r) => (release = () => r(1))));
    hub.on('work', (n: number) => n);
    const a = client();
    const b = client();
    const c = client();
    await Promise.all([a.connect(), b.connect(), c.connect()]);
    const blocked = a.request('block', undefined);
    await until(() => hub.getStats().acks.inFlightHandlers === 1);
    const lost = b.request('work', 1);
    await tick(5);
    const kept = c.request('work', 2);
    await tick(5);
    b.close();
    await expect(lost).rejects.toMatchObject({ code: 'DISCONNECTED' });
    release();
    await expect(blocked).resolves.toBe(1);
    await expect(kept).resolves.toBe(2);
  });
});

describe('rate limits', () => {
  it('event rules are own keys only: an event named "constructor" is not limited by Object', async () => {
    const { hub, client } = setup({ rateLimit: { events: { chat: { rate: 1, burst: 1 } } } });
    let got = 0;
    hub.on('constructor', () => void got++);
    const c = client();
    await c.connect();
    for (let i = 0; i < 5; i++) c.emit('constructor', i);
    await until(() => got === 5);
  });
});
