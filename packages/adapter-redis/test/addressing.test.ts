import { describe, expect, it } from 'vitest';
import { SendStatus, type ClientEngine, type Link, type LinkHandler } from '@stelar/core/client';
import { RemoteConnectionHandle } from '@stelar/cluster';
import { recorder } from '@stelar/test-utils';
import { Cluster, useRedis, tick, until, type Events, type Node } from './helpers';

const redis = useRedis();
let cluster: Cluster;

async function threeNodes(sharded: boolean): Promise<{ nodes: Node[]; clients: ClientEngine<Events>[] }> {
  cluster = redis.cluster();
  const nodes = await cluster.start(3, { sharded });
  const clients: ClientEngine<Events>[] = [];
  for (const n of nodes) clients.push(await n.client());
  return { nodes, clients };
}

const count = (rec: Map<string, unknown[]>, e: string): number => rec.get(e)?.length ?? 0;

describe.each([
  ['classic', false],
  ['sharded', true],
])('addressing one connection on any node (%s)', (_name, sharded) => {
  it('to(id) reaches a connection on another node, once; except(id) skips it there', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    const [c0, c1, c2] = clients as [ClientEngine<Events>, ClientEngine<Events>, ClientEngine<Events>];
    for (const c of clients) await c.join('room');
    for (const n of nodes) await n.adapter.sync();
    const recs = clients.map(recorder);
    nodes[0]!.hub.to(c2.id!).emit('dm', 'to c2');
    nodes[0]!.hub.to([c1.id!, c2.id!]).emit('two', 1);
    nodes[1]!.hub.to('room').except(c2.id!).emit('not2', 1);
    nodes[2]!.hub.to(c0.id!).emit('back', 'to c0'); // to a connection of the sender's own node: not published
    await until(() => count(recs[2]!, 'dm') === 1 && count(recs[1]!, 'two') === 1 && count(recs[0]!, 'not2') === 1 && count(recs[0]!, 'back') === 1, 3_000);
    await tick(150);
    expect(recs.map((r) => [count(r, 'dm'), count(r, 'two'), count(r, 'not2'), count(r, 'back')])).toEqual([
      [0, 0, 1, 1],
      [0, 1, 1, 0],
      [1, 1, 0, 0],
    ]);
    expect(await nodes[1]!.hub.to(c2.id!).count()).toBe(1);
    const lost = nodes.map((n) => n.adapter.stats).reduce((s, x) => s + x.droppedWhileDown + x.publishUnconfirmed + x.missedFromPeers, 0);
    expect(lost).toBe(0);
  });

  it('fetchConnections handles act where the connection lives: emit, request with reply, join, leave, disconnect', async () => {
    const { nodes, clients } = await threeNodes(sharded);
    const [, c1, c2] = clients as [ClientEngine<Events>, ClientEngine<Events>, ClientEngine<Events>];
    c2.on('sum', ({ a, b }: { a: number; b: number }) => a + b);
    c2.on('fail', () => {
      throw Object.assign(new Error('no way'), { code: 'NOPE' });
    });
    c2.on('slow', () => new Promise(() => undefined));
    await c2.join('x');
    await c1.join('x');
    const recs = clients.map(recorder);

    const handles = await nodes[0]!.hub.in('x').fetchConnections();
    expect(handles.map((h) => h.id).sort()).toEqual([c1.id, c2.id].sort());
    const h = handles.find((x) => x.id === c2.id)!;
    expect(h).toBeInstanceOf(RemoteConnectionHandle);
    expect(h).toMatchObject({ local: false, nodeId: nodes[2]!.hub.nodeId, rooms: ['x'] });
    expect(JSON.parse(JSON.stringify(h))).toMatchObject({ id: c2.id, nodeId: nodes[2]!.hub.nodeId, rooms: ['x'], transport: 'mem' });

    h.emit('hello', { n: 1 });
    await until(() => count(recs[2]!, 'hello') === 1);
    expect(recs[2]!.get('hello')).toEqual([{ n: 1 }]);
    expect(count(recs[1]!, 'hello')).toBe(0);

    expect(await h.request('sum', { a: 2, b: 40 })).toBe(42);
    await expect(h.request('fail', null)).rejects.toMatchObject({ code: 'NOPE', message: 'no way' });
    const t0 = Date.now();
    await expect(h.request('slow', null, { timeout: 200 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(1_500);

    await h.join(['y', 'z']);
    const conn2 = nodes[2]!.hub.getConnection(c2.id!)!;
    expect([...conn2.rooms].sort()).toEqual(['x', 'y', 'z']);
    await nodes[2]!.adapter.sync();
    nodes[1]!.hub.to('z').emit('zed', 1);
    await until(() => count(recs[2]!, 'zed') === 1);
    await h.leave('y');
    expect([...conn2.rooms].sort()).toEqual(['x', 'z']);

    const closed = new Promise<{ code: number; reason: string }>((resolve) => c2.onLifecycle('disconnected', (e) => resolve(e)));
    await h.disconnect(4100, 'from afar');
    expect(await closed).toMatchObject({ code: 4100, reason: 'from afar' });
    await until(() => nodes[2]!.hub.connections.size === 0);
    // The connection is gone: what needs it says so; disconnecting again is fine.
    await expect(h.request('sum', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(h.join('w')).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(h.disconnect()).resolves.toBeUndefined();

    // Its whole node goes away without a goodbye: its handles fail fast, not after a timeout.
    const h1 = (await nodes[0]!.hub.to(c1.id!).fetchConnections())[0]!;
    await nodes[1]!.adapter.close({ goodbye: false });
    const t1 = Date.now();
    await expect(h1.request('sum', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(h1.disconnect()).resolves.toBeUndefined();
    expect(Date.now() - t1).toBeLessThan(500);
  });
});

describe('publish before the local fan-out', () => {
  it('the message is written to Redis before the first local member gets it', async () => {
    cluster = redis.cluster();
    const [a, b] = await cluster.start(2);
    const remote = await b!.client();
    await remote.join('r');
    const pubStream = (a!.adapter as unknown as { broker: { pub: { stream: { bytesWritten: number } } } }).broker.pub.stream;
    // A local member whose link notes how much the publish connection had written by then.
    let writtenAtLocalSend = -1;
    let handler: LinkHandler | undefined;
    const link: Link = {
      transport: 'mem',
      remoteAddress: '127.0.0.1',
      remotePort: 0,
      bufferedAmount: 0,
      send: (frame) => {
        if (frame[4] === 0x01 && writtenAtLocalSend < 0) writtenAtLocalSend = pubStream.bytesWritten;
        return SendStatus.OK;
      },
      ping: () => undefined,
      close: () => setImmediate(() => handler?.onClose(1000, '')),
      terminate: () => setImmediate(() => handler?.onClose(1006, '')),
      pause: () => undefined,
      resume: () => undefined,
    };
    handler = a!.hub.accept(link);
    const { decodeFrame, encodeClientConnect } = await import('@stelar/codec-tcp');
    const hello = encodeClientConnect();
    handler.onFrame(decodeFrame(hello), hello.length);
    await until(() => a!.hub.connections.size === 1);
    for (const c of a!.hub.connections.values()) await c.join('r');
    const rec = recorder(remote);
    const before = pubStream.bytesWritten;
    a!.hub.to('r').emit('m', 'x');
    expect(writtenAtLocalSend).toBeGreaterThan(before);
    await until(() => count(rec, 'm') === 1);
    handler.onClose(1000, '');
  });
});

describe('remote broadcasts to corkable links', () => {
  it('the recipients of the broadcasts of one Redis read are corked until it is handled: every cork has its uncork, frames are sent corked', async () => {
    cluster = redis.cluster();
    const [a, b] = await cluster.start(2);
    const log: string[] = [];
    let depth = 0;
    let handler: LinkHandler | undefined;
    const link: Link = {
      transport: 'mem',
      remoteAddress: '127.0.0.1',
      remotePort: 0,
      bufferedAmount: 0,
      send: (frame) => {
        if (frame[4] === 0x01) log.push(depth > 0 ? 'send-corked' : 'send');
        return SendStatus.OK;
      },
      cork: () => void (depth++, log.push('cork')),
      uncork: () => void (depth--, log.push('uncork')),
      ping: () => undefined,
      close: () => setImmediate(() => handler?.onClose(1000, '')),
      terminate: () => setImmediate(() => handler?.onClose(1006, '')),
      pause: () => undefined,
      resume: () => undefined,
    };
    handler = a!.hub.accept(link);
    const { decodeFrame, encodeClientConnect } = await import('@stelar/codec-tcp');
    const hello = encodeClientConnect();
    handler.onFrame(decodeFrame(hello), hello.length);
    await until(() => a!.hub.connections.size === 1);
    log.length = 0;
    for (let i = 0; i < 20; i++) b!.hub.emit('m', i);
    await until(() => log.filter((x) => x.startsWith('send')).length === 20);
    await tick(20);
    expect(depth).toBe(0);
    expect(log.filter((x) => x === 'cork').length).toBe(log.filter((x) => x === 'uncork').length);
    expect(log.filter((x) => x === 'send')).toHaveLength(0);
    // Fewer corks than frames: several frames left in one go.
    expect(log.filter((x) => x === 'cork').length).toBeLessThan(20);
    handler.onClose(1000, '');
  });
});
