/**
 * Broadcast requests over real Redis (`hub.to(room).timeout(ms).request(event, data)`, issue 15
 * item 8): one reply per recipient on every node, binary values in the data and the replies,
 * and a silent recipient failing the request with TIMEOUT and the replies that came.
 */
import { describe, expect, it } from 'vitest';
import type { StelarError } from '@stelar/core';
import { Cluster, useRedis } from './helpers';

const redis = useRedis();
let cluster: Cluster;

describe.each([
  ['classic', false],
  ['sharded', true],
])('broadcast requests over Redis (%s)', (_name, sharded) => {
  it('one reply per recipient on three nodes; TIMEOUT names the silent one', async () => {
    cluster = redis.cluster();
    const nodes = await cluster.start(3, { sharded });
    for (const [i, n] of nodes.entries()) {
      const c = await n.client();
      c.on('vote', (d: unknown) => ({ node: i, back: (d as { b: Uint8Array }).b }));
      await c.join('r');
    }
    for (const n of nodes) await n.adapter.sync();
    const replies = (await nodes[1]!.hub.to('r').timeout(2000).request('vote', { b: new Uint8Array([1, 2, 3]) })) as { node: number; back: Uint8Array }[];
    expect(replies.map((r) => r.node).sort()).toEqual([0, 1, 2]);
    for (const r of replies) expect([...r.back]).toEqual([1, 2, 3]);

    const silent = await nodes[2]!.client();
    silent.on('vote', () => new Promise(() => {}));
    await silent.join('r');
    await nodes[2]!.adapter.sync();
    const err = (await nodes[0]!.hub.to('r').timeout(300).request('vote', { b: new Uint8Array(0) }).catch((e: unknown) => e)) as StelarError;
    expect(err.code).toBe('TIMEOUT');
    const details = err.details as { replies: unknown[]; failures: { id: string; code: string }[] };
    expect(details.replies).toHaveLength(3);
    expect(details.failures).toEqual([expect.objectContaining({ id: silent.id, code: 'TIMEOUT' })]);
  });
});
