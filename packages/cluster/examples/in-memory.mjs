// Two Stelar servers that act as one, through a broker in this very process (MemoryBus): the
// cluster logic of @stelar/cluster without Redis. With Redis, use @stelar/adapter-redis instead.
import { createServer } from '@stelar/server';
import { connect } from '@stelar/client-node';
import { ClusterAdapter, MemoryBroker, MemoryBus } from '@stelar/cluster';

const bus = new MemoryBus();

async function startNode(name) {
  const server = createServer({ port: 0, host: '127.0.0.1', adapter: new ClusterAdapter(new MemoryBroker(bus)) });
  server.on('chat', (text, conn) => conn.to('lobby').emit('chat', `${name}: ${text}`));
  const { port } = await server.listen();
  await server.ready(); // its ready() waits until the other node has said hello
  return { server, url: `ws://127.0.0.1:${port}/` };
}

const a = await startNode('A');
const b = await startNode('B');
const alice = connect(a.url);
const bob = connect(b.url);
await Promise.all([alice.connect(), bob.connect()]);
await alice.join('lobby');
await bob.join('lobby');

const heard = new Promise((resolve) => bob.on('chat', resolve));
alice.emit('chat', 'hello');
console.log('bob got', await heard);

bob.on('age', () => 42);
const [handle] = await a.server.to(bob.id).fetchConnections(); // bob, seen from node A
console.log('bob lives on node', handle.nodeId === b.server.nodeId ? 'B' : '?', 'and answers', await handle.request('age'));
console.log('nodes:', a.server.adapter.nodeCount(), '| lobby members:', await a.server.in('lobby').count());

alice.close();
bob.close();
await Promise.all([a.server.close(), b.server.close()]);
