// Server process of wire.bench.mjs (not a test): one server kind, the bench application (echo
// every message to its sender; a publish goes to every other member of one room), stats over IPC.
//   node serve.mjs <stelar-ws|stelar-tcp|ws|net> [bundle.mjs]
// ws is resolved from apps/bench (its devDependency); set NODE_PATH to a folder holding
// `bufferutil` for the ws + bufferutil peer (and for Stelar's optional native masking).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';

const [kind, bundle] = process.argv.slice(2);
const OP_PUB = 2;
const room = new Set();
let connections = () => 0;

async function start(withRoom) {
  if (kind === 'stelar-ws' || kind === 'stelar-tcp') {
    const { createServer } = await import(pathToFileURL(bundle).href);
    const server = createServer({
      host: '127.0.0.1',
      ...(kind === 'stelar-ws' ? { port: 0 } : { tcpPort: 0, ws: false }),
      maxFrameSize: 16 * 1024 * 1024,
      onError: () => undefined,
    });
    server.on('echo', (data, conn) => conn.emit('echo', data));
    server.on('pub', (data, conn) => conn.to('room').emit('fan', data));
    if (withRoom) server.onConnection((conn) => conn.join('room'));
    const info = await server.listen();
    connections = () => server.getStats().connections.open;
    return kind === 'stelar-ws' ? info.port : info.tcpPort;
  }
  if (kind === 'ws') {
    const req = createRequire(fileURLToPath(new URL('../../../apps/bench/package.json', import.meta.url)));
    const { WebSocketServer } = req('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => {
      if (withRoom) room.add(ws);
      ws.on('message', (data, isBinary) => {
        if (data[0] === OP_PUB) {
          for (const c of room) if (c !== ws) c.send(data, { binary: true });
        } else ws.send(data, { binary: isBinary });
      });
      ws.on('close', () => room.delete(ws));
      ws.on('error', () => undefined);
    });
    connections = () => wss.clients.size;
    return wss.address().port;
  }
  if (kind === 'net') {
    const sockets = new Set();
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      if (withRoom) room.add(socket);
      let pending = null;
      socket.on('data', (chunk) => {
        let buf = chunk;
        if (pending) {
          buf = Buffer.concat([pending, chunk]);
          pending = null;
        }
        let off = 0;
        socket.cork();
        while (buf.length - off >= 4) {
          const len = buf.readUInt32BE(off);
          const end = off + 4 + len;
          if (end > buf.length) break;
          const msg = buf.subarray(off, end);
          if (len > 0 && buf[off + 4] === OP_PUB) {
            for (const c of room) if (c !== socket) c.write(msg);
          } else socket.write(msg);
          off = end;
        }
        socket.uncork();
        if (off < buf.length) pending = buf.subarray(off);
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        sockets.delete(socket);
        room.delete(socket);
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    connections = () => sockets.size;
    return server.address().port;
  }
  throw new Error(`unknown kind ${kind}`);
}

function stats() {
  const c = process.cpuUsage();
  const m = process.memoryUsage();
  // v8Phys: pages of the V8 heap actually resident (young generation included); rss - v8Phys is
  // what lives outside it (malloc: socket handles, libuv/Node natives, backing stores; code).
  const v8Phys = getHeapStatistics().total_physical_size;
  // RssAnon / RssFile (Linux): anonymous memory vs pages of mapped files (code of node and its
  // libraries touched for the first time also counts in RSS).
  let rssAnon = 0;
  let rssFile = 0;
  try {
    const st = readFileSync('/proc/self/status', 'latin1');
    rssAnon = Number(/RssAnon:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024;
    rssFile = Number(/RssFile:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024;
  } catch {
    /* not Linux */
  }
  return { user: c.user, system: c.system, rss: m.rss, rssAnon, rssFile, heap: m.heapUsed, v8Phys, external: m.external, arrayBuffers: m.arrayBuffers, connections: connections() };
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'start') process.send({ id: msg.id, port: await start(msg.room) });
    else if (msg.cmd === 'stats') process.send({ id: msg.id, stats: stats() });
    else if (msg.cmd === 'gc') {
      for (let i = 0; i < 3; i++) {
        globalThis.gc();
        await new Promise((r) => setImmediate(r));
      }
      process.send({ id: msg.id, stats: stats() });
    } else if (msg.cmd === 'gcReduce') {
      // A full GC that also shrinks the young generation and gives pooled pages back, as V8's
      // memory reducer does by itself once a process has been idle for a few seconds.
      for (let i = 0; i < 2; i++) {
        globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
        await new Promise((r) => setImmediate(r));
      }
      process.send({ id: msg.id, stats: stats() });
    } else if (msg.cmd === 'snapshot') {
      for (let i = 0; i < 3; i++) {
        globalThis.gc();
        await new Promise((r) => setImmediate(r));
      }
      process.send({ id: msg.id, file: writeHeapSnapshot(msg.file) });
    } else if (msg.cmd === 'stop') process.exit(0);
  } catch (err) {
    process.send({ id: msg.id, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
