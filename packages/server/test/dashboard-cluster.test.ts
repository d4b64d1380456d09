// The per-node view over the Redis adapter: real servers, real Redis (STELAR_REDIS_URL from
// `npm test`, else a redis-server of our own; a missing redis-server fails the test).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type StelarClient } from '@stelar/client-node';
import { createRedisAdapter } from '../../adapter-redis/src/index';
import { createServer, type DashboardData, type ServerOptions, type StelarServer } from '../src/index';
import { redisForTest, until } from './helpers';

let redis: { url: string; stop(): Promise<void> };
const servers: StelarServer[] = [];
const clients: StelarClient[] = [];
beforeAll(async () => {
  redis = await redisForTest();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close({ timeout: 300 });
});

const authorize = (req: { headers: { authorization?: string | undefined } }): boolean => req.headers.authorization === 'Bearer ops';

async function node(prefix: string, dashboard: boolean) {
  const adapter = createRedisAdapter({ url: redis.url, prefix, heartbeatInterval: 100, nodeTimeout: 600 });
  const options: ServerOptions = { port: 0, tcpPort: 0, host: '127.0.0.1', heartbeat: false, adapter, ...(dashboard && { dashboard: { authorize, nodeTimeout: 500 } }) };
  const server = createServer(options);
  servers.push(server);
  const { port, tcpPort } = await server.listen();
  const client = async (scheme: 'ws' | 'tcp') => {
    const c = connect(scheme === 'ws' ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false });
    clients.push(c);
    await c.connect();
    return c;
  };
  const data = async (): Promise<DashboardData> => {
    const r = await fetch(`http://127.0.0.1:${port}/stelar/data`, { headers: { authorization: 'Bearer ops' } });
    expect(r.status).toBe(200);
    return (await r.json()) as DashboardData;
  };
  return { server, client, data };
}

describe('dashboard with the Redis adapter: one row per node', () => {
  it('shows every node’s counters (gathered over serverSideEmit), and nodes that do not answer as such', async () => {
    const prefix = `dash-${process.pid}-${Date.now()}`;
    const a = await node(prefix, true);
    const b = await node(prefix, true);
    const c = await node(prefix, false); // no dashboard: known to the adapter, never answers
    await until(() => servers.every((s) => s.adapter.nodeCount() === 3), 5000);

    await a.client('ws');
    const bTcp = await b.client('tcp');
    await b.client('ws');
    await c.client('tcp');
    await until(() => a.server.connections.size === 1 && b.server.connections.size === 2);

    const rowOf = (d: DashboardData, id: string) => d.cluster?.nodes.find((n) => n.id === id);
    let view: DashboardData | undefined;
    await until(async () => {
      view = await a.data();
      return rowOf(view, b.server.nodeId)?.status === 'ok' && rowOf(view, c.server.nodeId)?.status === 'no answer';
    }, 8000);
    const v = view!;
    expect(v.cluster!.nodeCount).toBe(3);
    expect(v.cluster!.nodes.map((n) => n.id)).toEqual([a.server.nodeId, ...[b.server.nodeId, c.server.nodeId].sort()]);
    expect(rowOf(v, a.server.nodeId)).toMatchObject({ self: true, status: 'ok', stats: { connections: { byTransport: { ws: 1 } } } });
    expect(rowOf(v, b.server.nodeId)).toMatchObject({ self: false, status: 'ok', stats: { connections: { open: 2, byTransport: { tcp: 1, ws: 1 } } } });
    expect(rowOf(v, c.server.nodeId)).toMatchObject({ self: false, status: 'no answer', ageMs: null, stats: null });
    expect(v.cluster!.omitted).toBe(0);

    // And the other way round: B sees A.
    await until(async () => rowOf(await b.data(), a.server.nodeId)?.status === 'ok', 5000);

    // Traffic on B shows in A's row for B (the page derives rates from these counters).
    const before = rowOf(v, b.server.nodeId)!.stats!.messages.in;
    for (let i = 0; i < 30; i++) bTcp.emit('ping', i);
    await until(async () => (rowOf(await a.data(), b.server.nodeId)?.stats?.messages.in ?? 0) >= before + 30, 5000);

    // B goes away: A keeps its last counters for a while, marked as not answering.
    const bId = b.server.nodeId;
    await b.server.close({ timeout: 300 });
    await until(async () => rowOf(await a.data(), bId)?.status === 'no answer', 5000);
    const gone = rowOf(await a.data(), bId)!;
    expect(gone.stats).not.toBeNull();
    expect(gone.ageMs).toBeGreaterThan(0);
  });
});
