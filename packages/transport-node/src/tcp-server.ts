import * as net from 'node:net';
import * as tls from 'node:tls';
import { DisconnectCode, encodeDisconnect } from '@stelar/codec-tcp';
import { InputGuard } from './input-guard';
import { freeSlot, type ConnectionLimits, type ConnectionSlot } from './limits';
import { defaultReporter, normalizeIp, resolveLinkOptions, type Acceptor, type ErrorReporter, type LinkOptions } from './options';
import { TcpLink } from './tcp-link';

export interface TcpListenOptions extends LinkOptions {
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** Address to bind. Default: Node's (all interfaces). */
  host?: string;
  /** `listen` backlog. Default: Node's (511). */
  backlog?: number;
  /**
   * Serve TLS with these options (`key`, `cert`, `ca`, `requestCert`, …, passed to
   * `tls.createServer`); a TLS set-up error rejects `listenTcp`. `handshakeTimeout` defaults to
   * 10 000 ms here. Default: plain TCP.
   */
  tls?: tls.TlsOptions;
  /** Shared connection limits (see `ConnectionLimits`). Default: none. */
  limits?: ConnectionLimits;
  /**
   * Bounds on unfinished frames: bytes held over all connections, and time to finish a started
   * frame (see `InputGuard`). Default: `InputGuard.shared` (64 MiB, 30 s, for the whole process).
   */
  guard?: InputGuard;
  /** Errors thrown by the acceptor or its handlers. Default: `process.emitWarning`. */
  onError?: ErrorReporter;
}

/** A listening TCP/TLS server. */
export interface TcpListener {
  /** The bound port. */
  readonly port: number;
  address(): net.AddressInfo;
  /**
   * Stops accepting, closes the remaining connections with 1001 (GOING_AWAY; drain the hub first
   * for a graceful shutdown) and resolves once every socket is gone (bounded by `closeTimeout`).
   */
  close(): Promise<void>;
  /** Open connections. */
  readonly connections: number;
}

/**
 * Listens for Stelar over TCP (or TLS with `options.tls`); each connection becomes a core `Link`
 * (transport `'tcp'` or `'tls'`) handed to `acceptor.accept`. Rejects on a bind error
 * (EADDRINUSE, EACCES…) or a TLS set-up error — it never picks another port or falls back to
 * plain text.
 */
export function listenTcp(acceptor: Acceptor, options: TcpListenOptions = {}): Promise<TcpListener> {
  let limits: ReturnType<typeof resolveLinkOptions>;
  let server: net.Server;
  try {
    limits = resolveLinkOptions(options);
    server = options.tls
      ? tls.createServer({ handshakeTimeout: 10_000, ...options.tls })
      : net.createServer();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  const report = options.onError ?? defaultReporter;
  const guard = options.guard ?? InputGuard.shared;
  const transport = options.tls ? 'tls' : 'tcp';
  const links = new Set<TcpLink>();
  const sockets = new Set<net.Socket>();
  let stopping = false;
  let onSocketGone: () => void = () => undefined;

  // Listeners shared by the connections of this listener (`this` is the socket), and the link's
  // own close hook: no closure, `once` wrapper or bound function per connection.
  function onRawClose(this: net.Socket): void {
    sockets.delete(this);
    onSocketGone();
  }
  const onLinkGone = (link: TcpLink): void => {
    links.delete(link);
    onSocketGone();
  };
  // Every accepted TCP socket (under TLS: the raw one), to bound `close()`.
  server.on('connection', (raw: net.Socket) => {
    sockets.add(raw);
    raw.on('close', onRawClose);
  });
  const onSocket = (socket: net.Socket): void => {
    socket.on('error', destroyOnError);
    const ip = normalizeIp(socket.remoteAddress);
    const got = options.limits ? options.limits.acquire(ip) : freeSlot(ip);
    if (stopping || typeof got === 'string') {
      const reason = stopping ? 'server shutting down' : got === 'max-connections' ? 'too many connections' : 'too many connections from this address';
      refuse(socket, stopping ? DisconnectCode.GOING_AWAY : DisconnectCode.TRY_AGAIN_LATER, reason, limits.closeTimeout);
      if (typeof got !== 'string') got.release();
      return;
    }
    const slot: ConnectionSlot = got;
    const link = new TcpLink(
      socket,
      { transport, remoteAddress: ip, remotePort: socket.remotePort },
      { maxFrameSize: acceptor.maxFrameSize, limits, report, slot, guard, onGone: onLinkGone },
    );
    // The link destroys the socket on error from now on.
    socket.off('error', destroyOnError);
    links.add(link);
    try {
      link.attach(acceptor.accept(link));
    } catch (err) {
      report(err);
      link.close(DisconnectCode.INTERNAL_ERROR, 'internal error');
    }
  };
  if (options.tls) server.on('secureConnection', onSocket);
  else server.on('connection', onSocket);
  // TLS handshake failures: the socket is already being destroyed; keep them off 'error'.
  server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());

  return new Promise<TcpListener>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      server.close();
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      server.on('error', (err) => report(err));
      const addr = server.address() as net.AddressInfo;
      let closing: Promise<void> | undefined;
      resolve({
        port: addr.port,
        address: () => server.address() as net.AddressInfo,
        get connections() {
          return links.size;
        },
        close: () =>
          (closing ??= new Promise<void>((done) => {
            stopping = true;
            // Whatever is left after the close timeout (a TLS handshake in progress, a peer that
            // never answers) is destroyed, so this always resolves.
            const timer = setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, limits.closeTimeout);
            // net.Server's close callback comes before the sockets' own 'close' events: wait
            // for those too, so every link has reported onClose when this resolves.
            let serverClosed = false;
            const check = (): void => {
              if (!serverClosed || sockets.size > 0 || links.size > 0) return;
              clearTimeout(timer);
              done();
            };
            onSocketGone = check;
            server.close(() => {
              serverClosed = true;
              check();
            });
            for (const link of [...links]) link.close(DisconnectCode.GOING_AWAY, 'server shutting down');
          })),
      });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    const listenOptions: net.ListenOptions = { port: options.port ?? 0 };
    if (options.host !== undefined) listenOptions.host = options.host;
    if (options.backlog !== undefined) listenOptions.backlog = options.backlog;
    server.listen(listenOptions);
  });
}

function destroyOnError(this: net.Socket): void {
  this.destroy();
}

/** Tells an over-limit peer why (DISCONNECT) and closes; destroys it if it lingers. */
function refuse(socket: net.Socket, code: number, reason: string, closeTimeout: number): void {
  socket.resume(); // discard whatever it sends
  socket.end(encodeDisconnect(code, reason));
  const timer = setTimeout(() => socket.destroy(), closeTimeout);
  timer.unref?.();
  socket.once('close', () => clearTimeout(timer));
}
