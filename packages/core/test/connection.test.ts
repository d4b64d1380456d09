import { FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { linkOf, newConnection, sessionOf } from '../src/connection';
import { Connection, Hub, StelarError } from '../src/index';
import { SendStatus } from '../src/internal';
import { openSessions, useHubs } from './fixtures';
import { until } from './memory-link';

type Events = {
  ask: (x: string) => boolean;
  chat: (m: { text: string }) => void;
  hang: () => void;
};

const setup = useHubs();

describe('Connection: the user API', () => {
  it('shows the user API only; the protocol state is the hub’s (compile-time check)', () => {
    const hub = new Hub({ heartbeat: false });
    const conn: Connection = openSessions(hub, 1)[0]!.conn;
    // @ts-expect-error the inbound queue is the session record's
    void conn.inbox;
    // @ts-expect-error heartbeat bookkeeping too
    void conn.alive;
    // @ts-expect-error and the requests in flight
    void conn.inFlight;
    // @ts-expect-error and the rate-limit buckets
    void conn.buckets;
    // @ts-expect-error the record itself is private
    void conn.session;
    // @ts-expect-error so are the link and the state (linkOf / isOpen)
    void conn.link;
    // @ts-expect-error the constructor is the hub's (never called here)
    const make = (): unknown => new Connection('x', linkOf(conn), sessionOf(conn));
    expect(make).toBeTypeOf('function');
    expect(newConnection).toBeTypeOf('function');
    expect(conn.isOpen).toBe(true);
    void hub.dispose();
  });

  it('facts about the peer, data made on first use, info() as JSON', async () => {
    const hub = new Hub({ heartbeat: false, nodeId: 'node-a' });
    const conn: Connection = openSessions(hub, 1)[0]!.conn;
    expect([conn.transport, conn.remoteAddress, conn.remotePort, conn.upgradeRequest, conn.auth]).toEqual(['mem', '192.0.2.1', 4242, undefined, undefined]);
    expect(conn.info().data).toEqual({});
    conn.data['user'] = { name: 'ann', at: new Date(0), fn: () => 1 };
    await conn.join('r');
    expect(conn.info()).toEqual({ id: conn.id, nodeId: 'node-a', transport: 'mem', remoteAddress: '192.0.2.1', rooms: ['r'], data: { user: { name: 'ann', at: '1970-01-01T00:00:00.000Z' } } });
    const cyclic: Record<string, unknown> = {};
    cyclic['me'] = cyclic;
    conn.data = cyclic;
    expect(conn.info().data).toEqual({}); // not serialisable: described as empty
    await hub.dispose();
  });

  it('emit: true when sent or queued, false when dropped (volatile) or closed; counted', async () => {
    const hub = new Hub({ heartbeat: false });
    let status: SendStatus = SendStatus.OK;
    const [s] = openSessions(hub, 1);
    const conn = s!.conn;
    const link = linkOf(conn) as { send: (f: Uint8Array, v?: boolean) => SendStatus };
    const original = link.send;
    link.send = (f, v) => {
      original(f, v);
      return status;
    };
    expect(conn.emit('chat', { text: 'a' })).toBe(true);
    status = SendStatus.BUFFERED;
    expect(conn.emit('chat', { text: 'b' })).toBe(true);
    status = SendStatus.DROPPED;
    expect(conn.emit('chat', { text: 'c' }, { volatile: true })).toBe(false);
    expect(s!.sent.at(-1)!.volatile).toBe(true);
    expect(conn.emit('bin', new Uint8Array([1]))).toBe(false);
    expect(s!.frames().at(-1)!.type).toBe(FrameType.BINARY);
    const stats = hub.getStats();
    expect([stats.messages.out, stats.backpressure.buffered, stats.backpressure.dropped]).toEqual([3, 1, 2]);
    conn.disconnect(4100, 'bye');
    conn.disconnect(4200, 'twice'); // once only
    expect(s!.calls.filter((c) => c.startsWith('close'))).toEqual(['close 4100 bye']);
    expect(conn.isOpen).toBe(false);
    await hub.dispose();
  });

  it('request: replies, errors, timeouts; DISCONNECTED when not open; pendingRequests counts', async () => {
    const { client, nextConnection } = setup<Events, Events>();
    const c = client();
    c.on('ask', (x) => x === 'yes');
    c.on('hang', () => new Promise(() => undefined));
    const connected = nextConnection();
    await c.connect();
    const conn = await connected;
    await expect(conn.request('ask', 'yes')).resolves.toBe(true);
    await expect(conn.request('chat', { text: '' }, { timeout: 1000 })).rejects.toMatchObject({ code: 'NO_HANDLER' });
    await expect(conn.request('hang', undefined, { timeout: 20 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const ac = new AbortController();
    const aborted = conn.request('hang', undefined, { signal: ac.signal });
    expect(conn.pendingRequests).toBe(1);
    ac.abort(new Error('changed my mind'));
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED', message: 'changed my mind' });
    const lost = conn.request('hang', undefined);
    c.close();
    await expect(lost).rejects.toBeInstanceOf(StelarError);
    await until(() => !conn.isOpen);
    await expect(conn.request('ask', 'late')).rejects.toMatchObject({ code: 'DISCONNECTED', message: 'connection is not open' });
    expect(conn.pendingRequests).toBe(0);
  });

  it('signal and onClose: made on first use; a signal read after the close is already aborted', async () => {
    const { client, nextConnection } = setup();
    const connected = nextConnection();
    const c = client();
    await c.connect();
    const conn = await connected;
    const signal = conn.signal;
    expect(conn.signal).toBe(signal);
    const closes: number[] = [];
    conn.onClose((code) => closes.push(code));
    c.close(4100);
    await until(() => signal.aborted);
    expect((signal.reason as StelarError).code).toBe('DISCONNECTED');
    expect(closes).toEqual([4100]);
    const hub2 = new Hub({ heartbeat: false });
    const [s] = openSessions(hub2, 1);
    s!.handler.onClose(1000, '');
    expect(s!.conn.signal.aborted).toBe(true);
    await hub2.dispose();
  });

  it('to(room) and broadcast reach others, never the connection itself; setRateLimit overrides its bucket', async () => {
    const hub = new Hub({ heartbeat: false, rateLimit: { connection: { rate: 1, burst: 1 } } });
    const [a, b, c] = openSessions(hub, 3);
    await a!.conn.join('r');
    await b!.conn.join('r');
    const before = [a, b, c].map((x) => x!.sent.length);
    a!.conn.to('r').emit('chat', { text: 'x' });
    a!.conn.broadcast.emit('chat', { text: 'y' });
    expect([a, b, c].map((x, i) => x!.sent.length - before[i]!)).toEqual([0, 2, 1]);
    a!.conn.setRateLimit(null);
    expect(sessionOf(a!.conn).buckets!.take('e', 1000)).toBe(true);
    await hub.dispose();
  });
});
