/**
 * Broadcast requests across nodes (`hub.to(room).timeout(ms).request(event, data)`, issue 15
 * item 8) over the memory broker: one answer per recipient on every node, binary values in the
 * data and the replies, a recipient that does not answer, `.local`. And `.compress(false)`
 * carried to the other nodes (envelope flag bit 4).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StelarError } from '@stelar/core';
import type { ClientEngine } from '@stelar/core/client';
import { linkOf } from '@stelar/core/internal';
import { Cluster, until, type Events } from './helpers';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.dispose();
  cluster = undefined;
});

describe.each([
  ['classic', false],
  ['sharded', true],
])('broadcast requests across nodes (%s)', (_name, sharded) => {
  it('gathers one reply per recipient on every node, binary values included; a silent one fails TIMEOUT with the others\' replies', async () => {
    cluster = new Cluster({ broker: { sharded } });
    const nodes = await cluster.start(3);
    const clients: ClientEngine<Events>[] = [];
    for (const [i, n] of nodes.entries()) {
      for (let k = 0; k < 2; k++) {
        const c = await n.client();
        c.on('vote', (d: unknown) => ({ who: `${i}.${k}`, echo: (d as { b: Uint8Array }).b }));
        await c.join('r');
        clients.push(c);
      }
    }
    const replies = (await nodes[0]!.hub.to('r').timeout(1000).request('vote', { b: new Uint8Array([7, 8]) })) as { who: string; echo: Uint8Array }[];
    expect(replies.map((r) => r.who).sort()).toEqual(['0.0', '0.1', '1.0', '1.1', '2.0', '2.1']);
    for (const r of replies) expect([...r.echo]).toEqual([7, 8]);
    // Addressing works as for emit: except a room, local only.
    await clients[2]!.join('vip');
    expect((await nodes[1]!.hub.to('r').except('vip').timeout(1000).request('vote', { b: new Uint8Array(0) })).length).toBe(5);
    expect((await nodes[1]!.hub.local.timeout(1000).request('vote', { b: new Uint8Array(0) })).length).toBe(2);

    // One recipient on node 2 never answers.
    const silent = await nodes[2]!.client();
    silent.on('vote', () => new Promise(() => {}));
    const err = (await nodes[0]!.hub.timeout(200).request('vote', { b: new Uint8Array(1) }).catch((e: unknown) => e)) as StelarError;
    expect(err.code).toBe('TIMEOUT');
    const details = err.details as { replies: unknown[]; failures: { id: string; code: string }[] };
    expect(details.replies).toHaveLength(6);
    expect(details.failures).toEqual([expect.objectContaining({ id: silent.id, code: 'TIMEOUT' })]);
  });
});

describe('compress flag across nodes', () => {
  it('to(room).compress(false) reaches the links on every node as compress=false; a plain emit leaves it to the transport', async () => {
    cluster = new Cluster();
    const nodes = await cluster.start(2);
    const seen: (boolean | undefined)[][] = [[], []];
    for (const [i, n] of nodes.entries()) {
      const c = await n.client();
      await c.join('r');
      const link = linkOf(n.hub.getConnection(c.id!)!);
      const send = link.send.bind(link);
      link.send = (frame, volatile, compress) => {
        seen[i]!.push(compress);
        return send(frame, volatile, compress);
      };
    }
    nodes[0]!.hub.to('r').compress(false).emit('img', 1);
    nodes[0]!.hub.to('r').emit('img', 2);
    await until(() => seen[1]!.length === 2);
    expect(seen).toEqual([
      [false, undefined],
      [false, undefined],
    ]);
  });
});
