import { afterEach, describe, expect, it } from 'vitest';
import { recorder } from '@stelar/test-utils';
import { Cluster, tick, until } from './helpers';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.dispose();
  cluster = undefined;
});

describe.each([
  ['classic', false],
  ['sharded', true],
])('broadcast over the memory broker (%s)', (_name, sharded) => {
  it('each member on every node gets each message once, in order', async () => {
    cluster = new Cluster({ broker: { sharded } });
    const nodes = await cluster.start(3);
    const clients = [];
    for (const n of nodes) {
      const c = await n.client();
      await c.join('r');
      clients.push(c);
    }
    for (const n of nodes) await n.adapter.sync();
    const recs = clients.map(recorder);
    for (let i = 0; i < 20; i++) nodes[i % 3]!.hub.to('r').emit('m', i);
    await until(() => recs.every((r) => r.get('m')?.length === 20));
    await tick(20);
    for (const r of recs) expect([...(r.get('m') as number[])].sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(nodes.map((n) => n.adapter.stats.missedFromPeers)).toEqual([0, 0, 0]);
    expect(await nodes[0]!.hub.in('r').count()).toBe(3);
  });
});
