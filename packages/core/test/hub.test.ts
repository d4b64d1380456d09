/** The hub's public API and registration; the parts behind it have their own test files. */
import { describe, expect, it } from 'vitest';
import { ClientEngine } from '../src/client/index';
import { Hub, MemoryAdapter, type Adapter } from '../src/index';
import type { AdapterHost } from '../src/internal';
import { openSessions, useHubs } from './fixtures';
import { until } from './memory-link';

type Events = {
  chat: (m: { text: string }) => void;
  echo: (x: unknown) => unknown;
};

const setup = useHubs();

describe('Hub', () => {
  it('accepts a client, gives it an id, counts it, and forgets it on close', async () => {
    const { hub, client } = setup<Events>();
    const seen: string[] = [];
    const gone: string[] = [];
    hub.onConnection((c) => seen.push(c.id));
    hub.onDisconnect((c) => gone.push(c.id));
    const c = client();
    await c.connect();
    expect(c.id).toBeTypeOf('string');
    expect(seen).toEqual([c.id]);
    expect(hub.getConnection(c.id!)?.id).toBe(c.id);
    expect([...hub.connections.keys()]).toEqual([c.id]);
    expect(hub.getStats().connections.open).toBe(1);
    expect(hub.getStats().connections.byTransport['mem']).toBe(1);
    c.close();
    await until(() => hub.getStats().connections.open === 0);
    expect(hub.connections.size).toBe(0);
    expect(gone).toEqual(seen);
  });

  it('delivers events with typed data, many handlers, once, off, and a catch-all', async () => {
    const { hub, client } = setup<Events>();
    const got: string[] = [];
    const h1 = (m: { text: string }) => void got.push(`a:${m.text}`);
    hub.on('chat', h1);
    hub.on('chat', (m) => void got.push(`b:${m.text}`));
    hub.once('chat', (m) => void got.push(`once:${m.text}`));
    const any = (event: string) => void got.push(`any:${event}`);
    hub.onAny(any);
    const c = client();
    await c.connect();
    c.emit('chat', { text: '1' });
    await until(() => got.length === 4);
    hub.off('chat', h1);
    c.emit('chat', { text: '2' });
    await until(() => got.length === 6);
    expect(got).toEqual(['any:chat', 'a:1', 'b:1', 'once:1', 'any:chat', 'b:2']);
    hub.offAny(any);
    hub.off('chat');
    await expect(c.request('chat', { text: '3' })).rejects.toMatchObject({ code: 'NO_HANDLER' });
    expect(got).toHaveLength(6);
  });

  it('to(room), several rooms (delivered once), except(conn), except(room), everyone, volatile, local', async () => {
    const { hub, client } = setup<Events>();
    hub.on('chat', (m, conn) => conn.to('lobby').emit('chat', m));
    const [a, b, c] = [client(), client(), client()];
    const inbox = new Map<ClientEngine<Events, Events>, string[]>([[a, []], [b, []], [c, []]]);
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
    hub.volatile.emit('chat', { text: 'volatile' });
    hub.local.except(hub.getConnection(a.id!)!).emit('chat', { text: 'local' });
    await until(() => inbox.get(a)!.length === 4 && inbox.get(c)!.length === 4 && inbox.get(b)!.length === 5);
    expect(inbox.get(a)).toEqual(['both', 'lobby-not-vip', 'all', 'volatile']);
    expect(inbox.get(b)).toEqual(['from-a', 'both', 'all', 'volatile', 'local']);
    expect(inbox.get(c)).toEqual(['both', 'all', 'volatile', 'local']);
    expect(hub.getStats().rooms).toBe(2);
    expect(await hub.in('vip').count()).toBe(2);
    expect((await hub.fetchConnections()).map((i) => i.id).sort()).toEqual([a.id, b.id, c.id].sort());
    a.close();
    await until(() => hub.getStats().rooms === 2 && hub.adapter.members('lobby')?.size === 1);
    await b.leave('lobby');
    await until(() => hub.getStats().rooms === 1);
  });

  it('the adapter gets a host: connections, server-side events (NO_HANDLER when none), error and room counters', async () => {
    let host!: AdapterHost;
    class Spy extends MemoryAdapter {
      override attach(h: AdapterHost): Promise<void> {
        host = h;
        super.attach(h);
        return Promise.resolve();
      }
      override async serverSideEmit(event: string, data?: unknown): Promise<unknown[]> {
        return [`${event}:${String(data)}`];
      }
    }
    const hub = new Hub({ heartbeat: false, adapter: new Spy(), nodeId: 'node-1' });
    await hub.ready();
    const [s] = openSessions(hub, 1);
    expect(host.nodeId).toBe('node-1');
    expect(host.connection(s!.conn.id)).toBe(s!.conn);
    expect([...host.connections()]).toEqual([s!.conn]);
    hub.onServerEvent('ping', (data, from) => `pong ${String(data)} from ${from}`);
    await expect(host.handleServerEvent('ping', 1, 'node-2')).resolves.toBe('pong 1 from node-2');
    await expect(host.handleServerEvent('nope', 1, 'node-2')).rejects.toMatchObject({ code: 'NO_HANDLER' });
    host.countError('REDIS_DOWN');
    host.roomsDelta(2);
    expect(hub.getStats().errors['REDIS_DOWN']).toBe(1);
    expect(hub.getStats().rooms).toBe(2);
    await expect(hub.serverSideEmit('e', 7)).resolves.toEqual(['e:7']);
    await hub.dispose();
  });

  it('ready() follows the adapter’s attach; stats and Prometheus text include the adapter’s counters', async () => {
    let attached!: () => void;
    const adapter = Object.assign(new MemoryAdapter(), {
      attach(this: MemoryAdapter, h: AdapterHost) {
        MemoryAdapter.prototype.attach.call(this, h);
        return new Promise<void>((r) => (attached = r));
      },
      metrics: () => ({ published: 3 }),
    }) as Adapter;
    const hub = new Hub({ heartbeat: false, adapter, maxFrameSize: 2048 });
    let ready = false;
    void hub.ready().then(() => (ready = true));
    await until(() => attached !== undefined);
    expect(ready).toBe(false);
    attached();
    await until(() => ready);
    expect(hub.maxFrameSize).toBe(2048);
    expect(hub.isReady).toBe(true);
    expect(hub.getStats().adapter).toEqual({ published: 3 });
    expect(hub.metricsText('x')).toContain('x_adapter{counter="published"} 3');
    await hub.dispose();
  });

  it('errors from listeners go to onError; a link accepted while draining is told 1001', async () => {
    const hub = new Hub({ heartbeat: false });
    const errors: string[] = [];
    hub.onError((e) => errors.push((e as Error).message));
    hub.onConnection(() => {
      throw new Error('listener failed');
    });
    const [s] = openSessions(hub, 1);
    expect(errors).toEqual(['listener failed']);
    expect(s!.conn.isOpen).toBe(true);
    s!.handler.onClose(1000, '');
    const drained = hub.drain({ timeout: 100 });
    const late = openSessions(hub, 1)[0]!;
    expect(late.calls).toContain('close 1001 server shutting down');
    late.handler.onClose(1001, '');
    await expect(drained).resolves.toBe(true);
    await hub.dispose();
  });
});
