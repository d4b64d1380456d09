/**
 * Membership over the in-memory broker: discovery at `ready()`, goodbyes, nodes that die without
 * one (the broker's subscriber count tells), nodes that hang (subscribed, silent), nodes not
 * identified yet, and what a closed adapter leaves behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker, type BrokerEvents, type MemoryBus } from '../src/index';
import { channelsOf } from '../src/channels';
import { encodeControl, headerFor, Kind } from '../src/envelope';
import { Cluster, tick, until } from './helpers';

let cluster: Cluster | undefined;
const fakes: FakeNode[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.stop();
  await cluster?.dispose();
  cluster = undefined;
});

const quiet: BrokerEvents = { message: () => undefined, up: () => undefined, down: () => undefined, error: () => undefined };

/**
 * A node that speaks only the protocol's bare minimum, on its own broker: it subscribes to the
 * request channel and its response channel, then `hung` says hello and sends heartbeats but never
 * answers; `shy` never says hello but answers `count` with 5; `mute` does neither.
 */
class FakeNode {
  readonly broker: MemoryBroker;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly header: Uint8Array;
  private readonly ch: ReturnType<typeof channelsOf>;

  constructor(
    bus: MemoryBus,
    readonly id: string,
    private readonly mode: 'hung' | 'shy' | 'mute',
  ) {
    this.broker = new MemoryBroker(bus);
    this.header = headerFor(id);
    this.ch = channelsOf('stelar', false, id);
    fakes.push(this);
  }

  private send(channel: string, kind: Parameters<typeof encodeControl>[1], body: unknown): void {
    this.broker.publish({ channel, msg: encodeControl(this.header, kind, body), done: () => undefined });
  }

  async start(every = 50): Promise<void> {
    this.broker.open(this.id, {
      ...quiet,
      message: (msg) => {
        if (this.mode !== 'shy' || msg[1] !== Kind.REQUEST) return;
        const from = new TextDecoder().decode(msg.subarray(3, 3 + msg[2]!));
        const body = JSON.parse(new TextDecoder().decode(msg.subarray(3 + msg[2]!))) as { id: number; op: string };
        if (body.op === 'count') this.send(this.ch.resOf(from), Kind.RESPONSE, { id: body.id, ok: true, value: 5 });
      },
    });
    await until(() => this.broker.connected);
    await this.broker.subscribe([this.ch.req, this.ch.res]);
    if (this.mode !== 'hung') return;
    this.send(this.ch.req, Kind.HELLO, { epoch: 1, seq: 0 });
    this.timer = setInterval(() => this.send(this.ch.req, Kind.HEARTBEAT, { epoch: 1, seq: 0 }), every);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.broker.close();
  }
}

describe('membership', () => {
  it('ready() resolves once every node the broker reports has said hello; a goodbye removes a node at once', async () => {
    // Heartbeats far apart: the nodes can only know each other from the hello / answer exchange.
    cluster = new Cluster({ heartbeatInterval: 5_000, nodeTimeout: 15_000 });
    const a = await cluster.add();
    const b = await cluster.add();
    expect([a.adapter.nodeCount(), b.adapter.nodeCount()]).toEqual([2, 2]);
    const c = await cluster.add();
    expect(c.adapter.nodeIds().sort()).toEqual([a.hub.nodeId, b.hub.nodeId].sort());
    expect(a.adapter.nodeCount()).toBe(3);
    await c.adapter.close();
    await until(() => a.adapter.nodeCount() === 2 && b.adapter.nodeCount() === 2, 500);
    expect(a.adapter.stats.nodesTimedOut + a.adapter.stats.nodesGone).toBe(0);
  });

  it('right after ready(), count() and in(room).disconnect() reach the members of every node', async () => {
    cluster = new Cluster({ heartbeatInterval: 5_000, nodeTimeout: 15_000 });
    const b = await cluster.add();
    const client = await b.client();
    await client.join('r');
    const a = await cluster.add();
    expect(await a.hub.in('r').count()).toBe(1);
    const closed = new Promise<number>((resolve) => client.onLifecycle('disconnected', ({ code }) => resolve(code)));
    await a.hub.in('r').disconnect(4100, 'bye');
    expect(await closed).toBe(4100);
  });

  it('a query waits for every node the broker counts, even one not identified yet; a silent one makes it fail loudly', async () => {
    cluster = new Cluster();
    const shy = new FakeNode(cluster.bus, 'shy-node', 'shy');
    await shy.start();
    const t0 = Date.now();
    const a = await cluster.add({ discoveryTimeout: 150 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140); // ready() waited for the shy node's hello
    expect(a.adapter.nodeCount()).toBe(1);
    expect(await a.hub.in('r').count()).toBe(5); // its answer counted although it is unknown
    await shy.stop();

    const mute = new FakeNode(cluster.bus, 'mute-node', 'mute');
    await mute.start();
    const err = await a.hub.in('r').count({ timeout: 150 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NODE_TIMEOUT' });
    expect((err as Error).message).toBe('countConnections timed out after 150 ms: 0 of 1 other node answered (no answer from 1 node not identified yet)');
  });

  it('a query to a hung node fails with NODE_TIMEOUT naming it, and is counted', async () => {
    cluster = new Cluster({ nodeTimeout: 5_000 });
    const [a, b] = await cluster.start(2);
    const hung = new FakeNode(cluster.bus, 'hung-node', 'hung');
    await hung.start();
    await until(() => a!.adapter.nodeCount() === 3);
    await b!.client();
    const err = await a!.hub.fetchConnections({ timeout: 150 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('fetchConnections timed out after 150 ms: 1 of 2 other nodes answered (no answer from hung-node)');
    expect((err as { details: unknown }).details).toEqual({ answered: 1, asked: 2, missing: ['hung-node'], unidentified: 0 });
    expect(a!.adapter.stats.requestsTimedOut).toBe(1);
    expect(a!.hub.getStats().errors['NODE_TIMEOUT']).toBe(1);
  });

  it.each([
    ['exact receiver counts', true],
    ['per-shard receiver counts (Redis Cluster classic)', false],
  ])('a node that dies without goodbye stops delaying a query within probeInterval, and is dropped (%s)', async (_name, exactReceivers) => {
    cluster = new Cluster({ heartbeatInterval: 5_000, nodeTimeout: 15_000, probeInterval: 50, broker: { exactReceivers } });
    const [a, b, c] = await cluster.start(3);
    for (const n of [b!, c!]) n.hub.onServerEvent('hang', () => new Promise(() => undefined));
    const t0 = Date.now();
    const asked = a!.hub.serverSideEmit('hang', 1, { ack: true, timeout: 5_000 });
    await tick(30);
    await b!.adapter.close({ goodbye: false });
    await c!.adapter.close({ goodbye: false });
    expect(await asked).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1_000); // not requestTimeout (5 s), not nodeTimeout (15 s)
    expect(a!.adapter.nodeCount()).toBe(1);
    expect(a!.adapter.stats.nodesGone).toBe(2);
    expect(a!.adapter.stats.requestsTimedOut).toBe(0);
    // The next query does not wait at all.
    const t1 = Date.now();
    expect(await a!.hub.in('r').count()).toBe(0);
    expect(Date.now() - t1).toBeLessThan(400); // (a wait would last requestTimeout, 1 s)
  });

  it('a node gone between queries is found by the next heartbeat (fewer receivers than nodes known)', async () => {
    cluster = new Cluster({ heartbeatInterval: 50, nodeTimeout: 5_000 });
    const [a, b] = await cluster.start(2);
    await b!.adapter.close({ goodbye: false });
    await until(() => a!.adapter.nodeCount() === 1, 500);
    expect(a!.adapter.stats.nodesGone).toBe(1);
    expect(a!.adapter.stats.nodesTimedOut).toBe(0);
  });

  it('a frozen node (subscribed, silent) is waited for until nodeTimeout, then not; it is back once it runs again', async () => {
    cluster = new Cluster({ heartbeatInterval: 50, nodeTimeout: 300 });
    const [a, b] = await cluster.start(2);
    await b!.client().then((c) => c.join('r'));
    b!.broker.freeze();
    const t0 = Date.now();
    expect(await a!.hub.in('r').count({ timeout: 5_000 })).toBe(0);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThan(150);
    expect(waited).toBeLessThan(1_500);
    expect(a!.adapter.stats.nodesTimedOut).toBe(1);
    const t1 = Date.now();
    expect(await a!.hub.in('r').count({ timeout: 5_000 })).toBe(0); // remembered as silent: not waited for
    expect(Date.now() - t1).toBeLessThan(400); // (a wait for it would last the 5 s timeout)
    b!.broker.thaw();
    await until(() => a!.adapter.nodeCount() === 2, 1_000);
    expect(await a!.hub.in('r').count()).toBe(1);
  });

  it('messages that are not envelopes are counted and ignored', async () => {
    cluster = new Cluster();
    const [a] = await cluster.start(1);
    const raw = new FakeNode(cluster.bus, 'raw', 'mute');
    await raw.start();
    const ch = channelsOf('stelar', false, 'raw');
    const send = (channel: string, bytes: number[] | Uint8Array): void =>
      raw.broker.publish({ channel, msg: bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes), done: () => undefined });
    send(ch.global, new TextEncoder().encode('hello, not an envelope'));
    send(ch.req, [2, Kind.BROADCAST, 200, 1, 2]);
    send(ch.req, [1, Kind.HELLO, 1, 65]); // the previous release's envelope
    await until(() => a!.adapter.stats.badMessages === 3);
    expect(a!.hub.getStats().errors['BROKER_BAD_MESSAGE']).toBe(3);
  });

  it('the broker not there at start: ready() rejects after startTimeout; the node joins once it comes', async () => {
    cluster = new Cluster();
    const a = cluster.make({ startTimeout: 100, broker: { connect: false, publishTimeout: 100 } });
    await expect(a.hub.ready()).rejects.toMatchObject({ code: 'BROKER_DOWN', message: 'memory broker not reachable in 100 ms (memory); still trying in the background' });
    const c = await a.client();
    await c.join('r');
    a.hub.to('r').emit('m', 1); // delivered here; what would cross nodes is counted as lost
    await until(() => a.adapter.stats.droppedWhileDown === 1);
    expect(a.hub.getStats().errors['BROKER_DOWN']).toBe(1);
    const b = await cluster.add();
    a.broker.reconnect();
    await until(() => a.adapter.nodeCount() === 2 && b.adapter.nodeCount() === 2, 1_000);
    expect(await b.hub.in('r').count()).toBe(1);
  });

  it('close() rejects what waits with ADAPTER_CLOSED, says goodbye, and nothing of it runs any more', async () => {
    cluster = new Cluster({ heartbeatInterval: 20, nodeTimeout: 100 });
    const [a, b] = await cluster.start(2);
    b!.hub.onServerEvent('hang', () => new Promise(() => undefined));
    const pending = a!.hub.serverSideEmit('hang', 1, { ack: true, timeout: 10_000 }).catch((e: unknown) => e);
    await tick(10);
    await a!.adapter.close();
    expect(await pending).toMatchObject({ code: 'ADAPTER_CLOSED' });
    await until(() => b!.adapter.nodeCount() === 1, 200); // the goodbye
    expect(b!.adapter.stats.nodesTimedOut + b!.adapter.stats.nodesGone).toBe(0);
    expect(a!.adapter.stats.connected).toBe(false);
    const before = JSON.stringify(a!.adapter.stats);
    await tick(100);
    expect(JSON.stringify(a!.adapter.stats)).toBe(before);
    await expect(a!.hub.in('r').count()).rejects.toMatchObject({ code: 'ADAPTER_CLOSED' });
  });
});
