import { describe, it, expect, afterEach, vi } from 'vitest';
import { Hub } from '../../src/index';
import { ClientEngine, type ClientOptions, type Link, type LinkHandler } from '../../src/client/index';
import { memoryDialer, tick, until } from '../memory-link';

type Events = {
  chat: (m: { n: number }) => void;
  echo: (x: unknown) => unknown;
  hang: () => void;
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function newHub(): Hub<Events> {
  const hub = new Hub<Events>({ heartbeat: false });
  hub.on('echo', (x) => x);
  hub.on('chat', (m, conn) => conn.to('room').emit('chat', m));
  cleanups.push(async () => {
    await hub.drain({ timeout: 100 });
    await hub.dispose();
  });
  return hub;
}

function newClient(getHub: () => Hub<Events> | null, opts: ClientOptions = {}) {
  const dialer = memoryDialer(getHub);
  const c = new ClientEngine<Events>(dialer, { heartbeat: false, reconnect: { baseDelay: 5, maxDelay: 20 }, ...opts });
  cleanups.push(() => c.close());
  return { c, dialer };
}

describe('client engine', () => {
  it('goes connecting → connected → reconnecting → connected, re-joins rooms, flushes the queue in order', async () => {
    let hub: Hub<Events> | null = newHub();
    let hubForC: Hub<Events> | null = hub;
    const { c } = newClient(() => hubForC);
    const states: string[] = [];
    c.onLifecycle('state', (s) => states.push(s));
    await c.connect();
    await c.join('room');
    const firstId = c.id;

    // A second client in the room sees what the first sends.
    const { c: other } = newClient(() => hub);
    const got: number[] = [];
    other.on('chat', (m) => void got.push(m.n));
    await other.connect();
    await other.join('room');

    // The server restarts: clients queue while it is down.
    const old = hub;
    hub = hubForC = null;
    await old.drain({ timeout: 100 });
    await until(() => c.state === 'reconnecting');
    for (let i = 0; i < 5; i++) c.emit('chat', { n: i });
    expect(c.queued).toBe(5);
    hub = newHub();
    // The other client is back in the room before this one returns, so it sees the flushed queue.
    await until(() => other.state === 'connected' && hub!.adapter.members('room')?.size === 1, 3000);
    hubForC = hub;
    await until(() => c.state === 'connected', 3000);
    expect(c.id).not.toBe(firstId);
    await until(() => got.length === 5);
    c.emit('chat', { n: 5 });
    await until(() => got.length === 6);
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
    expect(states.slice(0, 4)).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
    expect(hub.adapter.members('room')?.size).toBe(2);
  });

  it('rejects pending requests when the connection drops, keeps retry ones', async () => {
    const hub = newHub();
    let block = true;
    hub.on('hang', () => (block ? new Promise(() => undefined) : undefined));
    const { c, dialer } = newClient(() => hub);
    await c.connect();
    const lost = c.request('hang');
    const kept = c.request('echo', 'again', { retry: true });
    const keptHang = c.request('hang', undefined, { retry: true, timeout: 5000 });
    await tick(5);
    block = false;
    dialer.lastCut!();
    await expect(lost).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(kept).resolves.toBe('again');
    await expect(keptHang).resolves.toBeUndefined();
  });

  it('queued requests are sent after connecting; volatile emits are dropped while offline', async () => {
    const hub = newHub();
    let n = 0;
    hub.on('chat', () => void n++);
    const { c } = newClient(() => hub);
    const p = c.request('echo', 42);
    expect(c.emit('chat', { n: 1 }, { volatile: true })).toBe(false);
    expect(c.emit('chat', { n: 2 })).toBe(true);
    await c.connect();
    await expect(p).resolves.toBe(42);
    await until(() => n === 1);
  });

  it('connect() rejects when attempts run out, with reconnect_failed', async () => {
    const { c } = newClient(() => null, { reconnect: { baseDelay: 1, maxDelay: 2, maxAttempts: 3 } });
    const failed = vi.fn();
    c.onLifecycle('reconnect_failed', failed);
    await expect(c.connect()).rejects.toThrow(/ECONNREFUSED/);
    expect(failed).toHaveBeenCalledWith(expect.objectContaining({ attempts: 3 }));
    expect(c.state).toBe('disconnected');
  });

  it('a fatal dial error (e.g. HTTP 403) stops at once', async () => {
    const dial = async () => {
      throw Object.assign(new Error('HTTP 403 Forbidden'), { fatal: true, status: 403 });
    };
    const c = new ClientEngine(dial, { reconnect: true });
    cleanups.push(() => c.close());
    await expect(c.connect()).rejects.toMatchObject({ status: 403 });
  });

  it('no reconnection after close(); pending requests rejected', async () => {
    const hub = newHub();
    hub.on('hang', () => new Promise(() => undefined));
    const { c } = newClient(() => hub);
    await c.connect();
    const p = c.request('hang');
    c.close();
    await expect(p).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await tick(50);
    expect(c.state).toBe('disconnected');
    expect(hub.connections.size).toBe(0);
  });

  it('detects a dead server by missing PONGs and reconnects', async () => {
    // A link that swallows everything after CONNECT: the server is "frozen".
    const hub = newHub();
    let frozen = false;
    let dials = 0;
    const base = memoryDialer(() => hub);
    const dial = async (h: LinkHandler, s: AbortSignal): Promise<Link> => {
      dials++;
      const link = await base(h, s);
      return { ...link, send: (f, v) => (frozen ? 0 : link.send(f, v)), close: link.close, terminate: link.terminate, ping: link.ping, pause: link.pause, resume: link.resume, bufferedAmount: 0, transport: 'mem', remoteAddress: '' } as Link;
    };
    const c = new ClientEngine<Events>(dial, { heartbeat: { interval: 30, timeout: 30 }, reconnect: { baseDelay: 1, maxDelay: 5 }, connectTimeout: 100 });
    cleanups.push(() => c.close());
    await c.connect();
    frozen = true;
    await until(() => dials >= 2, 2000);
    frozen = false;
    await until(() => c.state === 'connected');
  });

  it('abort signal and timeout settle requests and leave nothing behind', async () => {
    const hub = newHub();
    hub.on('hang', () => new Promise(() => undefined));
    const { c } = newClient(() => hub);
    await c.connect();
    const ac = new AbortController();
    const p = c.request('hang', undefined, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(c.request('hang', undefined, { timeout: 10 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});

describe('client engine: lifecycle notifications and handlers', () => {
  it('connected / disconnected / error reach their listeners; unsubscribing and a throwing listener are fine', async () => {
    const hub = newHub();
    hub.on('hang', () => {
      throw new Error('x');
    });
    const { c } = newClient(() => hub, { reconnect: false });
    const log: string[] = [];
    c.onLifecycle('state', () => {
      throw new Error('a broken listener');
    });
    const off = c.onLifecycle('connected', ({ id }) => void log.push(`connected ${id === c.id}`));
    c.onLifecycle('disconnected', (i) => void log.push(`disconnected ${i.code} ${i.willReconnect}`));
    c.onLifecycle('error', (e, event) => void log.push(`error ${e.code} ${event}`));
    c.on('echo', () => {
      throw new Error('handler');
    });
    await c.connect();
    off();
    expect(c.connected).toBe(true);
    hub.getConnection(c.id!)!.emit('echo', 1);
    await until(() => log.length === 2);
    hub.getConnection(c.id!)!.disconnect(4100, 'bye');
    await until(() => c.state === 'disconnected');
    expect(log).toEqual(['connected true', 'error HANDLER_ERROR echo', 'disconnected 4100 false']);
    expect([c.connected, c.id]).toEqual([false, undefined]);
  });

  it('once, off and offAny on the client; rooms lists joined rooms', async () => {
    const hub = newHub();
    const { c } = newClient(() => hub);
    const got: string[] = [];
    const any = (e: string) => void got.push(`any ${e}`);
    c.onAny(any);
    c.once('chat', (m) => void got.push(`once ${m.n}`));
    await c.connect();
    await c.join('room');
    expect([...c.rooms]).toEqual(['room']);
    hub.to('room').emit('chat', { n: 1 });
    hub.to('room').emit('chat', { n: 2 });
    await until(() => got.length === 3);
    c.offAny(any);
    c.off('chat');
    hub.to('room').emit('chat', { n: 3 });
    await tick(10);
    expect(got).toEqual(['any chat', 'once 1', 'any chat']);
  });
});

describe('client engine: counters, connect errors, another dialer', () => {
  it('messagesSent / messagesReceived over the whole life, connectedAt of the current session, lastError of the last failure', async () => {
    let hub: Hub<Events> | null = null;
    const { c } = newClient(() => hub);
    const failures: [string, { attempt: number; willRetry: boolean }][] = [];
    c.onLifecycle('connect_error', (err, info) => void failures.push([err.message, info]));
    c.emit('chat', { n: 1 }); // queued while nothing listens
    void c.connect({ timeout: 0 });
    await until(() => failures.length >= 2);
    expect(failures.slice(0, 2)).toEqual([
      ['connect ECONNREFUSED', { attempt: 0, willRetry: true }],
      ['connect ECONNREFUSED', { attempt: 1, willRetry: true }],
    ]);
    expect(c.lastError?.message).toBe('connect ECONNREFUSED');
    expect([c.messagesSent, c.messagesReceived, c.connectedAt]).toEqual([0, 0, undefined]);
    hub = newHub();
    const before = Date.now();
    await c.connect();
    expect(c.connectedAt).toBeGreaterThanOrEqual(before);
    expect(c.connectedAt).toBeLessThanOrEqual(Date.now());
    await c.join('room'); // JOIN and its reply
    expect(await c.request('echo', 7)).toBe(7);
    c.emit('chat', { n: 2 }); // the server passes it to the others in the room
    hub.to('room').emit('chat', { n: 3 });
    hub.to('room').emit('chat', { n: 4 });
    await until(() => c.messagesReceived === 4);
    // Sent: the queued chat, JOIN, the request, the chat. Received: the JOIN reply, the echo reply, two chats.
    expect([c.messagesSent, c.messagesReceived]).toEqual([4, 4]);
    const dropped = new Promise<number | undefined>((r) => c.onLifecycle('disconnected', () => r(c.connectedAt)));
    hub.getConnection(c.id!)!.disconnect(4100, 'moving');
    expect(await dropped).toBeUndefined(); // no session, no connectedAt
    expect(c.lastError).toMatchObject({ code: 'DISCONNECTED', message: 'connection closed (4100: moving)' });
    await c.connect();
    c.on('echo', () => {
      throw new Error('handler failed');
    });
    hub.getConnection(c.id!)!.emit('echo', 1);
    await until(() => c.lastError?.message === 'handler failed');
    expect(c.messagesSent).toBeGreaterThanOrEqual(5); // the room was re-joined
  });

  it('a subclass can point the next attempts at another dialer (what the Node client’s setUrl does)', async () => {
    const hub = newHub();
    class Switchable extends ClientEngine<Events> {
      use(d: Parameters<typeof memoryDialer>[0]): void {
        this.setDialer(memoryDialer(d));
      }
    }
    const c = new Switchable(memoryDialer(() => null), { heartbeat: false, reconnect: { baseDelay: 5, maxDelay: 10 } });
    cleanups.push(() => c.close());
    const failed = new Promise<void>((r) => c.onLifecycle('connect_error', () => r()));
    const connected = c.connect({ timeout: 0 });
    await failed;
    c.use(() => hub);
    await connected;
    expect(hub.connections.size).toBe(1);
  });
});
