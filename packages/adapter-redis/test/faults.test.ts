/**
 * Redis faults under load: the real redis-server of the test is killed (SIGKILL), shut down
 * (SIGTERM), frozen (SIGSTOP, then SIGCONT) and killed again, while two nodes keep publishing
 * numbered messages to a room every node has a member in. Checked after each fault:
 * - no publish hangs: every one is settled (pending goes back to 0) and nothing is stuck;
 * - delivery resumes within 2 s of Redis being back;
 * - each node's count of what it missed (`missedFromPeers`) equals what its client did not get;
 * - what a sender counted as surely lost, every receiver indeed did not get;
 * - the local member of each sender got everything; nothing is delivered twice;
 * - the pending buffer stays within its bound, and losses reach onError and /metrics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientEngine } from '@stelar/core/client';
import { Cluster, RedisServer, tick, until, type Events, type Node } from './helpers';

let server: RedisServer | undefined;
let cluster: Cluster | undefined;
afterEach(async () => {
  server?.resume();
  await cluster?.dispose();
  await server?.stop();
  cluster = server = undefined;
});

const MAX_PENDING = 400;
const PUBLISH_TIMEOUT = 500;
const PER_TICK = 8; // messages per publisher every 5 ms: ~1 600/s each, ~3 200/s in all

interface Got {
  /** origin → index → receive time */
  byOrigin: Map<string, Map<number, number>>;
  dups: number;
}

function record(c: ClientEngine<Events>): Got {
  const got: Got = { byOrigin: new Map(), dups: 0 };
  c.on('m', (d: { o: string; i: number }) => {
    let m = got.byOrigin.get(d.o);
    if (!m) got.byOrigin.set(d.o, (m = new Map()));
    if (m.has(d.i)) got.dups++;
    else m.set(d.i, Date.now());
  });
  return got;
}

describe.each([
  ['classic', false],
  ['sharded', true],
])('Redis faults under load (%s pub/sub)', (_name, sharded) => {
  it('SIGKILL, SIGTERM, SIGSTOP/SIGCONT + SIGKILL: nothing hangs, delivery resumes within 2 s, losses counted exactly', async () => {
    server = await RedisServer.start();
    const errors = new Map<string, Map<string, number>>(); // node → code → messages reported
    cluster = new Cluster(server.url);
    const nodes: Node[] = [];
    for (let i = 0; i < 3; i++) {
      const reported = new Map<string, number>();
      const n = await cluster.add({
        sharded,
        heartbeatInterval: 100,
        nodeTimeout: 600,
        publishTimeout: PUBLISH_TIMEOUT,
        maxPendingPublishes: MAX_PENDING,
        onError: (err) => {
          const e = err as { code?: string; details?: { count?: number } };
          if (e.code && typeof e.details?.count === 'number') reported.set(e.code, (reported.get(e.code) ?? 0) + e.details.count);
        },
      });
      errors.set(n.hub.nodeId, reported);
      nodes.push(n);
    }
    await cluster.converged();
    const clients = [];
    for (const n of nodes) {
      const c = await n.client();
      await c.join('r');
      clients.push(c);
    }
    for (const n of nodes) await n.adapter.sync();
    const got = clients.map(record);

    // Two publishers, A and B, at a steady pace; C only receives.
    const publishers = [nodes[0]!, nodes[1]!];
    const sentAt = publishers.map(() => [] as number[]);
    let maxPending = 0;
    const load = setInterval(() => {
      publishers.forEach((n, p) => {
        for (let k = 0; k < PER_TICK; k++) {
          const i = sentAt[p]!.length;
          sentAt[p]!.push(Date.now());
          n.hub.to('r').emit('m', { o: n.hub.nodeId, i });
        }
        maxPending = Math.max(maxPending, n.adapter.stats.pendingPublishes);
      });
    }, 5);

    const backAt: number[] = [];
    const restart = async (): Promise<void> => {
      await tick(400);
      await server!.start();
      backAt.push(Date.now());
      await tick(2_600);
    };
    try {
      await tick(500);
      await server.kill('SIGKILL');
      await restart();
      await server.kill('SIGTERM');
      await restart();
      server.pause();
      await tick(1_000); // longer than publishTimeout: what is in flight stalls
      server.resume();
      await tick(500);
      await server.kill('SIGKILL');
      await restart();
    } finally {
      clearInterval(load);
    }
    // Everything settles; every node hears the others' last numbers (heartbeats).
    await until(() => nodes.every((n) => n.adapter.stats.pendingPublishes === 0), 3_000);
    await tick(400);

    const ids = publishers.map((n) => n.hub.nodeId);
    const lines: string[] = [];
    for (const [x, n] of nodes.entries()) {
      const mine = got[x]!;
      expect(mine.dups, `duplicates at node ${x}`).toBe(0);
      let observed = 0;
      ids.forEach((origin, p) => {
        const sent = sentAt[p]!.length;
        const received = mine.byOrigin.get(origin)?.size ?? 0;
        if (n.hub.nodeId === origin) {
          expect(received, 'a sender delivers everything to its own members').toBe(sent);
          return;
        }
        observed += sent - received;
        // What the sender counted as surely lost did not arrive here.
        const s = publishers[p]!.adapter.stats;
        expect(s.droppedWhileDown + s.droppedBufferFull + s.publishFailures).toBeLessThanOrEqual(sent - received);
        // Delivery resumed within 2 s of each restart, and nothing sent 2 s after it was lost.
        for (const [k, t] of backAt.entries()) {
          const until = k + 1 < backAt.length ? backAt[k + 1]! - 3_000 : Infinity;
          const received = mine.byOrigin.get(origin)!;
          const after = sentAt[p]!.map((at, i) => ({ at, i })).filter(({ at }) => at >= t);
          const first = Math.min(...after.map(({ i }) => received.get(i) ?? Infinity));
          expect(first - t, `first delivery after restart ${k + 1}`).toBeLessThan(2_000);
          const late = after.filter(({ at, i }) => at >= t + 2_000 && at < until && !received.has(i));
          expect(late.length, `messages sent 2 s after restart ${k + 1} and lost`).toBe(0);
          lines.push(`restart ${k + 1}: node ${x} got ${origin.slice(0, 4)}'s first message ${first - t} ms after Redis was back`);
        }
      });
      const stats = n.adapter.stats;
      lines.push(`node ${x}: missed ${observed}, counted ${stats.missedFromPeers}; sent: ${JSON.stringify({ down: stats.droppedWhileDown, full: stats.droppedBufferFull, unconfirmed: stats.publishUnconfirmed, refused: stats.publishFailures, stalls: stats.publishStalls })}`);
      expect(stats.missedFromPeers, `node ${x}: counted == observed losses`).toBe(observed);
      expect(n.hub.getStats().adapter['missedFromPeers']).toBe(observed);
      expect(n.hub.metricsText()).toContain(`counter="missedFromPeers"} ${observed}`);
      // Every loss also went to onError, with its number.
      const rep = errors.get(n.hub.nodeId)!;
      expect(rep.get('REDIS_MISSED') ?? 0).toBe(stats.missedFromPeers);
      expect(rep.get('REDIS_DOWN') ?? 0).toBe(stats.droppedWhileDown);
      expect(rep.get('REDIS_BUFFER_FULL') ?? 0).toBe(stats.droppedBufferFull);
      expect(rep.get('REDIS_UNCONFIRMED') ?? 0).toBe(stats.publishUnconfirmed);
    }
    console.log(`faults (${sharded ? 'sharded' : 'classic'}), ${sentAt[0]!.length + sentAt[1]!.length} messages:\n  ${lines.join('\n  ')}`);
    // The faults did cost something, and the SIGSTOP was noticed as a stall.
    expect(publishers.every((n) => n.adapter.stats.publishStalls + n.adapter.stats.publishUnconfirmed > 0)).toBe(true);
    expect(maxPending).toBeLessThanOrEqual(MAX_PENDING);
    // Nothing is stuck: queries and server events work across all three.
    expect(await nodes[2]!.hub.in('r').count()).toBe(3);
    nodes[1]!.hub.onServerEvent('ping', () => 'pong');
    nodes[2]!.hub.onServerEvent('ping', () => 'pong');
    expect(await nodes[0]!.hub.serverSideEmit('ping', null, { ack: true })).toEqual(['pong', 'pong']);
  }, 60_000);
});
