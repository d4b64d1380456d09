import * as net from 'node:net';
import * as tls from 'node:tls';
import { DEFAULT_MAX_FRAME_SIZE } from '@stelar/codec-tcp';
import type { Dialer, Link } from '@stelar/core/internal';
import { guardFirstBytes } from './dial-guard';
import { parseEndpoint, tlsConnectOptions, type DialTlsOptions } from './endpoint';
import { abortError, toDialError } from './errors';
import { defaultReporter, normalizeIp, resolveLinkOptions, type ErrorReporter, type LinkOptions } from './options';
import { TcpLink } from './tcp-link';

export interface DialTcpOptions extends LinkOptions, DialTlsOptions {
  /** Largest frame accepted from the server (totalLen included). Default 16 MiB. */
  maxFrameSize?: number;
  /** Local address to connect from. */
  localAddress?: string;
  /** Errors thrown by the handler. Default: `process.emitWarning`. */
  onError?: ErrorReporter;
}

/**
 * A core `Dialer` for `tcp://host:port` and `tls://host:port`. It resolves once the socket is
 * connected (TLS: handshake done) with a `tcp`/`tls` link; it rejects with a `DialError` on a
 * connect error (`ECONNREFUSED`…; a certificate refusal is `fatal`), and destroys the socket when
 * `signal` aborts. First bytes from the server that cannot start a Stelar frame (an HTTP answer,
 * a TLS alert, a length out of bounds) are reported to the handler as a `NOT_STELAR` protocol
 * error that quotes them (`guardFirstBytes`).
 */
export function dialTcp(url: string | URL, options: DialTcpOptions = {}): Dialer {
  const endpoint = parseEndpoint(url, { plain: 'tcp', secure: 'tls' });
  const limits = resolveLinkOptions(options);
  const report = options.onError ?? defaultReporter;
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const what = `connect to ${endpoint.url.protocol}//${endpoint.url.host}`;
  return (handler, signal) =>
    new Promise<Link>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortError(signal, what));
        return;
      }
      const base: net.NetConnectOpts = { host: endpoint.host, port: endpoint.port };
      if (options.localAddress !== undefined) base.localAddress = options.localAddress;
      const socket = endpoint.secure
        ? tls.connect({ ...base, ...tlsConnectOptions(options, endpoint.host) } as tls.ConnectionOptions)
        : net.connect(base);
      let settled = false;
      const cleanup = (): void => {
        settled = true;
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
      };
      const onAbort = (): void => {
        if (settled) return;
        cleanup();
        socket.destroy();
        reject(abortError(signal, what));
      };
      const onError = (err: Error): void => {
        if (settled) return;
        cleanup();
        socket.destroy();
        reject(toDialError(err, what));
      };
      socket.on('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once(endpoint.secure ? 'secureConnect' : 'connect', () => {
        if (settled) return;
        cleanup();
        const guarded = guardFirstBytes(socket, handler, `${endpoint.url.protocol}//${endpoint.url.host}`, maxFrameSize);
        const link = new TcpLink(
          socket,
          { transport: endpoint.secure ? 'tls' : 'tcp', remoteAddress: normalizeIp(socket.remoteAddress), remotePort: socket.remotePort },
          { maxFrameSize, limits, report },
        );
        link.attach(guarded);
        resolve(link);
      });
    });
}
