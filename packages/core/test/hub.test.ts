import { describe, it, expect, afterEach } from 'vitest';
import { AuthError, Hub, StelarError, type HubOptions } from '../src/index';
import { ClientEngine } from '../src/client/index';
import { memoryDialer, tick, until } from './memory-link';

type Events = {
  chat: (m: { text: string }) => void;
  sum: (a: { a: number; b: number }) => number;
  fail: () => void;
  slow: (ms: number) => string;
  confirm: (x: string) => boolean;
  blob: (b: Uint8Array) => void;
  echo: (x: unknown) => unknown;
};

const hubs: Hub<Events>[] = [];
const clients: ClientEngine<Events>[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const h of hubs.splice(0)) {
    await h.drain({ timeout: 200 });
    await h.dispose();
  }
});

function setup(options: HubOptions = {}) {
  const hub = new Hub<Events>({ heartbeat: false, ...options });
  hubs.push(hub);
  const client = (opts: ConstructorParameters<typeof ClientEngine>[1] = {}) => {
    const c = new ClientEngine<Events>(memoryDialer(() => hub), { heartbeat: false, reconnect: false, ...opts });
    clients.push(c);
    return c;
  };
  return { hub, client };
}

describe('sessions', () => {
  it('accepts a client, gives it an id, counts it, and forgets it on close', async () => {
    const { hub, client } = setup();
    const seen: string[] = [];
    hub.onConnection((c) => seen.push(c.id));
    const c = client();
    await c.connect();
    expect(c.id).toBeTypeOf('string');
    expect(seen).toEqual([c.id]);
    expect(hub.getStats().connections.open).toBe(1);
    expect(hub.getStats().connections.byTransport['mem']).toBe(1);
    c.close();
    await until(() => hub.getStats().connections.open === 0);
    expect(hub.connections.size).toBe(0);
  });

  it('connection middleware sees auth and can refuse with AuthError (4001, no reconnect)', async () => {
    const { hub, client } = setup();
    hub.use(async (conn, next) => {
      if ((conn.auth as { token?: string } | undefined)?.token !== 'ok') throw new AuthError('bad token');
      await next();
    });
    const good = client({ auth: { token: 'ok' } });
    await good.connect();
    const bad = client({ auth: { token: 'nope' }, reconnect: true });
    await expect(bad.connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'bad token' });
    expect(bad.state).toBe('disconnected');
    await until(() => hub.getStats().connections.opening === 0);
    expect(hub.getStats().connections.rejected).toBe(1);
    expect(hub.getStats().connections.open).toBe(1);
  });

  it('middleware that does not call next refuses the session', async () => {
    const { hub, client } = setup();
    hub.use(() => undefined);
    await expect(client().connect()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('closes links that never send CONNECT (4003)', async () => {
    const { hub } = setup({ handshakeTimeout: 60 });
    const { linkPair } = await import('./memory-link');
    const pair = linkPair();
    let closed: number | undefined;
    pair.attachClient({ onFrame() {}, onProtocolError() {}, onPong() {}, onDrain() {}, onClose: (code) => (closed = code) });
    pair.attachServer(hub.accept(pair.server));
    await until(() => closed !== undefined);
    expect(closed).toBe(4003);
    expect(hub.getStats().connections.opening).toBe(0);
  });
});

describe('events and requests', () => {
  it('delivers events with typed data, many handlers, once, off, and a catch-all', async () => {
    const { hub, client } = setup();
    const got: string[] = [];
    const h1 = (m: { text: string }) => void got.push(`a:${m.text}`);
    hub.on('chat', h1);
    hub.on('chat', (m) => void got.push(`b:${m.text}`));
    hub.once('chat', (m) => void got.push(`once:${m.text}`));
    hub.onAny((event) => void got.push(`any:${event}`));
    const c = client();
    await c.connect();
    c.emit('chat', { text: '1' });
    await until(() => got.length === 4);
    hub.off('chat', h1);
    c.emit('chat', { text: '2' });
    await until(() => got.length === 6);
    expect(got).toEqual(['any:chat', 'a:1', 'b:1', 'once:1', 'any:chat', 'b:2']);
  });

  it('answers requests with the handler result, sync or async, and errors with code and message', async () => {
    const { hub, client } = setup();
    hub.on('sum', ({ a, b }) => a + b);
    hub.on('slow', async (ms) => {
      await tick(ms);
      return 'done';
    });
    hub.on('fail', () => {
      throw new StelarError('NOPE', 'not today');
    });
    const c = client();
    await c.connect();
    await expect(c.request('sum', { a: 2, b: 3 })).resolves.toBe(5);
    await expect(c.request('slow', 5)).resolves.toBe('done');
    await expect(c.request('fail')).rejects.toMatchObject({ code: 'NOPE', message: 'not today' });
    await expect(c.request('echo', 1)).rejects.toMatchObject({ code: 'NO_HANDLER' });
    expect(hub.getStats().errors['NOPE']).toBe(1);
  });

  it('plain Error in a handler becomes HANDLER_ERROR; client times out slow requests', async () => {
    const { hub, client } = setup();
    hub.on('echo', () => {
      throw new Error('boom');
    });
    hub.on('slow', async (ms) => {
      await tick(ms);
      return 'late';
    });
    const c = client();
    await c.connect();
    await expect(c.request('echo', 1)).rejects.toMatchObject({ code: 'HANDLER_ERROR', message: 'boom' });
    await expect(c.request('slow', 200, { timeout: 20 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('server → client requests: reply, error, timeout, and rejection when the connection closes', async () => {
    const { hub, client } = setup();
    const c = client();
    c.on('confirm', (x) => x === 'yes');
    c.on('echo', () => {
      throw new StelarError('CLIENT_SAYS_NO', 'no');
    });
    let conn!: Parameters<Parameters<typeof hub.onConnection>[0]>[0];
    hub.onConnection((cn) => (conn = cn));
    await c.connect();
    await until(() => conn !== undefined);
    await expect(conn.request('confirm', 'yes', { timeout: 1000 })).resolves.toBe(true);
    await expect(conn.request('echo', 1)).rejects.toMatchObject({ code: 'CLIENT_SAYS_NO' });
    await expect(conn.request('sum', { a: 1, b: 1 }, { timeout: 1000 })).rejects.toMatchObject({ code: 'NO_HANDLER' });
    c.on('slow', () => new Promise(() => undefined));
    const p = conn.request('slow', 1, { timeout: 30 });
    await expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(hub.getStats().acks.timedOut).toBe(1);
    const q = conn.request('slow', 1, { timeout: 5000 });
    expect(hub.getStats().acks.pending).toBe(1);
    c.close();
    await expect(q).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(hub.getStats().acks.pending).toBe(0);
  });

  it('requests waiting for a slot are dropped when their connection closes (no busy loop)', async () => {
    const { hub, client } = setup({ maxConcurrentRequests: 2 });
    let started = 0;
    hub.on('slow', async (ms) => {
      started++;
      await tick(ms);
      return 'done';
    });
    const c = client();
    await c.connect();
    const all = [c.request('slow', 50), c.request('slow', 50), c.request('slow', 50), c.request('slow', 50)];
    await until(() => started === 2);
    c.close();
    await Promise.allSettled(all);
    await tick(100); // the event loop still turns: the in-flight handlers finish
    expect(started).toBe(2);
    expect(hub.getStats().acks.inFlightHandlers).toBe(0);
  });

  it('binary data arrives as Uint8Array', async () => {
    const { hub, client } = setup();
    let got: Uint8Array | undefined;
    hub.on('blob', (b) => void (got = b));
    const c = client();
    await c.connect();
    c.emit('blob', new Uint8Array([1, 2, 3]));
    await until(() => got !== undefined);
    expect([...got!]).toEqual([1, 2, 3]);
  });

  it('event middleware can transform, drop, or reject; requests learn why', async () => {
    const { hub, client } = setup();
    hub.useEvent(async (ctx, next) => {
      if (ctx.event === 'echo' && ctx.data === 'drop') return;
      if (ctx.event === 'echo' && ctx.data === 'reject') throw new StelarError('FORBIDDEN', 'no echo for you');
      if (ctx.event === 'echo') ctx.data = { wrapped: ctx.data };
      await next();
    });
    hub.on('echo', (x) => x);
    const c = client();
    await c.connect();
    await expect(c.request('echo', 'hi')).resolves.toEqual({ wrapped: 'hi' });
    await expect(c.request('echo', 'drop')).rejects.toMatchObject({ code: 'REJECTED' });
    await expect(c.request('echo', 'reject')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const errors: string[] = [];
    c.onLifecycle('error', (e) => errors.push(e.code));
    c.emit('echo', 'reject');
    await until(() => errors.length === 1);
    expect(errors).toEqual(['FORBIDDEN']);
  });

  it('keeps per-connection order through async middleware', async () => {
    const { hub, client } = setup();
    hub.useEvent(async (_ctx, next) => {
      await tick(Math.random() * 3);
      await next();
    });
    const got: number[] = [];
    hub.on('echo', (x) => void got.push(x as number));
    const c = client();
    await c.connect();
    for (let i = 0; i < 50; i++) c.emit('echo', i);
    await until(() => got.length === 50);
    expect(got).toEqual([...Array(50).keys()]);
  });
});

describe('rooms and broadcast', () => {
  it('to(room), several rooms (delivered once), except(conn), except(room), all', async () => {
    const { hub, client } = setup();
    hub.on('chat', (m, conn) => conn.to('lobby').emit('chat', m));
    const [a, b, c] = [client(), client(), client()];
    const inbox = new Map<ClientEngine<Events>, string[]>([[a, []], [b, []], [c, []]]);
    for (const [cl, box] of inbox) cl.on('chat', (m) => void box.push(m.text));
    await Promise.all([a.connect(), b.connect(), c.connect()]);
    await a.join('lobby');
    await b.join('lobby');
    await b.join('vip');
    await c.join('vip');
    a.emit('chat', { text: 'from-a' });
    await until(() => inbox.get(b)!.length === 1);
    hub.to(['lobby', 'vip']).emit('chat', { text: 'both' });
    hub.to('lobby').except('vip').emit('chat', { text: 'lobby-not-vip' });
    hub.emit('chat', { text: 'all' });
    await until(() => inbox.get(a)!.length === 3 && inbox.get(c)!.length === 2 && inbox.get(b)!.length === 3);
    expect(inbox.get(a)).toEqual(['both', 'lobby-not-vip', 'all']);
    expect(inbox.get(b)).toEqual(['from-a', 'both', 'all']);
    expect(inbox.get(c)).toEqual(['both', 'all']);
    expect(hub.getStats().rooms).toBe(2);
    expect(await hub.in('vip').count()).toBe(2);
    a.close();
    await until(() => hub.getStats().rooms === 2 && hub.adapter.members('lobby')?.size === 1);
    await b.leave('lobby');
    await until(() => hub.getStats().rooms === 1);
  });

  it('enforces rooms per connection and total rooms with ROOM_LIMIT', async () => {
    const { hub, client } = setup({ maxRoomsPerConnection: 2, maxRooms: 3 });
    const a = client();
    const b = client();
    await Promise.all([a.connect(), b.connect()]);
    await a.join('r1');
    await a.join('r2');
    await expect(a.join('r3')).rejects.toMatchObject({ code: 'ROOM_LIMIT' });
    await b.join('r3');
    await expect(b.join('r4')).rejects.toMatchObject({ code: 'ROOM_LIMIT' });
    await b.join('r1');
    expect(hub.getStats().rooms).toBe(3);
    expect(hub.getStats().errors['ROOM_LIMIT']).toBe(2);
  });

  it('authorizeJoin refuses rooms', async () => {
    const { client } = setup({ authorizeJoin: (_c, room) => !room.startsWith('admin') });
    const a = client();
    await a.connect();
    await a.join('public');
    await expect(a.join('admin:x')).rejects.toMatchObject({ code: 'REJECTED' });
  });

  it('onJoin/onLeave see every join and leave, including leaving by disconnecting', async () => {
    const { hub, client } = setup();
    const log: string[] = [];
    hub.onJoin((_c, room) => void log.push(`+${room}`));
    hub.onLeave((_c, room) => void log.push(`-${room}`));
    hub.onConnection((conn) => void conn.join(['a', 'b']));
    const c = client();
    await c.connect();
    await c.join('c');
    await c.join('c');
    await c.leave('a');
    c.close();
    await until(() => log.length === 6);
    expect(log.slice(0, 4)).toEqual(['+a', '+b', '+c', '-a']);
    expect(log.slice(4).sort()).toEqual(['-b', '-c']);
  });

  it('server-side join/leave/disconnect of connections in a room', async () => {
    const { hub, client } = setup();
    const a = client();
    const b = client();
    await Promise.all([a.connect(), b.connect()]);
    await a.join('x');
    await hub.in('x').join('y');
    expect((await hub.in('y').fetchConnections()).map((i) => i.id)).toEqual([a.id]);
    await hub.in('y').disconnect(4100, 'bye');
    await until(() => a.state === 'disconnected');
    expect(hub.connections.size).toBe(1);
  });
});

describe('rate limiting', () => {
  it('token bucket drops with RATE_LIMITED and counts hits', async () => {
    const { hub, client } = setup({ rateLimit: { connection: { rate: 1, burst: 3 } } });
    let n = 0;
    hub.on('chat', () => void n++);
    hub.on('sum', ({ a, b }) => a + b);
    const c = client();
    const errors: string[] = [];
    c.onLifecycle('error', (e) => errors.push(e.code));
    await c.connect();
    for (let i = 0; i < 5; i++) c.emit('chat', { text: String(i) });
    await until(() => errors.length === 2);
    expect(n).toBe(3);
    await expect(c.request('sum', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(hub.getStats().rateLimit.hits).toBe(3);
  });

  it('per-event limits, per-connection override, disconnect policy', async () => {
    const { hub, client } = setup({ rateLimit: { events: { chat: { rate: 1, burst: 1 } }, connection: { rate: 1, burst: 2 }, onExceeded: 'disconnect' } });
    hub.onConnection((conn) => {
      if ((conn.auth as string) === 'vip') conn.setRateLimit(null);
    });
    hub.on('echo', (x) => x);
    const vip = client({ auth: 'vip' });
    await vip.connect();
    for (let i = 0; i < 5; i++) await expect(vip.request('echo', i)).resolves.toBe(i);
    const c = client();
    await c.connect();
    c.emit('chat', { text: '1' });
    c.emit('chat', { text: '2' });
    await until(() => c.state === 'disconnected');
    expect(hub.getStats().rateLimit.disconnects).toBe(1);
  });

  it('connection middleware can already override the rate limit', async () => {
    const { hub, client } = setup({ rateLimit: { connection: { rate: 1, burst: 1 } } });
    hub.use(async (conn, next) => {
      if (conn.auth === 'trusted') conn.setRateLimit(null);
      await next();
    });
    hub.on('echo', (x) => x);
    const c = client({ auth: 'trusted' });
    await c.connect();
    for (let i = 0; i < 5; i++) await expect(c.request('echo', i)).resolves.toBe(i);
  });

  it('a pluggable async limiter', async () => {
    let calls = 0;
    const { hub, client } = setup({ rateLimit: { limiter: { consume: async () => ++calls <= 2 } } });
    hub.on('echo', (x) => x);
    const c = client();
    await c.connect();
    await expect(c.request('echo', 1)).resolves.toBe(1);
    await expect(c.request('echo', 2)).resolves.toBe(2);
    await expect(c.request('echo', 3)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });
});

describe('heartbeats and shutdown', () => {
  it('pings idle clients and keeps them while they answer', async () => {
    const { hub, client } = setup({ heartbeat: { interval: 60, timeout: 300 } });
    const c = client();
    await c.connect();
    await tick(500);
    expect(hub.getStats().connections.open).toBe(1);
  });

  it('drain: requests in flight get their replies, new ones are refused, then clients are told 1001', async () => {
    const { hub, client } = setup();
    hub.on('slow', async (ms) => {
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
    await expect(c.request('slow', 1)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(Promise.all(inflight)).resolves.toEqual(['finished', 'finished']);
    await expect(drained).resolves.toBe(true);
    expect(closes).toEqual([1001]);
    expect(hub.isReady).toBe(false);
  });
});
