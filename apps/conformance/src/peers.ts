/**
 * The Stelar peers under test: the transport's raw `WsConnection` (the RFC 6455 connection
 * `attachWebSocket` and `dialWebSocket` are built on) wired as an echo endpoint in each role,
 * exactly as those two wire it: codec-ws handshake helpers, `PerMessageDeflate` when negotiated,
 * `WsConnection` for framing, closing and limits.
 *
 * - Server role: an `http` server whose `'upgrade'` handler runs `acceptUpgrade` and echoes every
 *   message. The path `/frag/<n>` makes it echo in frames of at most n bytes (auto-fragmentation).
 * - Client role: a dialer like transport-node's (`http.request` upgrade, `verifyUpgradeResponse`)
 *   whose connection echoes every message back to the server.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  acceptUpgrade,
  createClientHandshake,
  PerMessageDeflate,
  verifyUpgradeResponse,
  type PerMessageDeflateClientOptions,
  type PerMessageDeflateServerOptions,
} from '@stelar/codec-ws';
import { WsConnection } from '@stelar/transport-node';

/** Largest message the echo peers take (the codec's default): 16 MiB. */
export const ECHO_MAX_MESSAGE = 16 * 1024 * 1024;

/** Echo every message of `conn`, whole or in frames of at most `fragment` bytes. */
function echo(conn: WsConnection, fragment: number | undefined): void {
  conn.on('message', (data, isBinary) => {
    if (!fragment || data.length <= fragment) {
      conn.send(data, { binary: isBinary });
      return;
    }
    for (let off = 0; off < data.length; off += fragment) {
      const end = Math.min(off + fragment, data.length);
      conn.send(data.subarray(off, end), { binary: isBinary, fin: end === data.length });
    }
  });
}

function fragmentOf(path: string | undefined): number | undefined {
  const m = /^\/frag\/(\d+)/.exec(path ?? '');
  return m ? Number(m[1]) : undefined;
}

export interface EchoServer {
  port: number;
  /** Connections currently open. */
  readonly open: number;
  /** Resolves with the ms it took until no connection is open, or undefined after `timeout`. */
  idle(timeout: number): Promise<number | undefined>;
  close(): Promise<void>;
}

export interface EchoServerOptions {
  /** permessage-deflate policy; `false` to disable. Default: enabled with codec defaults. */
  deflate?: PerMessageDeflateServerOptions | false;
  /** Compression threshold of the echo. Default 0: every echoed message is compressed. */
  threshold?: number;
  maxMessageSize?: number;
  closeTimeout?: number;
}

/** Starts the Stelar echo server on 127.0.0.1 (a free port). */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const conns = new Set<WsConnection>();
  const idleWaiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const hs = acceptUpgrade(req, options.deflate === false ? {} : { perMessageDeflate: options.deflate ?? true });
    if (!hs.ok) {
      socket.end(hs.response);
      return;
    }
    socket.write(hs.response);
    const conn = new WsConnection(socket, {
      role: 'server',
      deflate: hs.deflate ? new PerMessageDeflate({ role: 'server', params: hs.deflate, threshold: options.threshold ?? 0 }) : undefined,
      maxMessageSize: options.maxMessageSize ?? ECHO_MAX_MESSAGE,
      closeTimeout: options.closeTimeout ?? 2000,
      head,
    });
    conns.add(conn);
    conn.once('close', () => {
      conns.delete(conn);
      if (conns.size === 0) for (const w of [...idleWaiters]) w();
    });
    echo(conn, fragmentOf(req.url));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get open() {
      return conns.size;
    },
    idle: (timeout) => {
      const start = performance.now();
      if (conns.size === 0) return Promise.resolve(0);
      return new Promise<number | undefined>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          idleWaiters.delete(done);
          resolve(conns.size === 0 ? Math.round(performance.now() - start) : undefined);
        };
        const timer = setTimeout(done, timeout);
        idleWaiters.add(done);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface EchoClientOptions {
  path?: string;
  /** Offer permessage-deflate. */
  deflate?: PerMessageDeflateClientOptions | boolean;
  /** Echo in frames of at most this many bytes. */
  fragment?: number;
  threshold?: number;
  maxMessageSize?: number;
  closeTimeout?: number;
}

export type EchoClientResult =
  | { ok: true; conn: WsConnection; closed: Promise<{ code: number; reason: string }> }
  | { ok: false; error: string };

/** Dials the tester (acting as a server) as a Stelar WebSocket client that echoes. */
export function dialEchoClient(port: number, options: EchoClientOptions = {}): Promise<EchoClientResult> {
  const hs = createClientHandshake({
    host: `127.0.0.1:${port}`,
    path: options.path ?? '/',
    ...(options.deflate ? { perMessageDeflate: options.deflate } : {}),
  });
  return new Promise<EchoClientResult>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: options.path ?? '/', headers: hs.headers, agent: false });
    req.on('error', (err) => resolve({ ok: false, error: err.message }));
    req.on('response', (res) => {
      res.resume();
      resolve({ ok: false, error: `HTTP ${res.statusCode}` });
    });
    req.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const v = verifyUpgradeResponse(hs, res);
      if (!v.ok) {
        socket.destroy();
        resolve({ ok: false, error: `${v.error.code}: ${v.error.message}` });
        return;
      }
      const conn = new WsConnection(socket, {
        role: 'client',
        deflate: v.deflate ? new PerMessageDeflate({ role: 'client', params: v.deflate, threshold: options.threshold ?? 0 }) : undefined,
        maxMessageSize: options.maxMessageSize ?? ECHO_MAX_MESSAGE,
        closeTimeout: options.closeTimeout ?? 2000,
        head,
      });
      const closed = new Promise<{ code: number; reason: string }>((r) => conn.once('close', (code, reason) => r({ code, reason })));
      echo(conn, options.fragment);
      resolve({ ok: true, conn, closed });
    });
    req.end();
  });
}
