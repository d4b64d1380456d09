import { Buffer } from 'node:buffer';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { DEFAULT_MAX_FRAME_SIZE, ErrorCode } from '@stelar/codec-tcp';
import {
  createClientHandshake,
  PerMessageDeflate,
  verifyUpgradeResponse,
  type HeaderInit,
  type PerMessageDeflateClientOptions,
} from '@stelar/codec-ws';
import type { Dialer, Link } from '@stelar/core/internal';
import { parseEndpoint, tlsConnectOptions, type DialTlsOptions } from './endpoint';
import { abortError, DialError, toDialError } from './errors';
import { defaultReporter, normalizeIp, resolveLinkOptions, type ErrorReporter, type LinkOptions } from './options';
import { WsConnection } from './ws-connection';
import { WsLink } from './ws-link';

/** What a client offers for permessage-deflate, plus its compressor settings. */
export interface WsClientDeflateOptions extends PerMessageDeflateClientOptions {
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib level 0..9. Default zlib's default. */
  level?: number;
  /** zlib memLevel 1..9. Default 8. */
  memLevel?: number;
}

export interface DialWebSocketOptions extends LinkOptions, DialTlsOptions {
  /** Extra request headers (e.g. `Authorization`, `Cookie`). */
  headers?: HeaderInit;
  /** `Origin` header. Default: none. */
  origin?: string;
  /** Subprotocols to offer, in order of preference. Default: none. */
  protocols?: readonly string[];
  /** Offer permessage-deflate (`true` = the default offer). Default: not offered. */
  perMessageDeflate?: boolean | WsClientDeflateOptions;
  /** Largest Stelar frame accepted from the server (totalLen included). Default 16 MiB. */
  maxFrameSize?: number;
  /** Local address to connect from. */
  localAddress?: string;
  /** Errors thrown by the handler. Default: `process.emitWarning`. */
  onError?: ErrorReporter;
}

const PROBE_PARAMS = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

/** Most bytes of a refusal's body quoted in the error message. */
const BODY_QUOTE_MAX = 512;

/** An HTTP status that retrying will not fix. */
function isFatalStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * A successful or redirecting answer to an upgrade request (2xx, 3xx): the URL serves something
 * that is not a WebSocket endpoint, so not a Stelar server (`NOT_STELAR`, fatal).
 */
function isNotWebSocket(status: number): boolean {
  return status >= 200 && status < 400;
}

/**
 * A core `Dialer` for `ws://` and `wss://` URLs: an HTTP/1.1 upgrade (over `http`/`https`, on a
 * fresh connection), checked with codec-ws; it resolves with a client-role `ws`/`wss` link.
 *
 * Rejections are `DialError`s: a non-101 answer carries `status` (and `fatal` for 4xx other than
 * 408 and 429), a certificate refusal is `fatal`, a bad 101 answer has the codec's `WS_HANDSHAKE_*`
 * code. An answer that shows the URL is not a Stelar server is `NOT_STELAR` and `fatal`: a 2xx or
 * 3xx instead of 101, or bytes that are not HTTP at all (e.g. a `tcp://` port). Aborting `signal`
 * destroys the request.
 */
export function dialWebSocket(url: string | URL, options: DialWebSocketOptions = {}): Dialer {
  const endpoint = parseEndpoint(url, { plain: 'ws', secure: 'wss', defaultPorts: [80, 443] });
  const limits = resolveLinkOptions(options);
  const report = options.onError ?? defaultReporter;
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const pmd = options.perMessageDeflate === true ? {} : options.perMessageDeflate || undefined;
  const offer: PerMessageDeflateClientOptions | undefined = pmd
    ? (({ threshold: _t, level: _l, memLevel: _m, ...negotiation }) => negotiation)(pmd)
    : undefined;
  const compressor = {
    ...(pmd?.threshold !== undefined ? { threshold: pmd.threshold } : {}),
    ...(pmd?.level !== undefined ? { level: pmd.level } : {}),
    ...(pmd?.memLevel !== undefined ? { memLevel: pmd.memLevel } : {}),
  };
  // Bad zlib options fail here, once, not after each handshake (the streams are lazy).
  if (pmd) new PerMessageDeflate({ role: 'client', params: PROBE_PARAMS, ...compressor }).close();
  const where = `${endpoint.url.protocol}//${endpoint.url.host}${endpoint.url.pathname}`;
  const what = `WebSocket dial to ${where}`;

  return (handler, signal) =>
    new Promise<Link>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortError(signal, what));
        return;
      }
      let handshake: ReturnType<typeof createClientHandshake>;
      try {
        handshake = createClientHandshake({
          host: endpoint.url.host,
          path: (endpoint.url.pathname || '/') + endpoint.url.search,
          ...(options.origin !== undefined ? { origin: options.origin } : {}),
          ...(options.protocols !== undefined ? { protocols: options.protocols } : {}),
          ...(offer !== undefined ? { perMessageDeflate: offer } : {}),
          ...(options.headers !== undefined ? { headers: options.headers } : {}),
        });
      } catch (err) {
        reject(new DialError(`${what}: ${(err as Error).message}`, { code: 'BAD_OPTIONS', fatal: true, cause: err }));
        return;
      }
      const requestOptions: https.RequestOptions = {
        host: endpoint.host,
        port: endpoint.port,
        path: (endpoint.url.pathname || '/') + endpoint.url.search,
        method: 'GET',
        headers: handshake.headers,
        agent: false,
        ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
        ...(endpoint.secure ? tlsConnectOptions(options, endpoint.host) : {}),
      };
      const req = (endpoint.secure ? https : http).request(requestOptions);
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        reject(err);
      };
      const onAbort = (): void => fail(abortError(signal, what));
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && code.startsWith('HPE_')) {
          // Node's HTTP parser refused the answer: whatever listens there does not speak HTTP.
          fail(new DialError(`${what}: not a Stelar server: its answer is not HTTP (${err.message}); a tcp:// or tls:// port?`, { code: ErrorCode.NOT_STELAR, fatal: true, cause: err }));
        } else fail(toDialError(err, what));
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const refused = (): void => {
          const body = Buffer.concat(chunks).toString('utf8').slice(0, BODY_QUOTE_MAX).trim();
          const answer = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${body ? ` (${body})` : ''}`;
          fail(
            isNotWebSocket(status)
              ? new DialError(`${what}: not a Stelar server: it answered ${answer} instead of switching protocols${res.headers.location ? ` (Location: ${res.headers.location.slice(0, BODY_QUOTE_MAX)})` : ''}`, {
                  code: ErrorCode.NOT_STELAR,
                  status,
                  fatal: true,
                })
              : new DialError(`${what} refused: ${answer}`, { code: 'WS_UPGRADE_REFUSED', status, fatal: isFatalStatus(status) }),
          );
        };
        res.on('data', (chunk: Buffer) => {
          if (size < BODY_QUOTE_MAX) chunks.push(chunk);
          size += chunk.length;
          if (size >= BODY_QUOTE_MAX) refused();
        });
        res.on('end', refused);
        res.on('error', refused);
        res.on('close', refused);
      });
      req.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
        if (settled) {
          socket.destroy();
          return;
        }
        const verdict = verifyUpgradeResponse(handshake, res);
        if (!verdict.ok) {
          socket.destroy();
          fail(new DialError(`${what}: ${verdict.error.message}`, { code: verdict.error.code, status: 101, cause: verdict.error }));
          return;
        }
        settled = true;
        signal.removeEventListener('abort', onAbort);
        let deflate: PerMessageDeflate | undefined;
        if (verdict.deflate) {
          deflate = new PerMessageDeflate({ role: 'client', params: verdict.deflate, ...compressor });
        }
        const conn = new WsConnection(socket, {
          role: 'client',
          deflate,
          maxMessageSize: Math.max(0, maxFrameSize - 4),
          closeTimeout: limits.closeTimeout,
          head,
          protocol: verdict.protocol,
        });
        const link = new WsLink(
          conn,
          {
            transport: endpoint.secure ? 'wss' : 'ws',
            remoteAddress: normalizeIp(socket.remoteAddress),
            remotePort: socket.remotePort,
          },
          { maxFrameSize, limits, report },
        );
        link.attach(handler);
        resolve(link);
      });
      req.end();
    });
}
