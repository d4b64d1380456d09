/** Cross-node queries, server events, addressing by id and remote handles, over the memory broker. */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientEngine } from '@stelar/core/client';
import { RemoteConnectionHandle } from '../src/index';
import { recorder } from '@stelar/test-utils';
import { Cluster, tick, until, type Events, type Node } from './helpers';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.dispose();
  cluster = undefined;
});

async function threeNodes(sharded: boolean): Promise<{ nodes: Node[]; clients: ClientEngine<Events>[] }> {
  cluster = new Cluster({ broker: { sharded } });
  const nodes = await cluster.start(3);
  const clients: ClientEngine<Events>[] = [];
  for (const n of nodes) clients.push(await n.client());
  return { nodes, clients };
}

const count = (rec: Map<string, unknown[]>, e: string): number => rec.get(e)?.length ?? 0;

describe.each([
  ['classic', false],
  ['sharded', true],
])('queries and handles (%s)', (_name, sharded) => {
  it('count, join, leave and disconnect act on every node', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    for (const c of clients) await c.join('a');
    expect(await nodes[0]!.hub.in('a').count()).toBe(3);
    expect(await nodes[0]!.adapter.countConnections({ rooms: ['a'], exceptRooms: [], exceptIds: [clients[1]!.id!] })).toBe(2);
    await nodes[1]!.hub.in('a').join(['b', 'c']);
    for (const [i, n] of nodes.entries()) expect([...n.hub.getConnection(clients[i]!.id!)!.rooms].sort()).toEqual(['a', 'b', 'c']);
    await nodes[2]!.hub.in('b').leave('c');
    expect(await nodes[0]!.hub.in('c').count()).toBe(0);
    const recs = clients.map(recorder);
    nodes[2]!.hub.to('b').emit('after-join', 1); // the new rooms' channels are subscribed (sharded)
    await until(() => recs.every((r) => count(r, 'after-join') === 1));
    const closed = clients.map((c) => new Promise<number>((resolve) => c.onLifecycle('disconnected', ({ code }) => resolve(code))));
    await nodes[0]!.hub.in('a').disconnect(4100, 'bye');
    expect(await Promise.all(closed)).toEqual([4100, 4100, 4100]);
  });

  it('to(id) reaches a connection on another node, once; except(id) skips it there', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    const [c0, c1, c2] = clients as [ClientEngine<Events>, ClientEngine<Events>, ClientEngine<Events>];
    for (const c of clients) await c.join('room');
    const recs = clients.map(recorder);
    nodes[0]!.hub.to(c2.id!).emit('dm', 'to c2');
    nodes[0]!.hub.to([c1.id!, c2.id!]).emit('two', 1);
    nodes[1]!.hub.to('room').except(c2.id!).emit('not2', 1);
    nodes[2]!.hub.to(c0.id!).emit('back', 'to c0');
    await until(() => count(recs[2]!, 'dm') === 1 && count(recs[1]!, 'two') === 1 && count(recs[0]!, 'not2') === 1 && count(recs[0]!, 'back') === 1);
    await tick(30);
    expect(recs.map((r) => [count(r, 'dm'), count(r, 'two'), count(r, 'not2'), count(r, 'back')])).toEqual([
      [0, 0, 1, 1],
      [0, 1, 1, 0],
      [1, 1, 0, 0],
    ]);
    // (Sharded: nobody subscribes to a channel named after a connection id, so `dm` went once
    // more, on the global channel: a publish that reached nobody is not counted as published.)
    expect(nodes[0]!.adapter.stats.published).toBe(2);
  });

  it('fetchConnections handles act where the connection lives: emit, request with reply, join, leave, disconnect', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    const [, c1, c2] = clients as [ClientEngine<Events>, ClientEngine<Events>, ClientEngine<Events>];
    c2.on('sum', ({ a, b }: { a: number; b: number }) => a + b);
    c2.on('fail', () => {
      throw Object.assign(new Error('no way'), { code: 'NOPE' });
    });
    await c2.join('x');
    await c1.join('x');
    const recs = clients.map(recorder);
    const handles = await nodes[0]!.hub.in('x').fetchConnections();
    expect(handles.map((h) => h.id).sort()).toEqual([c1.id, c2.id].sort());
    const h = handles.find((x) => x.id === c2.id)!;
    expect(h).toBeInstanceOf(RemoteConnectionHandle);
    expect(JSON.parse(JSON.stringify(h))).toMatchObject({ id: c2.id, nodeId: nodes[2]!.hub.nodeId, rooms: ['x'], transport: 'mem' });
    h.emit('hello', { n: 1 });
    h.emit('bin', new Uint8Array([1, 2, 3]));
    await until(() => count(recs[2]!, 'hello') === 1 && count(recs[2]!, 'bin') === 1);
    expect(recs[2]!.get('hello')).toEqual([{ n: 1 }]);
    expect([...(recs[2]!.get('bin')![0] as Uint8Array)]).toEqual([1, 2, 3]);
    expect(await h.request('sum', { a: 2, b: 40 })).toBe(42);
    await expect(h.request('fail', null)).rejects.toMatchObject({ code: 'NOPE', message: 'no way' });
    await h.join(['y', 'z']);
    const conn2 = nodes[2]!.hub.getConnection(c2.id!)!;
    expect([...conn2.rooms].sort()).toEqual(['x', 'y', 'z']);
    await h.leave('y');
    expect([...conn2.rooms].sort()).toEqual(['x', 'z']);
    const closed = new Promise<number>((resolve) => c2.onLifecycle('disconnected', ({ code }) => resolve(code)));
    await h.disconnect(4100, 'from afar');
    expect(await closed).toBe(4100);
    await until(() => nodes[2]!.hub.connections.size === 0);
    await expect(h.request('sum', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(h.join('w')).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(h.disconnect()).resolves.toBeUndefined();

    // Its whole node goes away without a goodbye: its handles fail at once, not after a timeout.
    const [h1] = await nodes[0]!.hub.to(c1.id!).fetchConnections();
    await nodes[1]!.adapter.close({ goodbye: false });
    const t0 = Date.now();
    await expect(h1!.request('sum', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('server-side events', () => {
  it('with ack: one reply per other node, an error answer rejects with its code; without: sent', async () => {
    cluster = new Cluster();
    const [a, b, c] = await cluster.start(3);
    const got: [unknown, string][] = [];
    b!.hub.onServerEvent('ping', (data, from) => (got.push([data, from]), 'pong-b'));
    c!.hub.onServerEvent('ping', () => 'pong-c');
    expect((await a!.hub.serverSideEmit('ping', 1, { ack: true })).sort()).toEqual(['pong-b', 'pong-c']);
    expect(await a!.hub.serverSideEmit('ping', 2)).toEqual([]);
    await until(() => got.length === 2);
    expect(got).toEqual([
      [1, a!.hub.nodeId],
      [2, a!.hub.nodeId],
    ]);
    await expect(a!.hub.serverSideEmit('nobody-listens', 1, { ack: true })).rejects.toMatchObject({ code: 'NO_HANDLER' });
    await expect(a!.hub.serverSideEmit('ping', 10n as unknown as number, { ack: true })).rejects.toMatchObject({ code: 'BAD_PAYLOAD' });
    await expect(a!.hub.serverSideEmit('ping', 10n as unknown as number)).rejects.toMatchObject({ code: 'BAD_PAYLOAD' });
  });
});
