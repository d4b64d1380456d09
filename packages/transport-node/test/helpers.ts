import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { encodeJson, type Frame } from '@stelar/codec-tcp';
import type { Link, LinkHandler } from '@stelar/core/internal';
import { until } from '@stelar/test-utils';

export interface ProtocolErrorInfo {
  code: string;
  message: string;
  closeCode: number;
}

/** What a handler saw on one link. */
export class Peer implements LinkHandler {
  readonly frames: Frame[] = [];
  readonly sizes: number[] = [];
  readonly errors: ProtocolErrorInfo[] = [];
  pongs = 0;
  drains = 0;
  closeCount = 0;
  closed: { code: number; reason: string } | null = null;
  link!: Link;
  /** Echo every JSON/BINARY frame back (re-encoded). */
  echo = false;
  /** Close the link on a protocol error, as core does. */
  closeOnError = true;

  onFrame(frame: Frame, size: number): void {
    this.frames.push({ type: frame.type, event: frame.event, payload: frame.payload.slice() });
    this.sizes.push(size);
    if (this.echo && frame.type === 0x01) this.link.send(encodeJson(frame.event, JSON.parse(new TextDecoder().decode(frame.payload)) as unknown));
  }
  onProtocolError(error: ProtocolErrorInfo): void {
    this.errors.push(error);
    if (this.closeOnError) this.link.close(error.closeCode, error.message);
  }
  onPong(): void {
    this.pongs++;
  }
  onDrain(): void {
    this.drains++;
  }
  onClose(code: number, reason: string): void {
    this.closeCount++;
    this.closed = { code, reason };
  }
  jsonEvents(): Array<[string, unknown]> {
    return this.frames.filter((f) => f.type === 0x01).map((f) => [f.event, f.payload.length ? JSON.parse(new TextDecoder().decode(f.payload)) : undefined]);
  }
}

/** A stand-in for the hub: records each link's events. */
export class FakeAcceptor {
  readonly maxFrameSize: number;
  readonly peers: Peer[] = [];
  echo: boolean;
  constructor(options: { maxFrameSize?: number; echo?: boolean } = {}) {
    this.maxFrameSize = options.maxFrameSize ?? 1024 * 1024;
    this.echo = options.echo ?? false;
  }
  accept(link: Link): LinkHandler {
    const peer = new Peer();
    peer.link = link;
    peer.echo = this.echo;
    this.peers.push(peer);
    return peer;
  }
  /** Waits for the n-th link (0-based). */
  async peer(n = 0): Promise<Peer> {
    await until(() => this.peers.length > n, `link #${n}`);
    return this.peers[n]!;
  }
}

/** An http server on 127.0.0.1:0 answering ordinary requests with 200 "hello". */
export async function httpServer(): Promise<{ server: http.Server; port: number; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface UpgradeAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket?: Socket;
}

export const GOOD_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Sends an upgrade request with `headers` (defaults: a valid WebSocket handshake) and reports the answer. */
export function upgrade(port: number, options: { path?: string; headers?: Record<string, string>; localAddress?: string; omit?: string[] } = {}): Promise<UpgradeAnswer> {
  const headers: Record<string, string> = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': GOOD_KEY,
    ...options.headers,
  };
  for (const h of options.omit ?? []) delete headers[h];
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: options.path ?? '/', headers, agent: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('upgrade', (res, socket) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', socket });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Bytes of a frame's payload as a JSON value. */
export function json(frame: Frame | undefined): unknown {
  if (!frame) return undefined;
  return JSON.parse(new TextDecoder().decode(frame.payload)) as unknown;
}

/** A handler for dialed links (same recorder). */
export function clientPeer(): Peer {
  return new Peer();
}

/** Dials with a fresh AbortController; binds the link into the peer. */
export async function dialInto(dialer: (h: LinkHandler, s: AbortSignal) => Promise<Link>, peer = new Peer()): Promise<Peer> {
  peer.link = await dialer(peer, new AbortController().signal);
  return peer;
}
