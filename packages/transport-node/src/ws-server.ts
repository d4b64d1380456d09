import type { Buffer } from 'node:buffer';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { DisconnectCode } from '@stelar/codec-tcp';
import {
  acceptUpgrade,
  buildHttpErrorResponse,
  inflateMemory,
  PerMessageDeflate,
  ZlibPool,
  type HeaderInit,
  type PerMessageDeflateServerOptions,
  type SubprotocolSelector,
} from '@stelar/codec-ws';
import { InputGuard } from './input-guard';
import { freeSlot, type ConnectionLimits, type ConnectionSlot } from './limits';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  defaultReporter,
  normalizeIp,
  positive,
  resolveLinkOptions,
  type Acceptor,
  type ErrorReporter,
  type LinkOptions,
} from './options';
import { WsConnection } from './ws-connection';
import { WsLink } from './ws-link';

/** permessage-deflate policy of a server: codec-ws negotiation options plus the compressor's. */
export interface WsServerDeflateOptions extends PerMessageDeflateServerOptions {
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib level 0..9. Default zlib's default (6). */
  level?: number;
  /** zlib memLevel 1..9. Default 8. */
  memLevel?: number;
  /** zlib chunk size. Default 16 KiB. */
  chunkSize?: number;
  /**
   * The bound on zlib work and memory shared with other connections (see codec-ws `ZlibPool`):
   * 10 operations at a time and 64 MiB of zlib streams by default, for the whole process
   * (`ZlibPool.shared`). Once half of its memory is reserved by inflaters that keep their
   * context, new connections are answered `client_no_context_takeover`.
   */
  pool?: ZlibPool;
}

export interface WebSocketServerOptions extends LinkOptions {
  /**
   * Which upgrade requests are ours: an exact pathname (query ignored), or a predicate.
   * Default: every path.
   */
  path?: string | ((pathname: string, req: IncomingMessage) => boolean);
  /**
   * Allowed `Origin` values (exact, e.g. `https://app.example.com`), or a predicate; others get
   * 403. A request without `Origin` (not a browser) passes a list; a predicate decides itself.
   * Default: any origin.
   */
  allowOrigins?: readonly string[] | ((origin: string | undefined, req: IncomingMessage) => boolean);
  /** Subprotocols the server speaks (first in the client's order wins), or a selector. Default: none. */
  protocols?: readonly string[] | SubprotocolSelector;
  /** Enable permessage-deflate (`true` = defaults). Default: off. */
  perMessageDeflate?: boolean | WsServerDeflateOptions;
  /** Shared connection limits (see `ConnectionLimits`). Default: none. */
  limits?: ConnectionLimits;
  /**
   * Bounds on unfinished messages: bytes held over all connections, and time to finish a started
   * message (see `InputGuard`). Default: `InputGuard.shared` (64 MiB, 30 s, for the whole process).
   */
  guard?: InputGuard;
  /** Take the client IP from the last `X-Forwarded-For` hop (behind a trusted proxy). Default false. */
  trustProxy?: boolean;
  /**
   * Most time (ms) from socket accept to the upgrade; later upgrades get 408. The header phase
   * itself is bounded by the HTTP server's `headersTimeout`/`requestTimeout`. Default 10 000.
   */
  handshakeTimeout?: number;
  /** Most header fields in an upgrade request (else 431). Default 100. */
  maxHeaderCount?: number;
  /** Most header bytes in an upgrade request (else 431). Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Extra headers on the 101 response. */
  headers?: HeaderInit;
  /** Errors thrown by the acceptor or its handlers. Default: `process.emitWarning`. */
  onError?: ErrorReporter;
}

/** What `attachWebSocket` returns. */
export interface WebSocketHandle {
  /** Stops accepting upgrades (open connections stay; close them through the acceptor). */
  close(): void;
  /** Open WebSocket connections accepted through this handle. */
  readonly connections: number;
}

type AnyServer = HttpServer | HttpsServer;

interface Attachment {
  owns(pathname: string, req: IncomingMessage): boolean;
  handle(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

interface Registry {
  readonly list: Attachment[];
  /** When each socket was accepted (TLS: when its handshake completed). */
  readonly acceptedAt: WeakMap<Socket, number>;
  readonly onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  readonly onConnection: (socket: Socket) => void;
}

const registries = new WeakMap<AnyServer, Registry>();

function pathnameOf(url: string | undefined): string {
  if (!url) return '/';
  if (url.startsWith('/')) {
    const q = url.indexOf('?');
    return q < 0 ? url : url.slice(0, q);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** Writes an HTTP error response and destroys the socket once it is flushed. */
function refuse(socket: Socket, status: number, reason?: string, headers?: HeaderInit): void {
  refuseWith(socket, buildHttpErrorResponse(status, reason, headers));
}

function refuseWith(socket: Socket, response: Buffer): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(response);
}

function destroyOnError(this: Socket): void {
  this.destroy();
}

function registryOf(server: AnyServer): Registry {
  let reg = registries.get(server);
  if (reg) return reg;
  const list: Attachment[] = [];
  const acceptedAt = new WeakMap<Socket, number>();
  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    socket.on('error', destroyOnError);
    const pathname = pathnameOf(req.url);
    for (const a of list) {
      if (a.owns(pathname, req)) {
        a.handle(req, socket, head);
        return;
      }
    }
    // Not ours. Another upgrade listener may want it; if there is none, answer 404.
    if (server.listenerCount('upgrade') > 1) {
      socket.off('error', destroyOnError);
      return;
    }
    refuse(socket, 404, 'No WebSocket endpoint at this path');
  };
  const onConnection = (socket: Socket): void => {
    acceptedAt.set(socket, Date.now());
  };
  reg = { list, acceptedAt, onUpgrade, onConnection };
  registries.set(server, reg);
  server.on('upgrade', onUpgrade);
  server.on('connection', onConnection);
  server.on('secureConnection', onConnection);
  return reg;
}

function detach(server: AnyServer, a: Attachment): void {
  const reg = registries.get(server);
  if (!reg) return;
  const i = reg.list.indexOf(a);
  if (i >= 0) reg.list.splice(i, 1);
  if (reg.list.length > 0) return;
  server.off('upgrade', reg.onUpgrade);
  server.off('connection', reg.onConnection);
  server.off('secureConnection', reg.onConnection);
  registries.delete(server);
}

function lastForwardedHop(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = typeof value === 'string' ? value : value.join(',');
  const hops = joined.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop.length > 0) return hop;
  }
  return undefined;
}

function originAllowed(rule: WebSocketServerOptions['allowOrigins'], req: IncomingMessage): boolean {
  if (rule === undefined) return true;
  const raw = req.headers.origin;
  const origin = typeof raw === 'string' ? raw : undefined;
  if (typeof rule === 'function') return rule(origin, req);
  return origin === undefined || rule.includes(origin);
}

const PROBE_PARAMS = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

function deflateOptionsOf(o: WsServerDeflateOptions): {
  negotiation: PerMessageDeflateServerOptions;
  compressor: { threshold?: number; level?: number; memLevel?: number; chunkSize?: number; pool: ZlibPool };
} {
  const { threshold, level, memLevel, chunkSize, pool, ...negotiation } = o;
  return {
    negotiation,
    compressor: {
      ...(threshold !== undefined ? { threshold } : {}),
      ...(level !== undefined ? { level } : {}),
      ...(memLevel !== undefined ? { memLevel } : {}),
      ...(chunkSize !== undefined ? { chunkSize } : {}),
      pool: pool ?? ZlibPool.shared,
    },
  };
}

/**
 * Serves Stelar over WebSocket on an `http` or `https` server the application owns: it handles
 * only `'upgrade'` events (ordinary requests stay with the application), validates the opening
 * handshake, and turns each accepted connection into a core `Link` handed to `acceptor.accept`.
 *
 * Upgrade requests on paths this handle does not own are left to other `'upgrade'` listeners;
 * when Stelar's are the server's only ones, they are answered 404 and closed.
 */
export function attachWebSocket(server: AnyServer, acceptor: Acceptor, options: WebSocketServerOptions = {}): WebSocketHandle {
  const limits = resolveLinkOptions(options);
  const report = options.onError ?? defaultReporter;
  const handshakeTimeout = positive('handshakeTimeout', options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT);
  const guard = options.guard ?? InputGuard.shared;
  const pathRule = options.path;
  const pmd = options.perMessageDeflate;
  const deflate = pmd ? deflateOptionsOf(pmd === true ? {} : pmd) : undefined;
  const handshakeOptions = {
    ...(options.maxHeaderCount !== undefined ? { maxHeaderCount: options.maxHeaderCount } : {}),
    ...(options.maxHeaderBytes !== undefined ? { maxHeaderBytes: options.maxHeaderBytes } : {}),
    ...(options.protocols !== undefined ? { protocols: options.protocols } : {}),
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(deflate ? { perMessageDeflate: deflate.negotiation } : {}),
  };
  // The same, answering client_no_context_takeover: used while the zlib pool has no room left to
  // reserve inflaters that keep their context.
  const handshakeNoTakeover = deflate ? { ...handshakeOptions, perMessageDeflate: { ...deflate.negotiation, clientNoContextTakeover: true } } : handshakeOptions;
  const pinSize = deflate ? inflateMemory(15, deflate.compressor.chunkSize ?? 16 * 1024) : 0;
  if (deflate) {
    // Fail at attach time, not on each connection, for bad zlib options (the streams are lazy).
    new PerMessageDeflate({ role: 'server', params: PROBE_PARAMS, ...deflate.compressor }).close();
  }
  const reg = registryOf(server);
  let open = 0;
  let closed = false;
  // Called by each link of this attachment once, when its connection has closed.
  const onConnectionClose = (): void => {
    open--;
  };

  const attachment: Attachment = {
    owns: (pathname, req) => {
      if (pathRule === undefined) return true;
      return typeof pathRule === 'string' ? pathname === pathRule : pathRule(pathname, req);
    },
    handle: (req, socket, head) => {
      if (closed) {
        refuse(socket, 503, 'Not accepting connections');
        return;
      }
      let result = acceptUpgrade(req, handshakeOptions);
      if (result.ok && result.deflate && !result.deflate.clientNoContextTakeover && !deflate!.compressor.pool.canPin(pinSize)) {
        result = acceptUpgrade(req, handshakeNoTakeover);
      }
      if (!result.ok) {
        refuseWith(socket, result.response);
        return;
      }
      if (!originAllowed(options.allowOrigins, req)) {
        refuse(socket, 403, 'Origin not allowed');
        return;
      }
      const acceptedAt = reg.acceptedAt.get(socket);
      reg.acceptedAt.delete(socket); // only the upgrade needs it: no entry per open connection
      if (acceptedAt !== undefined && Date.now() - acceptedAt > handshakeTimeout) {
        refuse(socket, 408, 'WebSocket handshake timeout');
        return;
      }
      const forwarded = options.trustProxy ? lastForwardedHop(req.headers['x-forwarded-for']) : undefined;
      const ip = normalizeIp(forwarded ?? socket.remoteAddress);
      let slot: ConnectionSlot;
      if (options.limits) {
        const got = options.limits.acquire(ip);
        if (typeof got === 'string') {
          refuse(socket, 503, got === 'max-connections' ? 'Too many connections' : 'Too many connections from this address', {
            'Retry-After': '1',
          });
          return;
        }
        slot = got;
      } else slot = freeSlot(ip);

      socket.off('error', destroyOnError);
      let link: WsLink;
      let pmd: PerMessageDeflate | undefined;
      try {
        socket.write(result.response);
        pmd = result.deflate ? new PerMessageDeflate({ role: 'server', params: result.deflate, ...deflate?.compressor }) : undefined;
        const conn = new WsConnection(socket, {
          role: 'server',
          deflate: pmd,
          maxMessageSize: Math.max(0, acceptor.maxFrameSize - 4),
          closeTimeout: limits.closeTimeout,
          head,
          protocol: result.protocol,
          guard,
        });
        link = new WsLink(
          conn,
          {
            transport: (socket as TLSSocket).encrypted === true ? 'wss' : 'ws',
            remoteAddress: ip,
            remotePort: forwarded === undefined ? socket.remotePort : undefined,
            upgradeRequest: { url: req.url ?? '/', headers: req.headers },
          },
          { maxFrameSize: acceptor.maxFrameSize, limits, report, slot, onClosed: onConnectionClose },
        );
        open++;
      } catch (err) {
        slot.release();
        pmd?.close();
        socket.destroy();
        report(err);
        return;
      }
      try {
        link.attach(acceptor.accept(link));
      } catch (err) {
        report(err);
        link.close(DisconnectCode.INTERNAL_ERROR, 'internal error');
      }
    },
  };
  reg.list.push(attachment);

  return {
    close: () => {
      if (closed) return;
      closed = true;
      detach(server, attachment);
    },
    get connections() {
      return open;
    },
  };
}
