import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { encodeControl, headerFor, Kind } from '../src/envelope';
import { Cluster, sharedRedis, tick, until } from './helpers';

let redis: { url: string; stop(): Promise<void> };
let cluster: Cluster;
const raw: Redis[] = [];
beforeAll(async () => {
  redis = await sharedRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await cluster?.dispose();
  for (const r of raw.splice(0)) r.disconnect();
});

function rawClient(): Redis {
  const r = new Redis(redis.url);
  raw.push(r);
  return r;
}

/**
 * A node that speaks only membership: it says hello and sends heartbeats, but never answers a
 * query (a hung process whose Redis connection still works).
 */
class HungNode {
  private readonly r = rawClient();
  private readonly header: ReturnType<typeof headerFor>;
  private timer: ReturnType<typeof setInterval> | undefined;
  constructor(
    private readonly prefix: string,
    readonly id: string,
  ) {
    this.header = headerFor(id);
  }
  async start(every = 100): Promise<void> {
    await this.r.publish(`${this.prefix}#req`, encodeControl(this.header, Kind.HELLO, { seq: 0 }));
    this.timer = setInterval(() => void this.r.publish(`${this.prefix}#req`, encodeControl(this.header, Kind.HEARTBEAT, { seq: 0 })), every);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

describe('node membership', () => {
  it('nodes find each other on start, and a goodbye removes a node at once', async () => {
    cluster = new Cluster(redis.url);
    const [a, b, c] = await cluster.start(3, { heartbeatInterval: 5_000, nodeTimeout: 15_000 });
    // With 5 s heartbeats, they can only know each other from the hello/answer exchange.
    expect(a!.adapter.nodeIds().sort()).toEqual([b!.hub.nodeId, c!.hub.nodeId].sort());
    await c!.adapter.close();
    await until(() => a!.adapter.nodeCount() === 2 && b!.adapter.nodeCount() === 2, 2_000); // nodeTimeout would be 15 s
    expect(a!.adapter.stats.nodesTimedOut).toBe(0);
  });

  it('a node that dies without a goodbye is dropped after nodeTimeout; a query in flight stops waiting for it', async () => {
    cluster = new Cluster(redis.url);
    const [a, , c] = await cluster.start(3, { heartbeatInterval: 100, nodeTimeout: 600, requestTimeout: 5_000 });
    const client = await a!.client();
    await client.join('r');
    await c!.adapter.close({ goodbye: false }); // as a crash: no goodbye, no more heartbeats
    const t0 = Date.now();
    const infos = await a!.hub.in('r').fetchConnections(); // waits for node c until it is dropped
    const waited = Date.now() - t0;
    expect(infos.map((i) => i.id)).toEqual([client.id]);
    expect(waited).toBeGreaterThan(300);
    expect(waited).toBeLessThan(4_000); // ~nodeTimeout (600 ms), well before requestTimeout (5 s)
    expect(a!.adapter.nodeCount()).toBe(2);
    expect(a!.adapter.stats.nodesTimedOut).toBe(1);
    // From now on queries do not wait for it at all.
    const t1 = Date.now();
    expect(await a!.hub.fetchConnections()).toHaveLength(1);
    expect(Date.now() - t1).toBeLessThan(2_000); // waiting for c would take requestTimeout (5 s)
  });

  it('a query to a hung node fails with NODE_TIMEOUT, naming who did not answer', async () => {
    cluster = new Cluster(redis.url);
    const [a, b] = await cluster.start(2, { heartbeatInterval: 100, nodeTimeout: 600 });
    const hung = new HungNode(cluster.prefix, 'hung-node');
    await hung.start();
    await until(() => a!.adapter.nodeCount() === 3);
    await b!.client();

    const err = await a!.hub.fetchConnections({ timeout: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'StelarError', code: 'NODE_TIMEOUT' });
    expect((err as Error).message).toBe('fetchConnections timed out after 300 ms: 1 of 2 other nodes answered (no answer from hung-node)');
    expect((err as { details: unknown }).details).toEqual({ answered: 1, asked: 2, missing: ['hung-node'] });
    expect(a!.adapter.stats.requestsTimedOut).toBe(1);
    expect(a!.hub.getStats().errors['NODE_TIMEOUT']).toBe(1);

    // A server-side handler that never answers times out the same way.
    b!.hub.onServerEvent('stuck', () => new Promise(() => undefined));
    hung.stop(); // and the hung node goes silent: dropped after nodeTimeout
    await until(() => a!.adapter.nodeCount() === 2, 2_000);
    const err2 = await a!.hub.serverSideEmit('stuck', 1, { ack: true, timeout: 200 }).catch((e: unknown) => e);
    expect(err2).toMatchObject({ code: 'NODE_TIMEOUT' });
    expect((err2 as Error).message).toContain(`serverSideEmit("stuck") timed out after 200 ms: 0 of 1 other node answered (no answer from ${b!.hub.nodeId})`);
  });

  it('messages that are not envelopes are counted and ignored', async () => {
    cluster = new Cluster(redis.url);
    const [a] = await cluster.start(1);
    const r = rawClient();
    await r.publish(`${cluster.prefix}#bc`, 'hello, not an envelope');
    await r.publish(`${cluster.prefix}#req`, Buffer.from([1, Kind.BROADCAST, 200, 1, 2]));
    await until(() => a!.adapter.stats.badMessages === 2);
    expect(a!.hub.getStats().errors['REDIS_BAD_MESSAGE']).toBe(2);
  });

  it('close() clears timers, rejects what waits and closes both Redis connections', async () => {
    cluster = new Cluster(redis.url);
    const [a] = await cluster.start(1, { heartbeatInterval: 50, nodeTimeout: 200 });
    const hung = new HungNode(cluster.prefix, 'hung-2');
    await hung.start(50);
    await until(() => a!.adapter.nodeCount() === 2);
    const r = rawClient();
    const names = async (): Promise<string[]> =>
      String(await r.client('LIST'))
        .split('\n')
        .map((l) => /name=(\S*)/.exec(l)?.[1] ?? '')
        .filter((n) => n.endsWith(a!.hub.nodeId));
    expect((await names()).sort()).toEqual([`stelar-pub-${a!.hub.nodeId}`, `stelar-sub-${a!.hub.nodeId}`]);

    const pending = a!.hub.fetchConnections({ timeout: 10_000 }).catch((e: unknown) => e);
    await tick(20);
    await a!.adapter.close();
    expect(await pending).toMatchObject({ code: 'ADAPTER_CLOSED' });
    await until(async_names_empty(names), 2_000).catch(() => undefined);
    expect(await names()).toEqual([]);
    expect(a!.adapter.stats.connected).toBe(false);
    hung.stop();
    // Nothing of the adapter runs any more: its counters stay still.
    const before = JSON.stringify(a!.adapter.stats);
    await tick(200);
    expect(JSON.stringify(a!.adapter.stats)).toBe(before);
  });
});

/** `until` takes a synchronous condition: poll an async one into a flag. */
function async_names_empty(names: () => Promise<string[]>): () => boolean {
  let empty = false;
  let busy = false;
  return () => {
    if (!busy) {
      busy = true;
      void names().then((n) => {
        empty = n.length === 0;
        busy = false;
      });
    }
    return empty;
  };
}
