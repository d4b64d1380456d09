/**
 * One Stelar server process of the cluster. Its rooms span every process that shares the Redis.
 * Env: PORT, TCP_PORT, REDIS_URL, NAME.
 */
import { createRedisAdapter } from '@stelar/adapter-redis';
import { createServer } from '@stelar/server';
import type { ClusterEvents } from './events';

const name = process.env['NAME'] ?? `node-${process.pid}`;
const server = createServer<ClusterEvents>({
  port: Number(process.env['PORT'] ?? 3001),
  tcpPort: Number(process.env['TCP_PORT'] ?? 4001),
  host: '127.0.0.1',
  adapter: createRedisAdapter({ url: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', heartbeatInterval: 1000, nodeTimeout: 3000 }),
  health: true,
  handleSignals: true,
});

server.on('say', (text, conn) => {
  server.to('lobby').emit('said', { text, from: String(conn.data['nick'] ?? conn.id), via: name });
  return name;
});
server.on('nick', (nick, conn) => {
  conn.data['nick'] = nick;
  conn.join('lobby');
  return name;
});
// Members of the lobby on every node, answered by whichever node the client is on.
server.on('who', async () => {
  const members = await server.in('lobby').fetchConnections({ timeout: 2000 });
  return members.map((m) => ({ nick: String((m.data as Record<string, unknown>)['nick'] ?? m.id), node: m.nodeId, transport: m.transport }));
});
// One connection by nick, wherever it lives: a handle that acts on it on its own node.
async function byNick(nick: string) {
  const all = await server.fetchConnections({ timeout: 2000 });
  const h = all.find((c) => (c.data as Record<string, unknown>)['nick'] === nick);
  if (!h) throw Object.assign(new Error(`no one called ${nick}`), { code: 'NOT_FOUND' });
  return h;
}
server.on('dm', async ({ to, text }, conn) => {
  const h = await byNick(to);
  h.emit('private', { text, from: String(conn.data['nick'] ?? conn.id) });
  return h.nodeId;
});
server.on('ask', async ({ to, question }) => {
  const h = await byNick(to);
  return h.request('question', question, { timeout: 2000 });
});
server.onServerEvent('whoami', () => name);

const { port, tcpPort } = await server.listen();
await server.ready(); // subscribed, and the nodes already there have said hello
process.send?.({ ready: true, name, port, tcpPort, nodeId: server.nodeId });
console.log(`${name}: ws://127.0.0.1:${port}  tcp://127.0.0.1:${tcpPort}  (node ${server.nodeId})`);
