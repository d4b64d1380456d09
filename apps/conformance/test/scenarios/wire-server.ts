/**
 * A Stelar server in a child process, so that its memory can be measured apart from the
 * attackers' (see `serverProcess` in ../helpers.ts). Options: JSON in argv[2] (merged over
 * `port: 0, tcpPort: 0, host: 127.0.0.1`), plus `zlib: { maxMemory, concurrency }` for the
 * process-wide zlib pool. Prints `ready <port> <tcpPort>`, then answers each `mem` line on stdin
 * with `mem <json>` (after full collections), and exits on `exit`.
 */
import { createInterface } from 'node:readline';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { ZlibPool } from '@stelar/codec-ws';
import { createServer, type ServerOptions } from '@stelar/server';
import { InputGuard } from '@stelar/transport-node';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions & { zlib?: { maxMemory?: number; concurrency?: number } };
const { zlib, ...serverOptions } = options;
const pool = zlib ? new ZlibPool(zlib) : ZlibPool.shared;
if (zlib && serverOptions.ws && typeof serverOptions.ws === 'object' && serverOptions.ws.perMessageDeflate) {
  const pmd = serverOptions.ws.perMessageDeflate;
  serverOptions.ws.perMessageDeflate = { ...(pmd === true ? {} : pmd), pool };
}
const server = createServer({ port: 0, tcpPort: 0, host: '127.0.0.1', ...serverOptions });
server.on('echo', (d: unknown) => d);
server.onError(() => undefined);
const info = await server.listen();
const guard = serverOptions.maxUnfinishedBytes === undefined && serverOptions.messageTimeout === undefined ? InputGuard.shared : undefined;
console.log(`ready ${info.port} ${info.tcpPort}`);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'mem') {
    gc();
    gc();
    const m = process.memoryUsage();
    const report = {
      rss: m.rss,
      heapUsed: m.heapUsed,
      arrayBuffers: m.arrayBuffers,
      external: m.external,
      zlibMemory: pool.memory,
      zlibPinned: pool.pinnedMemory,
      zlibStreams: pool.liveStreams,
      unfinishedBytes: guard?.unfinishedBytes ?? -1,
      open: server.getStats().connections.open,
    };
    console.log(`mem ${JSON.stringify(report)}`);
  } else if (line === 'exit') {
    void server.close({ timeout: 500 }).then(() => process.exit(0));
  }
});
