import { decodeFrame, encodeClientConnect, FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { newConnection } from '../src/connection';
import { linkOf, sessionOf } from '../src/connection-access';
import { Connection, Hub, StelarError } from '../src/index';
import { SendStatus } from '../src/internal';
import { openSessions, recordingLink, useHubs } from './fixtures';
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

describe('Connection: counters and typed data (issue 15, the 3.x clientInfo items)', () => {
  it('messagesIn / messagesOut / connectedAt / lastSeen: counted per connection as frames pass', async () => {
    const { hub, client, nextConnection } = setup<Events>();
    hub.on('chat', (m, conn) => void conn.emit('chat', m));
    const before = Date.now();
    const accepted = nextConnection();
    const c = client();
    let echoes = 0;
    c.on('chat', () => void echoes++);
    await c.connect();
    const conn = await accepted;
    expect(conn.connectedAt).toBeGreaterThanOrEqual(before);
    expect(conn.connectedAt).toBeLessThanOrEqual(Date.now());
    // CONNECT in, CONNECT out.
    expect([conn.messagesIn, conn.messagesOut]).toEqual([1, 1]);
    const seen = conn.lastSeen;
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 10; i++) c.emit('chat', { text: `${i}` });
    await until(() => echoes === 10);
    expect([conn.messagesIn, conn.messagesOut]).toEqual([11, 11]);
    expect(conn.lastSeen).toBeGreaterThan(seen);
    expect(hub.getStats().messages).toMatchObject({ in: 11, out: 11 });
  });

  it('a dropped volatile send is not counted out', () => {
    let status: SendStatus = SendStatus.OK;
    const hub = new Hub({ heartbeat: false, logger: false });
    const rec = recordingLink({ status: () => status });
    hub.accept(rec.link).onFrame(decodeFrame(encodeClientConnect(undefined)), 10);
    const conn = [...hub.connections.values()][0]!;
    conn.emit('a', 1);
    status = SendStatus.DROPPED;
    conn.emit('a', 2, { volatile: true });
    expect(conn.messagesOut).toBe(2); // the CONNECT answer and the first emit
    expect(rec.sent).toHaveLength(3);
  });

  it('conn.data is typed by the hub’s Data parameter (compile-time check), everywhere a connection is handed out', async () => {
    type Data = { user: { name: string }; visits: number };
    const hub = new Hub<Events, Events, Data>({ heartbeat: false, logger: false });
    hub.use(async (conn, next) => {
      conn.data.user = { name: String(conn.auth) };
      conn.data.visits = 0;
      await next();
    });
    hub.on('chat', (_m, conn) => {
      const name: string = conn.data.user.name;
      // @ts-expect-error visits is a number
      conn.data.visits = 'many';
      return void name;
    });
    hub.onConnection((conn) => void (conn.data.visits += 1));
    hub.onDisconnect((conn) => void conn.data.user.name.length);
    hub.useEvent(async (ctx, next) => {
      const n: number = ctx.conn.data.visits;
      void n;
      await next();
    });
    // @ts-expect-error not a field of Data
    hub.onConnection((conn) => conn.data.other);
    const c = hub.getConnection('none');
    expect(c?.data.user).toBeUndefined();
    const untyped = new Hub({ heartbeat: false, logger: false });
    untyped.onConnection((conn) => {
      const anything: unknown = conn.data['whatever'];
      void anything;
    });
    await hub.dispose();
    await untyped.dispose();
  });
});
