// Two Stelar servers on one Redis: a message sent on one reaches a client of the other.
//   redis-server --port 6379 &   (or REDIS_URL=redis://…)
//   cd packages/adapter-redis && npx tsup && node examples/two-nodes.mjs
import { createServer } from '@stelar/server';
import { connect } from '@stelar/client-node';
import { createRedisAdapter } from '@stelar/adapter-redis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// Two server processes would each run one of these; here both live in one script.
async function startNode(port) {
  const server = createServer({ port, adapter: createRedisAdapter({ url }) });
  server.on('chat', (text, conn) => conn.to('lobby').emit('chat', `${conn.id.slice(0, 4)}: ${text}`));
  await server.listen();
  await server.ready(); // connected to Redis
  return server;
}

const a = await startNode(3001);
const b = await startNode(3002); // its ready() waited until node A had said hello

const alice = connect('ws://127.0.0.1:3001/');
const bob = connect('ws://127.0.0.1:3002/');
await Promise.all([alice.connect(), bob.connect()]);
await alice.join('lobby');
await bob.join('lobby');

bob.on('chat', (line) => console.log('bob got', line));
alice.emit('chat', 'hello from node A');

// One connection, on whichever node it lives: by id, or through a handle.
bob.on('whisper', (text) => console.log('bob got a whisper:', text));
a.to(bob.id).emit('whisper', 'only for bob');
bob.on('age', () => 42);
const [handle] = await a.to(bob.id).fetchConnections();
console.log(`bob is on node ${handle.nodeId === b.nodeId ? 'B' : '?'} and answers`, await handle.request('age'));

await new Promise((r) => setTimeout(r, 200));
console.log('nodes:', a.adapter.nodeCount(), '| lobby members:', await b.in('lobby').count());
alice.close();
bob.close();
await Promise.all([a.close(), b.close()]);
