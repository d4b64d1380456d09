import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { channelsOf, Cluster, useRedis, spawnNode, tick, until, type NodeProcess } from './helpers';

const redis = useRedis();
let cluster: Cluster;
const raw: Redis[] = [];
const procs: NodeProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill();
  await cluster?.dispose();
  for (const r of raw.splice(0)) r.disconnect();
});

/** Envelope kinds (README, "How it works"), written here by hand as a foreign node would. */
const Kind = { BROADCAST: 1, HELLO: 2, HEARTBEAT: 3, REQUEST: 5, RESPONSE: 6 } as const;

/** A control envelope: version 2, kind, the node id's length and bytes, then a JSON body. */
function control(nodeId: string, kind: number, body: unknown): Buffer {
  const id = Buffer.from(nodeId);
  return Buffer.concat([Buffer.from([2, kind, id.length]), id, Buffer.from(JSON.stringify(body))]);
}

function rawClient(): Redis {
  const r = new Redis(redis.url);
  raw.push(r);
  return r;
}

/**
 * A node that speaks only the protocol's bare minimum, to make other nodes meet situations the
 * real adapter avoids: it subscribes to the request channel and its own response channel, and
 * then, depending on `mode`:
 * - `hung`: says hello and sends heartbeats, never answers (a process whose event loop is stuck
 *   in a handler, but whose Redis connection works);
 * - `shy`: never says hello nor sends heartbeats, but answers `count` with 5 (a node that
 *   started but whose hello has not arrived yet);
 * - `mute`: neither (a node alive on Redis that answers nothing).
 */
class FakeNode {
  private readonly pub = rawClient();
  private readonly sub = rawClient();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly ch: ReturnType<typeof channelsOf>;
  constructor(
    prefix: string,
    readonly id: string,
    private readonly mode: 'hung' | 'shy' | 'mute',
  ) {
    this.ch = channelsOf(prefix);
  }
  async start(every = 100): Promise<void> {
    await this.sub.subscribe(this.ch.req, this.ch.res(this.id));
    this.sub.on('messageBuffer', (_c: Buffer, msg: Buffer) => {
      if (this.mode !== 'shy' || msg[1] !== Kind.REQUEST) return;
      const body = JSON.parse(msg.subarray(3 + msg[2]!).toString()) as { id: number; op: string };
      const from = msg.subarray(3, 3 + msg[2]!).toString();
      if (body.op === 'count') void this.pub.publish(this.ch.res(from), control(this.id, Kind.RESPONSE, { id: body.id, ok: true, value: 5 }));
    });
    if (this.mode !== 'hung') return;
    await this.pub.publish(this.ch.req, control(this.id, Kind.HELLO, { epoch: 1, seq: 0 }));
    this.timer = setInterval(() => void this.pub.publish(this.ch.req, control(this.id, Kind.HEARTBEAT, { epoch: 1, seq: 0 })).catch(() => undefined), every);
  }
  stop(): void {
    clearInterval(this.timer);
    this.sub.disconnect();
  }
}

describe('node membership', () => {
  it('hub.ready() resolves once the nodes Redis reports have said hello; a goodbye removes a node at once', async () => {
    cluster = new Cluster(redis.url);
    // 5 s heartbeats: the nodes can only know each other from the hello / answer exchange.
    const opts = { heartbeatInterval: 5_000, nodeTimeout: 15_000 };
    const a = await cluster.add(opts);
    const b = await cluster.add(opts);
    expect([a.adapter.nodeCount(), b.adapter.nodeCount()]).toEqual([2, 2]);
    const c = await cluster.add(opts);
    expect(c.adapter.nodeIds().sort()).toEqual([a.hub.nodeId, b.hub.nodeId].sort());
    expect(a.adapter.nodeCount()).toBe(3);
    await c.adapter.close();
    await until(() => a.adapter.nodeCount() === 2 && b.adapter.nodeCount() === 2, 2_000);
    expect(a.adapter.stats.nodesTimedOut).toBe(0);
  });

  it('right after ready(), count() and in(room).disconnect() reach the members of every node', async () => {
    cluster = new Cluster(redis.url);
    const b = await cluster.add({ heartbeatInterval: 5_000, nodeTimeout: 15_000 });
    const client = await b.client();
    await client.join('r');
    const a = await cluster.add({ heartbeatInterval: 5_000, nodeTimeout: 15_000 });
    expect(await a.hub.in('r').count()).toBe(1);
    const closed = new Promise<number>((resolve) => client.onLifecycle('disconnected', ({ code }) => resolve(code)));
    await a.hub.in('r').disconnect(4100, 'bye');
    expect(await closed).toBe(4100);
  });

  it('a query waits for every node Redis counts, even one that has not said hello yet', async () => {
    cluster = new Cluster(redis.url);
    const shy = new FakeNode(cluster.prefix, 'shy-node', 'shy');
    await shy.start();
    const t0 = Date.now();
    const a = await cluster.add({ discoveryTimeout: 150 });
    // ready() waited for the shy node's hello for discoveryTimeout, then went on.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(a.adapter.nodeCount()).toBe(1);
    expect(await a.hub.in('r').count()).toBe(5); // its answer was counted although it was unknown
    shy.stop();

    // A node subscribed but silent makes the query fail loudly, not under-count.
    const mute = new FakeNode(cluster.prefix, 'mute-node', 'mute');
    await mute.start();
    const err = await a.hub.in('r').count({ timeout: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NODE_TIMEOUT' });
    expect((err as Error).message).toBe('countConnections timed out after 300 ms: 0 of 1 other node answered (no answer from 1 node not identified yet)');
    mute.stop();
  });

  it('a query to a hung node fails with NODE_TIMEOUT, naming who did not answer', async () => {
    cluster = new Cluster(redis.url);
    const [a, b] = await cluster.start(2, { heartbeatInterval: 100, nodeTimeout: 600 });
    const hung = new FakeNode(cluster.prefix, 'hung-node', 'hung');
    await hung.start();
    await until(() => a!.adapter.nodeCount() === 3);
    await b!.client();

    const err = await a!.hub.fetchConnections({ timeout: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'StelarError', code: 'NODE_TIMEOUT' });
    expect((err as Error).message).toBe('fetchConnections timed out after 300 ms: 1 of 2 other nodes answered (no answer from hung-node)');
    expect((err as { details: unknown }).details).toEqual({ answered: 1, asked: 2, missing: ['hung-node'], unidentified: 0 });
    expect(a!.adapter.stats.requestsTimedOut).toBe(1);
    expect(a!.hub.getStats().errors['NODE_TIMEOUT']).toBe(1);

    // A server-side handler that never answers times out the same way.
    b!.hub.onServerEvent('stuck', () => new Promise(() => undefined));
    hung.stop(); // and the hung node goes: its subscription with it
    await until(() => a!.adapter.nodeCount() === 2, 2_000);
    const err2 = await a!.hub.serverSideEmit('stuck', 1, { ack: true, timeout: 200 }).catch((e: unknown) => e);
    expect(err2).toMatchObject({ code: 'NODE_TIMEOUT' });
    expect((err2 as Error).message).toContain(`serverSideEmit("stuck") timed out after 200 ms: 0 of 1 other node answered (no answer from ${b!.hub.nodeId})`);
  });

  it('messages that are not envelopes are counted and ignored', async () => {
    cluster = new Cluster(redis.url);
    const [a] = await cluster.start(1);
    const r = rawClient();
    const ch = channelsOf(cluster.prefix);
    await r.publish(ch.global, 'hello, not an envelope');
    await r.publish(ch.req, Buffer.from([2, Kind.BROADCAST, 200, 1, 2]));
    await r.publish(ch.req, Buffer.from([1, Kind.HELLO, 1, 65])); // the previous release's envelope
    await until(() => a!.adapter.stats.badMessages === 3);
    expect(a!.hub.getStats().errors['REDIS_BAD_MESSAGE']).toBe(3);
  });

  it('close() clears timers, rejects what waits and closes both Redis connections', async () => {
    cluster = new Cluster(redis.url);
    const [a] = await cluster.start(1, { heartbeatInterval: 50, nodeTimeout: 200 });
    const hung = new FakeNode(cluster.prefix, 'hung-2', 'hung');
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
    await until(asyncEmpty(names), 2_000).catch(() => undefined);
    expect(await names()).toEqual([]);
    expect(a!.adapter.stats.connected).toBe(false);
    expect(a!.adapter.stats.pendingPublishes).toBe(0);
    hung.stop();
    // Nothing of the adapter runs any more: its counters stay still.
    const before = JSON.stringify(a!.adapter.stats);
    await tick(200);
    expect(JSON.stringify(a!.adapter.stats)).toBe(before);
  });
});

describe('nodes in their own processes, killed for real', () => {
  it('kill -9 while a query waits: it stops waiting within about probeInterval; later queries do not wait at all', async () => {
    cluster = new Cluster(redis.url);
    // Default membership timings (5 s heartbeats, 15 s node timeout): only Redis tells of the crash.
    const a = await cluster.add({ heartbeatInterval: 5_000, nodeTimeout: 15_000 });
    const local = await a.client();
    await local.join('r');
    for (let i = 0; i < 2; i++) procs.push(await spawnNode({ url: redis.url, prefix: cluster.prefix, heartbeat: 5_000, nodeTimeout: 15_000 }));
    await until(() => a.adapter.nodeCount() === 3, 3_000);
    expect(await a.hub.in('r').count()).toBe(3);

    // Both other nodes take the event and never answer; then both die.
    const t0 = Date.now();
    const asked = a.hub.serverSideEmit('hang', 1, { ack: true, timeout: 10_000 });
    await tick(100);
    for (const p of procs) await p.kill();
    const replies = await asked;
    const waited = Date.now() - t0;
    expect(replies).toEqual([]);
    expect(waited).toBeLessThan(2_000); // probeInterval 500 ms by default, not nodeTimeout (15 s)
    expect(a.adapter.nodeCount()).toBe(1);
    expect(a.adapter.stats.nodesGone).toBe(2);
    expect(a.adapter.stats.requestsTimedOut).toBe(0);

    // A node killed between queries: the next query does not wait for it, and join / leave /
    // disconnect resolve (they were applied everywhere alive).
    procs.push(await spawnNode({ url: redis.url, prefix: cluster.prefix, heartbeat: 5_000, nodeTimeout: 15_000 }));
    await until(() => a.adapter.nodeCount() === 2, 3_000);
    await procs.at(-1)!.kill();
    const t1 = Date.now();
    await a.hub.in('r').join('s');
    await a.hub.in('s').leave('r');
    expect(await a.hub.in('s').count()).toBe(1);
    await a.hub.in('nobody').disconnect();
    expect(Date.now() - t1).toBeLessThan(2_500); // nodeTimeout is 15 s: a wait for the dead node would show
    expect(a.adapter.nodeCount()).toBe(1);
    expect(a.hub.getStats().errors['NODE_TIMEOUT']).toBeUndefined();
  }, 30_000);

  it('a hung node (SIGSTOP) is waited for until nodeTimeout, then not, although Redis still has it subscribed; it is back after SIGCONT', async () => {
    cluster = new Cluster(redis.url);
    const a = await cluster.add({ heartbeatInterval: 100, nodeTimeout: 600 });
    const p = await spawnNode({ url: redis.url, prefix: cluster.prefix });
    procs.push(p);
    await until(() => a.adapter.nodeCount() === 2, 3_000);
    p.signal('SIGSTOP');
    try {
      const t0 = Date.now();
      expect(await a.hub.in('r').count({ timeout: 5_000 })).toBe(0);
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThan(200);
      expect(waited).toBeLessThan(2_500);
      expect(a.adapter.stats.nodesTimedOut).toBe(1);
      const t1 = Date.now();
      expect(await a.hub.in('r').count({ timeout: 5_000 })).toBe(0);
      expect(Date.now() - t1).toBeLessThan(500);
    } finally {
      p.signal('SIGCONT');
    }
    await until(() => a.adapter.nodeCount() === 2, 3_000);
    expect(await a.hub.in('r').count()).toBe(1);
  }, 30_000);
});

/** `until` takes a synchronous condition: poll an async one into a flag. */
function asyncEmpty(names: () => Promise<string[]>): () => boolean {
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
