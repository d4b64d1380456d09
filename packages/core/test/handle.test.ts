import { afterEach, describe, expect, it } from 'vitest';
import { ClientEngine } from '../src/client/index';
import { LocalConnectionHandle } from '../src/handle';
import { Hub, type AnyEvents } from '../src/index';
import { memoryDialer, tick, until } from './memory-link';

type Events = AnyEvents;
const hubs: Hub<Events>[] = [];
const clients: ClientEngine<Events>[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const h of hubs.splice(0)) await h.dispose();
});

async function setup(n: number): Promise<{ hub: Hub<Events>; cs: ClientEngine<Events>[]; got: Map<string, unknown[]>[] }> {
  const hub = new Hub<Events>({ heartbeat: false });
  hubs.push(hub);
  const cs: ClientEngine<Events>[] = [];
  const got: Map<string, unknown[]>[] = [];
  for (let i = 0; i < n; i++) {
    const c = new ClientEngine<Events>(memoryDialer(() => hub), { heartbeat: false, reconnect: false });
    clients.push(c);
    await c.connect();
    const m = new Map<string, unknown[]>();
    c.onAny((event, data) => {
      let list = m.get(event);
      if (!list) m.set(event, (list = []));
      list.push(data);
    });
    cs.push(c);
    got.push(m);
  }
  return { hub, cs, got };
}

const n = (m: Map<string, unknown[]>, e: string): number => m.get(e)?.length ?? 0;

describe('addressing a connection by id', () => {
  it('to(id) reaches that connection only; with rooms, once; except(id) skips it', async () => {
    const { hub, cs, got } = await setup(3);
    const [a, b, c] = cs as [ClientEngine<Events>, ClientEngine<Events>, ClientEngine<Events>];
    await b.join('r');
    hub.to(a.id!).emit('one', 1);
    // a by id, b by room, c by id and by a room it is in: each gets it once.
    await c.join('r');
    hub.to([a.id!, 'r', c.id!]).emit('many', 2);
    hub.to('r').except(c.id!).emit('notc', 3);
    hub.except(b.id!).emit('notb', 4);
    await until(() => n(got[0]!, 'one') === 1 && n(got[1]!, 'notc') === 1 && n(got[2]!, 'notb') === 1);
    await tick(20);
    expect(got.map((g) => [n(g, 'one'), n(g, 'many'), n(g, 'notc'), n(g, 'notb')])).toEqual([
      [1, 1, 0, 1],
      [0, 1, 1, 0],
      [0, 1, 0, 1],
    ]);
    expect(await hub.to(a.id!).count()).toBe(1);
    expect(await hub.to('no-such-room-or-id').count()).toBe(0);
  });

  it('a room named like a connection id addresses both, each once', async () => {
    const { hub, cs, got } = await setup(2);
    const [a, b] = cs as [ClientEngine<Events>, ClientEngine<Events>];
    await b.join(a.id!);
    await a.join(a.id!);
    hub.to(a.id!).emit('x', 1);
    await until(() => n(got[0]!, 'x') === 1 && n(got[1]!, 'x') === 1);
    await tick(20);
    expect([n(got[0]!, 'x'), n(got[1]!, 'x')]).toEqual([1, 1]);
  });
});

describe('fetchConnections handles (single process)', () => {
  it('describe the connection and act on it: emit, request, join, leave, disconnect', async () => {
    const { hub, cs, got } = await setup(2);
    const [a] = cs as [ClientEngine<Events>];
    a.on('ask', (q: number) => q * 2);
    await a.join('r');
    const [h] = await hub.in('r').fetchConnections();
    expect(h).toBeInstanceOf(LocalConnectionHandle);
    expect(h).toMatchObject({ id: a.id, nodeId: hub.nodeId, local: true, rooms: ['r'], transport: 'mem' });
    expect(JSON.parse(JSON.stringify(h))).toEqual({ id: a.id, nodeId: hub.nodeId, transport: 'mem', remoteAddress: '127.0.0.1', rooms: ['r'], data: {} });

    h!.emit('hi', 'there');
    await until(() => n(got[0]!, 'hi') === 1);
    expect(await h!.request('ask', 21)).toBe(42);
    await h!.join(['s', 't']);
    expect([...hub.getConnection(a.id!)!.rooms].sort()).toEqual(['r', 's', 't']);
    await h!.leave('s');
    expect([...hub.getConnection(a.id!)!.rooms].sort()).toEqual(['r', 't']);
    const closed = new Promise<number>((resolve) => a.onLifecycle('disconnected', ({ code }) => resolve(code)));
    await h!.disconnect(4100, 'bye');
    expect(await closed).toBe(4100);
    await until(() => hub.connections.size === 1);
    await expect(h!.join('u')).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(h!.request('ask', 1)).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(h!.disconnect()).resolves.toBeUndefined();
  });
});
