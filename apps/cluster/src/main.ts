/**
 * The cluster demo: three Stelar server processes on different ports share one Redis; clients
 * on different nodes and transports join one room and see each other's messages.
 *
 *   node dist/main.js                  # uses REDIS_URL, or starts a redis-server on a free port
 *   node dist/main.js --keep           # leave the three servers running (Ctrl-C to stop)
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createServer as netServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, type StelarClient } from '@stelar/client-node';
import type { ClusterEvents } from './events';

const keep = process.argv.includes('--keep');
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function redisUrl(): Promise<string> {
  const fromEnv = process.env['REDIS_URL'] ?? process.env['STELAR_REDIS_URL'];
  if (fromEnv) return fromEnv;
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(redis);
  await new Promise((r) => setTimeout(r, 300));
  return `redis://127.0.0.1:${port}`;
}

interface Ready {
  name: string;
  port: number;
  tcpPort: number;
}

function startNode(name: string, env: Record<string, string>): Promise<Ready> {
  const child = fork(fileURLToPath(new URL('./node.js', import.meta.url)), [], { env: { ...process.env, ...env, NAME: name }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as Ready));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

function stopAll(): void {
  for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
}

async function main(): Promise<void> {
  const url = await redisUrl();
  const nodes = await Promise.all(
    ['alpha', 'beta', 'gamma'].map(async (name) => startNode(name, { REDIS_URL: url, PORT: String(await freePort()), TCP_PORT: String(await freePort()) })),
  );
  // No waiting for heartbeats: a cross-node query asks Redis how many nodes are subscribed.

  const plan: [string, string][] = [
    ['ada', `ws://127.0.0.1:${nodes[0]!.port}/`],
    ['bob', `tcp://127.0.0.1:${nodes[1]!.tcpPort}`],
    ['cy', `ws://127.0.0.1:${nodes[2]!.port}/`],
  ];
  const clients: StelarClient<ClusterEvents>[] = [];
  const heard = new Map<string, string[]>();
  for (const [nick, target] of plan) {
    const c = connect<ClusterEvents>(target, { reconnect: false });
    heard.set(nick, []);
    c.on('said', (m) => void heard.get(nick)!.push(`${m.from}@${m.via}: ${m.text}`));
    c.on('private', (m) => void heard.get(nick)!.push(`(private) ${m.from}: ${m.text}`));
    c.on('question', (q) => `${nick} answers "${q}" with 42`);
    await c.connect();
    console.log(`${nick} is on ${await c.request('nick', nick)} over ${target.split(':')[0]}`);
    clients.push(c);
  }
  console.log('lobby members, as seen from alpha:', await clients[0]!.request('who'));
  for (const [i, c] of clients.entries()) await c.request('say', `hello from ${plan[i]![0]}`);
  // Across nodes, one connection at a time: ada (alpha) writes to cy (gamma) privately, and asks
  // bob (beta, over TCP) a question that bob's client answers.
  console.log(`ada's private line went to node ${await clients[0]!.request('dm', { to: 'cy', text: 'psst' })}`);
  const answer = await clients[0]!.request('ask', { to: 'bob', question: 'the answer?' });
  console.log(`bob, asked from alpha: ${answer}`);
  await new Promise((r) => setTimeout(r, 300));
  for (const [nick, lines] of heard) console.log(`${nick} heard:\n  ${lines.join('\n  ')}`);
  const roomOk = [...heard.entries()].every(([nick, l]) => l.filter((x) => !x.startsWith('(private)')).length === plan.length && (nick === 'cy') === l.includes('(private) ada: psst'));
  const everyoneHeardEveryone = roomOk && answer === 'bob answers "the answer?" with 42';
  console.log(everyoneHeardEveryone ? 'OK: one room across three processes' : 'MISSING messages');
  for (const c of clients) c.close();
  if (keep) {
    console.log('servers keep running; Ctrl-C stops them');
    process.once('SIGINT', stopAll);
    return;
  }
  stopAll();
  process.exitCode = everyoneHeardEveryone ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  stopAll();
  process.exitCode = 1;
});
