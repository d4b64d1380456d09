/**
 * Sequencing and loss accounting: the Sequencer alone, then nodes on the in-memory broker that
 * lose messages on the way in, lose their connection while publishing, or receive a copy twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeJson } from '@stelar/codec-tcp';
import type { ClientEngine } from '@stelar/core/client';
import { MemoryBroker } from '../src/index';
import { channelsOf } from '../src/channels';
import { encodeBroadcast, Flag, headerFor, type BroadcastEnvelope } from '../src/envelope';
import { Sequencer } from '../src/sequencing';
import { recorder } from '@stelar/test-utils';
import { Cluster, tick, until, type Events } from './helpers';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.dispose();
  cluster = undefined;
});

function env(origin: string, epoch: number, seq: number, room?: string): BroadcastEnvelope {
  const flags = Flag.SEQUENCED | (room === undefined ? 0 : Flag.ROOM_STREAM);
  return { origin, flags, epoch, seq, rooms: room === undefined ? [] : [room], exceptRooms: [], exceptIds: [], frame: new Uint8Array(7) };
}

describe('Sequencer', () => {
  const follows = (): boolean => true;

  it('counts every number never seen, once, from gaps, heartbeats and marks; drops copies', () => {
    const gaps: [number, string][] = [];
    const s = new Sequencer((n, origin) => gaps.push([n, origin]));
    expect(s.accept(env('a', 7, 1), follows)).toBe(true); // first news: the baseline
    expect(s.accept(env('a', 7, 2), follows)).toBe(true);
    expect(s.accept(env('a', 7, 5), follows)).toBe(true); // 3 and 4 never came
    expect(s.accept(env('a', 7, 5), follows)).toBe(false); // a copy
    expect(s.accept(env('a', 7, 4), follows)).toBe(false); // older: not delivered (again or late)
    s.peerMark('a', { epoch: 7, seq: 8 }); // a heartbeat: 6, 7 and 8 were sent
    expect(s.accept(env('a', 7, 9), follows)).toBe(true);
    s.peerMark('a', { epoch: 7, seq: 9 }); // nothing new
    expect(s.accept(env('a', 8, 100), follows)).toBe(true); // a new epoch (a restart): a new baseline
    // Room streams are their own; marks carry their last number.
    expect(s.accept(env('a', 3, 1, 'r'), follows)).toBe(true);
    s.roomMark('a', 'r', { epoch: 3, seq: 4 });
    expect(s.accept(env('b', 1, 10), follows)).toBe(true);
    expect(s.accept(env('b', 1, 12), follows)).toBe(true);
    expect(gaps).toEqual([
      [2, 'a'],
      [3, 'a'],
      [3, 'a'],
      [1, 'b'],
    ]);
    expect([s.missed, s.duplicates]).toEqual([9, 2]);
  });

  it('numbers wrap around 2^32 without a false gap', () => {
    const s = new Sequencer(() => expect.fail('no gap'));
    expect(s.accept(env('a', 1, 0xfffffffe), follows)).toBe(true);
    expect(s.accept(env('a', 1, 0xffffffff), follows)).toBe(true);
    expect(s.accept(env('a', 1, 0), follows)).toBe(true);
    expect(s.accept(env('a', 1, 1), follows)).toBe(true);
    expect(s.accept(env('a', 1, 0xffffffff), follows)).toBe(false);
  });

  it('the sender numbers each stream; a room stream never heard of is forgotten; marks for failed rooms', () => {
    const s = new Sequencer(() => undefined);
    const g = s.next();
    expect(s.next().seq).toBe(g.seq + 1);
    const r1 = s.next('r');
    s.delivered('r', 0); // nobody subscribed: a connection id, say
    const r2 = s.next('r');
    expect(r2.seq).toBe(1); // forgotten: numbering restarted
    expect(r2.epoch).not.toBe(r1.epoch);
    s.delivered('r', 2);
    s.next('r');
    s.delivered('r', 0); // heard once: kept
    expect(s.next('r').seq).toBe(3);
    s.failed('r');
    expect(s.marks()).toEqual([{ room: 'r', epoch: r2.epoch, seq: 3 }]);
    expect(s.takeDirty()).toBe(true);
    s.sweep(1e12, 1, () => false);
    expect(s.marks()).toEqual([]);
  });
});

async function roomOfThree(sharded: boolean, options: ConstructorParameters<typeof Cluster>[0] = {}): Promise<{ recs: Map<string, unknown[]>[]; clients: ClientEngine<Events>[] }> {
  cluster = new Cluster({ ...options, broker: { sharded, ...options.broker } });
  const nodes = await cluster.start(3);
  const clients: ClientEngine<Events>[] = [];
  for (const n of nodes) {
    const c = await n.client();
    await c.join('r');
    clients.push(c);
  }
  for (const n of nodes) await n.adapter.sync();
  return { recs: clients.map(recorder), clients };
}

const count = (rec: Map<string, unknown[]>, e = 'm'): number => rec.get(e)?.length ?? 0;

describe.each([
  ['classic', false],
  ['sharded', true],
])('loss accounting between nodes (%s)', (_name, sharded) => {
  it('messages lost on the way to a node are counted there, exactly, once the next one arrives; and reported', async () => {
    const reported: number[] = [];
    const { recs } = await roomOfThree(sharded, {
      heartbeatInterval: 5_000, // (no heartbeat in between: one gap, one report)
      nodeTimeout: 15_000,
      onError: (e) => void reported.push((e as { details?: { count?: number } }).details?.count ?? -1),
    });
    const [a, b, c] = cluster!.nodes;
    // (A receiver counts from its first message of a stream on: a baseline first.)
    a!.hub.to('r').emit('m', 0);
    await until(() => count(recs[1]!) === 1);
    const ch = channelsOf('stelar', sharded, '');
    b!.broker.dropIncoming(3, sharded ? ch.room('r') : ch.global); // (not heartbeats)
    for (let i = 1; i <= 5; i++) {
      a!.hub.to('r').emit('m', i);
      await tick(1); // one message per turn (the broadcasts of one turn travel as one batch)
    }
    await until(() => count(recs[2]!) === 6 && count(recs[1]!) === 3);
    await tick(20);
    expect(recs[1]!.get('m')).toEqual([0, 4, 5]);
    expect(b!.adapter.stats.missedFromPeers).toBe(3);
    expect(b!.hub.getStats().errors['BROKER_MISSED']).toBe(1); // one gap
    expect(reported).toEqual([3]); // (the nodes share one onError: b's report, with the number)
    expect([a!.adapter.stats.missedFromPeers, c!.adapter.stats.missedFromPeers]).toEqual([0, 0]);
  });

  it('a sender whose broker connection is lost: what it could not send is counted by it, and by every receiver, once it is back', async () => {
    const { recs } = await roomOfThree(sharded, { heartbeatInterval: 50, nodeTimeout: 5_000, broker: { publishTimeout: 100 } });
    const [a, b, c] = cluster!.nodes;
    a!.hub.to('r').emit('m', 0);
    await until(() => count(recs[1]!) === 1 && count(recs[2]!) === 1);
    a!.broker.disconnect();
    for (let i = 1; i <= 4; i++) a!.hub.to('r').emit('m', i);
    expect(count(recs[0]!)).toBe(1); // (local delivery is a tick later)
    await until(() => a!.adapter.stats.droppedWhileDown === 4, 1_000);
    expect(a!.hub.getStats().errors['BROKER_DOWN']).toBe(4);
    a!.broker.reconnect();
    await until(() => b!.adapter.stats.missedFromPeers === 4 && c!.adapter.stats.missedFromPeers === 4, 1_000);
    a!.hub.to('r').emit('m', 5);
    await until(() => count(recs[1]!) === 2 && count(recs[2]!) === 2);
    expect(recs.map((r) => r.get('m'))).toEqual([[0, 1, 2, 3, 4, 5], [0, 5], [0, 5]]);
    expect(b!.adapter.stats.missedFromPeers).toBe(4); // not counted twice
    expect(a!.adapter.stats.reconnects).toBe(2); // publisher and subscriber sides
    expect(a!.adapter.stats.disconnects).toBe(2);
  });
});

describe('duplicates', () => {
  it('a copy of a broadcast (a resend by the broker client) is not delivered twice', async () => {
    cluster = new Cluster();
    const [a] = await cluster.start(1);
    const c = await a!.client();
    const rec = recorder(c);
    const raw = new MemoryBroker(cluster.bus);
    raw.open('x', { message: () => undefined, up: () => undefined, down: () => undefined, error: () => undefined });
    await until(() => raw.connected);
    const msg = encodeBroadcast(headerFor('x'), Flag.SEQUENCED, 9, 1, { rooms: [], exceptRooms: [], exceptIds: [] }, encodeJson('m', 'once'));
    for (let i = 0; i < 2; i++) raw.publish({ channel: channelsOf('stelar', false, 'x').global, msg, done: () => undefined });
    await until(() => a!.adapter.stats.duplicatesDropped === 1);
    await tick(10);
    expect(rec.get('m')).toEqual(['once']);
    expect(a!.adapter.stats.received).toBe(1);
    await raw.close();
  });
});
