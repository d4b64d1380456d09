/**
 * Run in a child process (it may hang the event loop): a client fills its request slots with
 * slow requests, queues more, and disconnects. The server must then answer another client.
 * Prints `survived <ms>` on success; a server that spins never prints it (the parent kills it).
 */
import * as net from 'node:net';
import { connect } from '@stelar/client-node';
import { encodeAckRequest, encodeClientConnect } from '@stelar/codec-tcp';
import { createServer } from '@stelar/server';

const server = createServer({ tcpPort: 0, host: '127.0.0.1', heartbeat: false, maxConcurrentRequests: 4 });
server.on('slow', async (n: unknown) => {
  await new Promise((r) => setTimeout(r, 200));
  return n;
});
server.on('echo', (d: unknown) => d);
const { tcpPort } = await server.listen();
const good = connect(`tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false });
await good.connect();

const s = net.connect(tcpPort!, '127.0.0.1');
await new Promise((r) => s.once('connect', r));
s.write(encodeClientConnect());
await new Promise((r) => setTimeout(r, 50));
// 4 requests take the slots, 4 more wait for one.
s.write(Buffer.concat(Array.from({ length: 8 }, (_, i) => encodeAckRequest(i + 1, 'slow', i))));
await new Promise((r) => setTimeout(r, 50));
s.destroy();
await new Promise((r) => setTimeout(r, 50));
const t0 = Date.now();
await good.request('echo' as never, 1 as never);
console.log(`survived ${Date.now() - t0}`);
good.close();
await server.close({ timeout: 500 });
process.exit(0);
