import { afterEach, describe, expect, it } from 'vitest';
import { freePort, recorder } from '@stelar/test-utils';
import { Cluster, RedisServer, tick, until } from './helpers';

let server: RedisServer | undefined;
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.dispose();
  await server?.stop();
  cluster = server = undefined;
});

describe.each([
  ['classic', false],
  ['sharded', true],
])('Redis restarts (%s pub/sub)', (_name, sharded) => {
  it('is survived: resubscribed, nodes found again, later messages arrive, what was lost is counted', async () => {
    server = await RedisServer.start(); // our own: this test kills it
    cluster = new Cluster(server.url);
    const nodes = await cluster.start(3, { sharded, heartbeatInterval: 100, nodeTimeout: 600, publishTimeout: 300 });
    const clients = [];
    for (const n of nodes) {
      const c = await n.client();
      await c.join('r');
      clients.push(c);
    }
    for (const n of nodes) await n.adapter.sync();
    const recs = clients.map(recorder);
    nodes[0]!.hub.to('r').emit('m', 1);
    await until(() => recs.every((r) => r.get('m')?.length === 1));

    await server.kill();
    await until(() => nodes.every((n) => n.adapter.stats.disconnects === 2), 3_000);

    // While Redis is down: local delivery goes on at once; what must cross nodes waits at most
    // publishTimeout, then is dropped and counted, never silent.
    const t0 = Date.now();
    nodes[0]!.hub.to('r').emit('m', 2);
    await expect(nodes[0]!.hub.serverSideEmit('anything', 1)).rejects.toMatchObject({ code: 'REDIS_DOWN' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(recs[0]!.get('m')).toHaveLength(2);
    await until(() => nodes[0]!.adapter.stats.droppedWhileDown === 2);
    const down = nodes[0]!.adapter.stats;
    expect(nodes[0]!.hub.getStats().errors['REDIS_DOWN']).toBe(2);
    expect(down.publishFailures + down.publishUnconfirmed + down.pendingPublishes).toBe(0);

    await tick(700); // longer than nodeTimeout: the nodes also lose sight of each other
    expect(nodes.every((n) => n.adapter.nodeCount() === 1)).toBe(true);

    await server.start(); // same port
    await until(() => nodes.every((n) => n.adapter.stats.connected), 5_000);
    await cluster.converged(3_000);
    for (const n of nodes) await n.adapter.sync();

    nodes[1]!.hub.to('r').emit('m', 3);
    await until(() => recs[0]!.get('m')?.length === 3 && recs[1]!.get('m')?.length === 2 && recs[2]!.get('m')?.length === 2);
    await tick(100);
    expect(recs.map((r) => r.get('m'))).toEqual([[1, 2, 3], [1, 3], [1, 3]]);

    for (const n of nodes) expect(n.adapter.stats.reconnects).toBeGreaterThanOrEqual(2);
    // Nodes 1 and 2 learn from node 0's numbering that one of its broadcasts never came: in
    // classic mode from its heartbeats, in sharded mode from the mark it sends on the room's
    // channel after a failed publish.
    await until(() => nodes[1]!.adapter.stats.missedFromPeers === 1 && nodes[2]!.adapter.stats.missedFromPeers === 1);
    expect(nodes[1]!.hub.getStats().errors['REDIS_MISSED']).toBe(1);
    expect(nodes[0]!.adapter.stats.missedFromPeers).toBe(0);
    // And the queries work again across all three.
    expect(await nodes[2]!.hub.in('r').count()).toBe(3);
  });
});

describe('Redis not there at start', () => {
  it('hub.ready() rejects with REDIS_DOWN after startTimeout; the node joins the cluster once Redis comes', async () => {
    const port = await freePort();
    cluster = new Cluster(`redis://127.0.0.1:${port}`);
    const early = cluster.add({ startTimeout: 300, publishTimeout: 200 });
    await expect(early).rejects.toMatchObject({ code: 'REDIS_DOWN', message: expect.stringContaining('not reachable in 300 ms') });
    const a = cluster.nodes[0]!;
    // Meanwhile: local work goes on, what would cross nodes is counted as lost.
    const c = await a.client();
    const rec = recorder(c);
    a.hub.emit('m', 0);
    await until(() => rec.get('m')?.length === 1);
    await until(() => a.adapter.stats.droppedWhileDown === 1);

    server = await RedisServer.start(port);
    const b = await cluster.add();
    await cluster.converged(3_000);
    const cb = await b.client();
    const recB = recorder(cb);
    a.hub.emit('m', 1);
    await until(() => recB.get('m')?.length === 1 && rec.get('m')?.length === 2);
    expect(recB.get('m')).toEqual([1]);
    expect(a.adapter.stats.connected).toBe(true);
  });
});
