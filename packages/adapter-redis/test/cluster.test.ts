import { describe, expect, it } from 'vitest';
import type { ClientEngine } from '@stelar/core/client';
import { recorder } from '@stelar/test-utils';
import { Cluster, useRedis, tick, until, type Events, type Node } from './helpers';

const redis = useRedis();
let cluster: Cluster;

/** Three nodes with two clients each; returns clients by node. */
async function threeNodes(sharded: boolean): Promise<{ nodes: Node[]; clients: ClientEngine<Events>[][] }> {
  cluster = redis.cluster();
  const nodes = await cluster.start(3, { sharded });
  const clients: ClientEngine<Events>[][] = [];
  for (const n of nodes) clients.push([await n.client(), await n.client()]);
  return { nodes, clients };
}

/** Waits for deliveries to settle: until `cond`, then a little longer so duplicates would show. */
async function settle(cond: () => boolean): Promise<void> {
  await until(cond, 3_000);
  await tick(150);
}

function count(rec: Map<string, unknown[]>, event: string): number {
  return rec.get(event)?.length ?? 0;
}

describe.each([
  ['classic pub/sub (one channel per prefix)', false],
  ['sharded pub/sub (one channel per room)', true],
])('broadcast across three nodes: %s', (_name, sharded) => {
  it('a room message reaches every member on every node exactly once, and no one else', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    const members = clients.flat();
    for (const c of members) await c.join('room');
    const outsiders = [await nodes[0]!.client(), await nodes[1]!.client(), await nodes[2]!.client()];
    for (const n of nodes) await n.adapter.sync();
    const recs = members.map(recorder);
    const outs = outsiders.map(recorder);

    nodes[0]!.hub.to('room').emit('m', { from: 0 });
    nodes[2]!.hub.to('room').emit('m', { from: 2 });
    await settle(() => recs.every((r) => count(r, 'm') === 2));
    for (const r of recs) expect(r.get('m')).toEqual(expect.arrayContaining([{ from: 0 }, { from: 2 }]));
    for (const r of recs) expect(count(r, 'm')).toBe(2);
    for (const r of outs) expect(count(r, 'm')).toBe(0);

    // Everyone, from node 1: members and outsiders alike, once.
    nodes[1]!.hub.emit('all', 1);
    await settle(() => [...recs, ...outs].every((r) => count(r, 'all') === 1));
    for (const r of [...recs, ...outs]) expect(count(r, 'all')).toBe(1);

    const s0 = nodes[0]!.adapter.stats;
    expect(s0.published).toBe(1);
    expect(s0.received).toBe(2);
    expect(s0.droppedWhileDown + s0.publishFailures + s0.missedFromPeers + s0.badMessages).toBe(0);
  });

  it('a client event relayed to its room reaches the others on every node, not the sender', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    for (const n of nodes) n.hub.on('say', (text, conn) => conn.to('room').emit('said', text));
    const all = clients.flat();
    for (const c of all) await c.join('room');
    for (const n of nodes) await n.adapter.sync();
    const recs = all.map(recorder);
    const sender = clients[1]![0]!;
    sender.emit('say', 'hello');
    await settle(() => recs.filter((_, i) => all[i] !== sender).every((r) => count(r, 'said') === 1));
    recs.forEach((r, i) => expect(count(r, 'said')).toBe(all[i] === sender ? 0 : 1));
  });

  it('except rooms and except connections hold across nodes', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    const all = clients.flat();
    for (const c of all) await c.join('room');
    // One VIP per node; the second client of node 2 is excluded by id.
    for (const cs of clients) await cs[0]!.join('vip');
    const skipped = clients[2]![1]!;
    for (const n of nodes) await n.adapter.sync();
    const recs = all.map(recorder);
    nodes[0]!.hub.to('room').except('vip').except({ id: skipped.id! }).emit('m', 'x');
    const expected = all.map((c) => !clients.some((cs) => cs[0] === c) && c !== skipped);
    await settle(() => recs.every((r, i) => count(r, 'm') === (expected[i] ? 1 : 0)));
    recs.forEach((r, i) => expect(count(r, 'm')).toBe(expected[i] ? 1 : 0));
    expect(expected.filter(Boolean)).toHaveLength(2);
  });

  it('several rooms at once: a member of both gets it once, each node delivers the same bytes', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    // node 0: [a], [a, b]; node 1: [b], []; node 2: [a, b], [b]
    await clients[0]![0]!.join('a');
    await clients[0]![1]!.join('a');
    await clients[0]![1]!.join('b');
    await clients[1]![0]!.join('b');
    await clients[2]![0]!.join('a');
    await clients[2]![0]!.join('b');
    await clients[2]![1]!.join('b');
    for (const n of nodes) await n.adapter.sync();
    const all = clients.flat();
    const recs = all.map(recorder);
    const bytes = new Uint8Array(256).map((_, i) => i);
    nodes[1]!.hub.to(['a', 'b']).emit('bin', bytes);
    const expected = [1, 1, 1, 0, 1, 1];
    await settle(() => recs.every((r, i) => count(r, 'bin') === expected[i]));
    recs.forEach((r, i) => expect(count(r, 'bin')).toBe(expected[i]));
    for (const r of recs) for (const got of r.get('bin') ?? []) expect(new Uint8Array(got as Uint8Array)).toEqual(bytes);
  });

  it('`local` stays on its node; Redis is not used', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    const recs = clients.flat().map(recorder);
    const before = nodes[0]!.adapter.stats.published;
    nodes[0]!.hub.local.emit('here', 1);
    await settle(() => recs.slice(0, 2).every((r) => count(r, 'here') === 1));
    recs.forEach((r, i) => expect(count(r, 'here')).toBe(i < 2 ? 1 : 0));
    expect(nodes[0]!.adapter.stats.published).toBe(before);
  });
});

describe('cross-node queries', () => {
  it('fetchConnections and count see the members of every node', async () => {
    const { nodes, clients } = await threeNodes(false);
    await clients[0]![0]!.join('q');
    await clients[1]![1]!.join('q');
    await clients[2]![0]!.join('q');
    nodes[2]!.hub.getConnection(clients[2]![0]!.id!)!.data['user'] = 'ada';

    const infos = await nodes[0]!.hub.in('q').fetchConnections();
    const byId = new Map(infos.map((i) => [i.id, i]));
    expect([...byId.keys()].sort()).toEqual([clients[0]![0]!.id, clients[1]![1]!.id, clients[2]![0]!.id].sort());
    expect(byId.get(clients[1]![1]!.id!)).toMatchObject({ nodeId: nodes[1]!.hub.nodeId, rooms: ['q'], transport: 'mem' });
    expect(byId.get(clients[2]![0]!.id!)?.data).toEqual({ user: 'ada' });

    expect(await nodes[1]!.hub.fetchConnections()).toHaveLength(6);
    expect(await nodes[1]!.hub.except('q').fetchConnections()).toHaveLength(3);
    expect(await nodes[2]!.hub.in('q').count()).toBe(3);
    expect(await nodes[2]!.adapter.countConnections({ rooms: ['q'], exceptRooms: [], exceptIds: [clients[0]![0]!.id!] })).toBe(2);
  });

  it('joins, leaves and disconnects connections on other nodes', async () => {
    const { nodes, clients } = await threeNodes(false);
    for (const cs of clients) await cs[0]!.join('a');
    const firsts = clients.map((cs) => cs[0]!);

    await nodes[0]!.hub.in('a').join(['b', 'c']);
    for (let i = 0; i < 3; i++) {
      const conn = nodes[i]!.hub.getConnection(firsts[i]!.id!)!;
      expect([...conn.rooms].sort()).toEqual(['a', 'b', 'c']);
    }
    const recs = clients.flat().map(recorder);
    nodes[2]!.hub.to('c').emit('c', 1);
    await settle(() => recs.filter((_, i) => i % 2 === 0).every((r) => count(r, 'c') === 1));
    recs.forEach((r, i) => expect(count(r, 'c')).toBe(i % 2 === 0 ? 1 : 0));

    await nodes[1]!.hub.in('b').leave('c');
    expect(await nodes[0]!.hub.in('c').count()).toBe(0);
    expect(await nodes[0]!.hub.in('b').count()).toBe(3);

    const gone: { code: number; reason: string }[] = [];
    for (const c of firsts) c.onLifecycle('disconnected', ({ code, reason }) => void gone.push({ code, reason }));
    await nodes[0]!.hub.in('b').disconnect(4100, 'bye now');
    await until(() => gone.length === 3);
    expect(gone).toEqual(Array(3).fill({ code: 4100, reason: 'bye now' }));
    await until(() => nodes.every((n) => n.hub.connections.size === 1));
    expect(await nodes[2]!.hub.fetchConnections()).toHaveLength(3);
  });

  it('serverSideEmit reaches the other nodes (not itself); with ack, one reply per other node', async () => {
    const { nodes } = await threeNodes(false);
    const seen: string[] = [];
    for (const n of nodes) {
      n.hub.onServerEvent('whoami', (data, from) => {
        seen.push(`${n.hub.nodeId}<-${from}:${JSON.stringify(data)}`);
        return { node: n.hub.nodeId, doubled: (data as number) * 2 };
      });
    }
    const [a, b, c] = nodes.map((n) => n.hub.nodeId);
    const replies = await nodes[0]!.hub.serverSideEmit('whoami', 21, { ack: true });
    expect(replies).toHaveLength(2);
    expect(replies).toEqual(expect.arrayContaining([{ node: b, doubled: 42 }, { node: c, doubled: 42 }]));
    expect(seen.sort()).toEqual([`${b}<-${a}:21`, `${c}<-${a}:21`].sort());

    seen.length = 0;
    await expect(nodes[1]!.hub.serverSideEmit('whoami', 1)).resolves.toEqual([]);
    await until(() => seen.length === 2);
    expect(seen.sort()).toEqual([`${a}<-${b}:1`, `${c}<-${b}:1`].sort());

    // An async handler, and a node with no handler for the event.
    nodes[1]!.hub.onServerEvent('slow', async () => {
      await tick(20);
      return 'ok';
    });
    const err = await nodes[0]!.hub.serverSideEmit('slow', null, { ack: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NO_HANDLER' });
    expect(String((err as Error).message)).toContain(nodes[2]!.hub.nodeId);
  });
});

describe('sharded mode', () => {
  it('a node subscribes a room channel while it has local members, and only then', async () => {
    cluster = redis.cluster();
    const [a, b] = await cluster.start(2, { sharded: true });
    const { Redis } = await import('ioredis');
    const r = new Redis(redis.url);
    try {
      const subscribers = async (room: string): Promise<number> => {
        const reply = (await r.call('PUBSUB', 'SHARDNUMSUB', `${cluster.prefix}#room#${room}`)) as [string, number];
        return Number(reply[1]);
      };
      expect(await subscribers('s')).toBe(0);
      const c1 = await a!.client();
      const c2 = await a!.client();
      const c3 = await b!.client();
      await c1.join('s');
      await c2.join('s');
      await c3.join('s');
      await a!.adapter.sync();
      await b!.adapter.sync();
      expect(await subscribers('s')).toBe(2); // one subscription per node, not per member
      await c1.leave('s');
      await a!.adapter.sync();
      expect(await subscribers('s')).toBe(2);
      c2.close();
      await until(() => a!.hub.connections.size === 1);
      await a!.adapter.sync();
      expect(await subscribers('s')).toBe(1);
      // The room is still reachable from node a, through node b's subscription.
      const rec = recorder(c3);
      a!.hub.to('s').emit('m', 1);
      await settle(() => count(rec, 'm') === 1);
      expect(count(rec, 'm')).toBe(1);
    } finally {
      r.disconnect();
    }
  });
});
