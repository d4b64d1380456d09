/**
 * The servers under test, all with the same behaviour: echo each message to its sender; on a
 * publish, send the message to every other member of {@link ROOM}. Each runs alone in a server
 * process (see `src/server.ts`), with every library at its documented defaults except where the
 * scenario says otherwise (permessage-deflate, binary frames, socket.io's websocket transport,
 * a 16 MiB message limit everywhere so the 1 MiB echo fits).
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { createServer as createStelar } from '@stelar/server';
import { HOST, OP_PUB, ROOM, type ServerKind, type ServerStart } from './common';

export interface RunningServer {
  /** The port clients dial. */
  port: number;
  /** Open connections as the server counts them. */
  connections(): number;
  /** Stelar with recovery: `getStats().recovery`. */
  recovery?(): Record<string, number> | undefined;
  close(): Promise<void>;
}

const MAX_PAYLOAD = 16 * 1024 * 1024;

/** The module name in a variable, so bundlers and tsc leave the optional import alone. */
const UWS_MODULE = 'uWebSockets.js';

/** Whether uWebSockets.js can be imported here (it is not on the npm registry). */
export async function uwsAvailable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await import(UWS_MODULE);
    return { ok: true };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { ok: false, reason: code === 'ERR_MODULE_NOT_FOUND' ? 'uWebSockets.js is not installed (it is not on the npm registry)' : String(err) };
  }
}

const require = createRequire(import.meta.url);

/** Version of an installed package as this bundle resolves it, or undefined. */
export function packageVersion(name: string, from?: string): string | undefined {
  try {
    const req = from ? createRequire(from) : require;
    const dir = dirname(req.resolve(`${name}/package.json`));
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * Whether `ws` (as this bundle resolves it) can load the optional native `bufferutil`: resolved
 * from ws's own directory, as ws's `lib/buffer-util.js` requires it, and its `mask` callable.
 */
export function bufferutilAvailable(): { ok: true; version: string } | { ok: false; reason: string } {
  try {
    const wsMain = require.resolve('ws');
    const fromWs = createRequire(wsMain);
    const bu = fromWs(fromWs.resolve('bufferutil')) as { mask?: unknown; unmask?: unknown };
    if (typeof bu.mask !== 'function' || typeof bu.unmask !== 'function') return { ok: false, reason: 'bufferutil loaded without mask/unmask' };
    return { ok: true, version: packageVersion('bufferutil', wsMain) ?? '?' };
  } catch (err) {
    return { ok: false, reason: `bufferutil does not load from ws (${String(err).split('\n')[0] ?? ''})` };
  }
}

/** Versions of the peers, for the report. */
export function peerVersions(): Partial<Record<ServerKind | 'bufferutil', string>> {
  const ws = packageVersion('ws');
  const sio = packageVersion('socket.io');
  const out: Partial<Record<ServerKind | 'bufferutil', string>> = {};
  if (ws) out.ws = out['ws-bu'] = out['ws-frame'] = ws;
  if (sio) out.socketio = sio;
  const bu = bufferutilAvailable();
  if (bu.ok) out.bufferutil = bu.version;
  return out;
}

export async function startServer(o: ServerStart): Promise<RunningServer> {
  switch (o.kind) {
    case 'stelar-ws':
    case 'stelar-tcp':
    case 'stelar-tls':
      return startStelar(o);
    case 'ws':
    case 'ws-bu':
    case 'ws-frame':
      return startWs(o);
    case 'socketio':
      return startSocketIo(o);
    case 'uws':
      return startUws(o);
    case 'net':
      return startNet(o);
  }
}

async function startStelar(o: ServerStart): Promise<RunningServer> {
  const tls =
    o.kind === 'stelar-tls'
      ? { key: readFileSync(join(o.certDir ?? '.', 'key.pem')), cert: readFileSync(join(o.certDir ?? '.', 'cert.pem')) }
      : undefined;
  const server = createStelar({
    host: HOST,
    ...(o.kind === 'stelar-ws' ? { port: 0, ws: { perMessageDeflate: o.deflate } } : { tcpPort: 0, ws: false as const }),
    ...(tls ? { tls } : {}),
    maxFrameSize: MAX_PAYLOAD,
    ...(o.recovery ? { recovery: true } : {}),
    onError: () => undefined,
  });
  server.on('echo', (data: unknown, conn) => {
    conn.emit('echo', data);
  });
  server.on('pub', (data: unknown, conn) => {
    conn.to(ROOM).emit('fan', data);
  });
  if (o.room) server.onConnection((conn) => conn.join(ROOM));
  const info = await server.listen();
  const port = o.kind === 'stelar-ws' ? info.port : info.tcpPort;
  if (port === undefined) throw new Error('stelar server has no port');
  return {
    port,
    connections: () => server.getStats().connections.open,
    recovery: () => ({ ...server.getStats().recovery }),
    close: () => server.close({ timeout: 100 }),
  };
}

/**
 * `ws`, `ws-bu` (with bufferutil) and `ws-frame` (pre-framed broadcast). Whether ws uses
 * bufferutil is decided by ws itself when it is first loaded: the controller starts every server
 * process with `WS_NO_BUFFER_UTIL=1` except `ws-bu`'s; this checks that it did.
 */
async function startWs(o: ServerStart): Promise<RunningServer> {
  const noBu = process.env['WS_NO_BUFFER_UTIL'] !== undefined && process.env['WS_NO_BUFFER_UTIL'] !== '';
  if (o.kind === 'ws-bu') {
    if (noBu) throw new Error('ws-bu: WS_NO_BUFFER_UTIL is set in this process');
    const bu = bufferutilAvailable();
    if (!bu.ok) throw new Error(`ws-bu: ${bu.reason}`);
  } else if (!noBu) throw new Error(`${o.kind}: start it with WS_NO_BUFFER_UTIL=1 (ws as installed plainly)`);
  const { WebSocket, WebSocketServer, Sender } = await import('ws');
  const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: o.deflate, maxPayload: MAX_PAYLOAD });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const room = new Set<import('ws').WebSocket>();
  const preFramed = o.kind === 'ws-frame';
  if (preFramed && o.deflate) throw new Error('ws-frame: the pre-framed broadcast bypasses permessage-deflate');
  wss.on('connection', (ws) => {
    if (o.room) room.add(ws);
    ws.on('message', (data, isBinary) => {
      if (data[0] === OP_PUB) {
        if (preFramed) {
          // ws's public Sender.frame builds the frame once (server frames are not masked); each
          // recipient's socket gets that same buffer. Safe here: no compression, and the
          // recipients have nothing queued in their Sender.
          const frame = Buffer.concat(Sender.frame(data, { fin: true, rsv1: false, opcode: 2, mask: false, readOnly: false }));
          for (const c of room) if (c !== ws && c.readyState === WebSocket.OPEN) c._socket.write(frame);
        } else for (const c of room) if (c !== ws) c.send(data, { binary: true });
      } else ws.send(data, { binary: isBinary });
    });
    ws.on('close', () => room.delete(ws));
    ws.on('error', () => undefined);
  });
  const addr = wss.address();
  if (typeof addr === 'string') throw new Error('ws: unexpected address');
  return {
    port: addr.port,
    connections: () => wss.clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

async function startSocketIo(o: ServerStart): Promise<RunningServer> {
  const { Server } = await import('socket.io');
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: o.deflate ? { threshold: 1024 } : false,
    maxHttpBufferSize: MAX_PAYLOAD,
  });
  io.on('connection', (socket) => {
    if (o.room) void socket.join(ROOM);
    socket.on('echo', (d: unknown) => {
      socket.emit('echo', d);
    });
    socket.on('pub', (d: unknown) => {
      socket.to(ROOM).emit('fan', d);
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, HOST, resolve);
  });
  return {
    port: (httpServer.address() as AddressInfo).port,
    connections: () => io.engine.clientsCount,
    close: () =>
      new Promise<void>((resolve) => {
        void io.close(() => resolve());
        httpServer.closeAllConnections();
      }),
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- uWebSockets.js is optional and untyped here */
async function startUws(o: ServerStart): Promise<RunningServer> {
  const mod: any = await import(UWS_MODULE);
  const uWS: any = mod.default ?? mod;
  let open = 0;
  let listenSocket: any;
  const app = uWS.App();
  app.ws('/*', {
    compression: o.deflate ? uWS.SHARED_COMPRESSOR : uWS.DISABLED,
    maxPayloadLength: MAX_PAYLOAD,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 120,
    open: (ws: any) => {
      open++;
      if (o.room) ws.subscribe(ROOM);
    },
    message: (ws: any, message: ArrayBuffer, isBinary: boolean) => {
      const op = new Uint8Array(message, 0, 1)[0];
      // ws.publish reaches every subscriber but the sender, like the other servers' broadcasts.
      if (op === OP_PUB) ws.publish(ROOM, message, true);
      else ws.send(message, isBinary);
    },
    close: () => {
      open--;
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    app.listen(HOST, 0, (token: any) => {
      if (!token) reject(new Error('uWebSockets.js: listen failed'));
      listenSocket = token;
      resolve(uWS.us_socket_local_port(token) as number);
    });
  });
  return {
    port,
    connections: () => open,
    close: async () => {
      if (listenSocket) uWS.us_listen_socket_close(listenSocket);
      app.close?.();
    },
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * The physical limit: length-prefixed messages (u32 length, then the body) over plain TCP, no
 * framework. Each complete message is written back as a view of the read buffer (no copy), and
 * the writes of one read are corked into one `writev`. A message split over reads is put together
 * once, when its last byte is in (linear in its size, like the other servers' receivers).
 */
async function startNet(o: ServerStart): Promise<RunningServer> {
  const room = new Set<net.Socket>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    if (o.room) room.add(socket);
    /** Reads holding the start of an incomplete message, their length, and the bytes it needs. */
    let parts: Buffer[] = [];
    let partsLen = 0;
    let need = 0;
    socket.on('data', (chunk: Buffer) => {
      let buf = chunk;
      if (parts.length > 0) {
        parts.push(chunk);
        partsLen += chunk.length;
        if (partsLen < need) return;
        buf = Buffer.concat(parts, partsLen);
        parts = [];
        partsLen = 0;
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
      if (off < buf.length) {
        const rest = buf.subarray(off);
        parts = [rest];
        partsLen = rest.length;
        need = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 4;
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      room.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
