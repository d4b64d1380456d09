/**
 * The adapter on a real Redis Cluster: three masters started here (redis-server
 * `--cluster-enabled yes` + `redis-cli --cluster create`), with an ioredis `Cluster` client as
 * the template, in classic and sharded mode.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster as RedisCluster, Redis, type ClusterOptions } from 'ioredis';
import type { ClientEngine } from '@stelar/core/client';
import { recorder } from '@stelar/test-utils';
import { channelsOf, Cluster, RedisClusterServer, tick, until, type Events, type Node } from './helpers';

let server: RedisClusterServer;
let template: RedisCluster;
let cluster: Cluster | undefined;
beforeAll(async () => {
  server = await RedisClusterServer.start();
  // The template carries an option of its own, which the adapter's copies must keep.
  template = new RedisCluster(server.nodes, { slotsRefreshTimeout: 4_321, lazyConnect: true });
}, 40_000);
afterAll(async () => {
  template?.disconnect();
  await server?.stop();
});
afterEach(async () => {
  await cluster?.dispose();
  cluster = undefined;
});

const count = (rec: Map<string, unknown[]>, e: string): number => rec.get(e)?.length ?? 0;

/** Room names whose channels fall on each of the three masters (one per master). */
async function roomsOnEveryMaster(prefix: string): Promise<string[]> {
  const probe = new RedisCluster(server.nodes);
  try {
    await new Promise<void>((resolve) => probe.once('ready', () => resolve()));
    const byMaster = new Map<string, string>();
    for (let i = 0; byMaster.size < 3 && i < 1_000; i++) {
      const room = `room-${i}`;
      const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', channelsOf(prefix).room(room)));
      const owner = (probe.slots[slot] ?? [])[0];
      if (owner && !byMaster.has(owner)) byMaster.set(owner, room);
    }
    expect(byMaster.size).toBe(3);
    return [...byMaster.values()];
  } finally {
    probe.disconnect();
  }
}

describe.each([
  ['classic', false],
  ['sharded', true],
])('on a 3-master Redis Cluster (%s)', (_name, sharded) => {
  async function start(): Promise<{ nodes: Node[]; clients: ClientEngine<Events>[] }> {
    cluster = new Cluster('unused');
    const nodes = await cluster.start(3, { client: template, sharded });
    const clients: ClientEngine<Events>[] = [];
    for (const n of nodes) clients.push(await n.client(), await n.client());
    return { nodes, clients };
  }

  it('the adapter copies the Cluster client properly (its options kept, ours added)', async () => {
    const { nodes } = await start();
    const { pub, sub } = (nodes[0]!.adapter as unknown as { broker: { pub: RedisCluster & { options: ClusterOptions }; sub: RedisCluster & { options: ClusterOptions } } }).broker;
    expect(pub).toBeInstanceOf(RedisCluster);
    expect(sub).toBeInstanceOf(RedisCluster);
    expect(pub.options.slotsRefreshTimeout).toBe(4_321);
    expect(pub.options.enableOfflineQueue).toBe(false);
    expect(sub.options.shardedSubscribers).toBe(sharded);
    expect(pub.options.redisOptions?.connectionName).toBe(`stelar-pub-${nodes[0]!.hub.nodeId}`);
    expect(template.status).toBe('wait'); // the template itself is left alone
  });

  it('rooms on every shard: each member gets each message once; queries, to(id) and handles work', async () => {
    const { nodes, clients } = await start();
    const rooms = await roomsOnEveryMaster(cluster!.prefix);
    // Every client joins every room; the second client of node 2 joins none.
    for (const c of clients.slice(0, 5)) for (const r of rooms) await c.join(r);
    for (const n of nodes) await n.adapter.sync();
    const recs = clients.map(recorder);
    for (const [i, r] of rooms.entries()) nodes[i]!.hub.to(r).emit('m', r);
    nodes[1]!.hub.to(rooms).emit('all3', 1); // several rooms: once per member
    await until(() => recs.slice(0, 5).every((rec) => count(rec, 'm') === 3 && count(rec, 'all3') === 1), 5_000);
    await tick(200);
    recs.slice(0, 5).forEach((rec) => {
      expect(count(rec, 'm')).toBe(3);
      expect(count(rec, 'all3')).toBe(1);
      expect([...(rec.get('m') ?? [])].sort()).toEqual([...rooms].sort());
    });
    expect(count(recs[5]!, 'm') + count(recs[5]!, 'all3')).toBe(0);

    expect(await nodes[0]!.hub.in(rooms[2]!).count()).toBe(5);
    expect(await nodes[2]!.hub.fetchConnections()).toHaveLength(6);
    const target = clients[5]!;
    nodes[0]!.hub.to(target.id!).emit('dm', 'hi');
    await until(() => count(recs[5]!, 'dm') === 1, 3_000);
    const [h] = await nodes[0]!.hub.to(target.id!).fetchConnections();
    target.on('sum', ({ a, b }: { a: number; b: number }) => a + b);
    expect(await h!.request('sum', { a: 1, b: 2 })).toBe(3);

    if (sharded) {
      // One subscription per node per room, on the master that owns the room's channel, and
      // none on the others.
      for (const r of rooms) {
        const ch = channelsOf(cluster!.prefix).room(r);
        const perMaster = await Promise.all(
          server.ports.map(async (port) => {
            const one = new Redis(port, '127.0.0.1');
            try {
              return Number(((await one.call('PUBSUB', 'SHARDNUMSUB', ch)) as unknown[])[1]);
            } finally {
              one.disconnect();
            }
          }),
        );
        expect(perMaster.sort()).toEqual([0, 0, 3]);
      }
    }
    const lost = nodes.map((n) => n.adapter.stats).reduce((s, x) => s + x.droppedWhileDown + x.publishUnconfirmed + x.missedFromPeers + x.duplicatesDropped + x.subscribeFailures, 0);
    expect(lost).toBe(0);
  });

  it('a node that leaves without goodbye stops being waited for at once (Redis counts subscribers)', async () => {
    const { nodes, clients } = await start();
    await clients[0]!.join('q');
    await clients[2]!.join('q');
    expect(await nodes[1]!.hub.in('q').count()).toBe(2);
    await nodes[0]!.adapter.close({ goodbye: false });
    const t0 = Date.now();
    expect(await nodes[1]!.hub.in('q').count()).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(nodes[1]!.adapter.stats.requestsTimedOut).toBe(0);
  });
});
