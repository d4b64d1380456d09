import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type StelarServer } from '@stelar/server';
import { connect, type StelarClient } from '@stelar/client-node';
import { createRedisAdapter, type RedisAdapter } from '../src/index';
import { useRedis, tick, uniquePrefix, until } from './helpers';

const redis = useRedis();
const servers: StelarServer[] = [];
const clients: StelarClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close({ timeout: 500 });
});

describe('three real servers over one Redis, WebSocket and TCP clients', () => {
  it('room messages, client relays, queries and remote disconnects work across servers and transports', async () => {
    const prefix = uniquePrefix();
    const ports: { port: number; tcpPort: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const adapter = createRedisAdapter({ url: redis.url, prefix, heartbeatInterval: 100, nodeTimeout: 600 });
      const server = createServer({ port: 0, tcpPort: 0, host: '127.0.0.1', heartbeat: false, adapter });
      servers.push(server);
      server.on('say', (text, conn) => conn.to('room').emit('said', text));
      const info = await server.listen();
      await server.ready();
      ports.push({ port: info.port!, tcpPort: info.tcpPort! });
    }
    await until(() => servers.every((s) => s.adapter.nodeCount() === 3), 3_000);

    // On each server: one WebSocket client and one TCP client.
    const urls = ports.flatMap(({ port, tcpPort }) => [`ws://127.0.0.1:${port}/`, `tcp://127.0.0.1:${tcpPort}`]);
    for (const url of urls) {
      const c = connect(url, { reconnect: false, heartbeat: false });
      clients.push(c);
      await c.connect();
      await c.join('room');
    }
    expect(servers.map((s) => s.connections.size)).toEqual([2, 2, 2]);
    const got = clients.map(() => [] as unknown[]);
    clients.forEach((c, i) => c.on('said', (d) => void got[i]!.push(d)));
    clients.forEach((c, i) => c.on('news', (d) => void got[i]!.push(d)));

    // A WebSocket client on server 0 says something: the five others get it once, over both transports.
    clients[0]!.emit('say', 'hi from ws');
    await until(() => got.slice(1).every((g) => g.length === 1));
    // A server-side broadcast from server 2, binary-safe JSON with unicode.
    servers[2]!.to('room').emit('news', { text: 'ünïcode 🚀', n: 1 });
    await until(() => got.every((g, i) => g.length === (i === 0 ? 1 : 2)));
    await tick(100);
    expect(got[0]).toEqual([{ text: 'ünïcode 🚀', n: 1 }]);
    for (const g of got.slice(1)) expect(g).toEqual(['hi from ws', { text: 'ünïcode 🚀', n: 1 }]);

    // Queries see every server's connections, with their transports.
    const infos = await servers[1]!.in('room').fetchConnections();
    expect(infos.map((i) => i.transport).sort()).toEqual(['tcp', 'tcp', 'tcp', 'ws', 'ws', 'ws']);
    expect(new Set(infos.map((i) => i.nodeId))).toEqual(new Set(servers.map((s) => s.nodeId)));

    // Server 0 disconnects the TCP clients of every server.
    const tcpIds = infos.filter((i) => i.transport === 'tcp').map((i) => i.id);
    const wsIds = infos.filter((i) => i.transport === 'ws').map((i) => i.id);
    await servers[0]!.in('room').except(wsIds.map((id) => ({ id }))).disconnect(4100, 'tcp goes');
    await until(() => clients.filter((_, i) => i % 2 === 1).every((c) => c.state === 'disconnected'));
    await until(() => servers.every((s) => s.connections.size === 1));
    expect(await servers[2]!.fetchConnections()).toHaveLength(3);
    expect(tcpIds).toHaveLength(3);
    for (const s of servers) expect((s.adapter as RedisAdapter).stats.droppedWhileDown).toBe(0);
  });
});
