/**
 * Client side of the opening handshake (RFC 6455 §4.1): request building and response checks.
 */
import { randomBytes } from 'node:crypto';
import { WsHandshakeError } from './errors';
import { formatExtension, isToken, parseExtensions } from './extensions';
import type { ExtensionOffer } from './extensions';
import { computeAcceptKey } from './handshake-server';
import { getHeader, isSafeHeaderValue, listHasToken, serializeHeaders } from './http';
import type { HeaderInit, HttpHeaders } from './http';
import { acceptDeflateResponse, createDeflateOffer, PERMESSAGE_DEFLATE, type DeflateParams, type PerMessageDeflateClientOptions } from './deflate-negotiation';

/** Options of {@link createClientHandshake}. */
export interface ClientHandshakeOptions {
  /** `Host` header value: `host[:port]`. */
  host: string;
  /** Request target (path and query). Default `/`. */
  path?: string;
  /** `Origin` header, if any. */
  origin?: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** Offer permessage-deflate (`true` = default offer). Default: not offered. */
  perMessageDeflate?: PerMessageDeflateClientOptions | boolean;
  /** Extra request headers (e.g. Authorization). Handshake headers may not be overridden. */
  headers?: HeaderInit;
  /** Fixed `Sec-WebSocket-Key` (tests); default 16 random bytes, base64. */
  key?: string;
}

/** A prepared client handshake: send `request` (or `headers` via `http.request`), keep the rest. */
export interface ClientHandshake {
  key: string;
  /** The `Sec-WebSocket-Accept` the server must answer. */
  expectedAccept: string;
  protocols: readonly string[];
  /** The permessage-deflate options offered, if any. */
  deflateOffer: PerMessageDeflateClientOptions | undefined;
  /** The handshake headers (plus custom ones), for `http.request({ headers })`. */
  headers: Record<string, string>;
  /** The full request head, for writing on a raw socket. */
  request: Buffer;
}

const RESERVED_REQUEST = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

function invalid(message: string): WsHandshakeError {
  return new WsHandshakeError('WS_HANDSHAKE_INVALID_ARGUMENT', message);
}

/**
 * Builds a client opening handshake with a random key. Throws `WS_HANDSHAKE_INVALID_ARGUMENT`
 * for invalid or duplicate subprotocols, unsafe header values or a reserved custom header.
 */
export function createClientHandshake(options: ClientHandshakeOptions): ClientHandshake {
  const key = options.key ?? randomBytes(16).toString('base64');
  const path = options.path ?? '/';
  if (!path.startsWith('/') || !isSafeHeaderValue(path) || path.includes(' ')) throw invalid('Invalid path');
  if (!options.host || !isSafeHeaderValue(options.host)) throw invalid('Invalid host');
  const protocols = options.protocols ?? [];
  const seen = new Set<string>();
  for (const p of protocols) {
    if (!isToken(p)) throw invalid(`Invalid subprotocol ${JSON.stringify(p)}`);
    if (seen.has(p)) throw invalid(`Duplicate subprotocol ${p}`);
    seen.add(p);
  }
  const headers: Record<string, string> = {
    Host: options.host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
  };
  if (options.origin !== undefined) {
    if (!isSafeHeaderValue(options.origin)) throw invalid('Invalid origin');
    headers['Origin'] = options.origin;
  }
  if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
  let deflateOffer: PerMessageDeflateClientOptions | undefined;
  if (options.perMessageDeflate) {
    deflateOffer = options.perMessageDeflate === true ? {} : options.perMessageDeflate;
    headers['Sec-WebSocket-Extensions'] = formatExtension(createDeflateOffer(deflateOffer));
  }
  const reserved = options.origin !== undefined ? new Set([...RESERVED_REQUEST, 'origin']) : RESERVED_REQUEST;
  const custom = serializeHeaders(options.headers, reserved);
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const name of Object.keys(headers)) head += `${name}: ${headers[name]}\r\n`;
  head += custom + '\r\n';
  if (options.headers) {
    for (const name of Object.keys(options.headers)) {
      const v = options.headers[name]!;
      headers[name] = typeof v === 'string' || typeof v === 'number' ? String(v) : v.join(', ');
    }
  }
  return {
    key,
    expectedAccept: computeAcceptKey(key),
    protocols,
    deflateOffer,
    headers,
    request: Buffer.from(head, 'latin1'),
  };
}

/** The parts of the server's response checked (Node's `IncomingMessage` fits). */
export interface UpgradeResponseLike {
  statusCode?: number | undefined;
  headers: HttpHeaders;
}

/** Result of {@link verifyUpgradeResponse}. */
export type ClientHandshakeResult =
  | {
      ok: true;
      /** The subprotocol the server selected, if any. */
      protocol: string | undefined;
      /** Negotiated permessage-deflate parameters, if accepted. */
      deflate: DeflateParams | undefined;
      /** All accepted extensions, parsed. */
      extensions: ExtensionOffer[];
    }
  | { ok: false; error: WsHandshakeError };

/**
 * Checks the server's answer (§4.1): status 101, `Upgrade: websocket`, `Connection: upgrade`,
 * the accept key, a subprotocol among those offered (and none if none offered), and only
 * extensions we offered with valid parameters. Never throws.
 */
export function verifyUpgradeResponse(handshake: ClientHandshake, response: UpgradeResponseLike): ClientHandshakeResult {
  const fail = (code: WsHandshakeError['code'], message: string): ClientHandshakeResult => ({
    ok: false,
    error: new WsHandshakeError(code, message),
  });
  if (response.statusCode !== 101) {
    return fail('WS_HANDSHAKE_BAD_STATUS', `Expected status 101, got ${String(response.statusCode)}`);
  }
  const h = response.headers;
  // §4.1: the value must match "websocket" exactly (ASCII case-insensitive), not merely contain it.
  if (getHeader(h, 'upgrade')?.trim().toLowerCase() !== 'websocket') {
    return fail('WS_HANDSHAKE_BAD_UPGRADE', 'Response Upgrade header is not "websocket"');
  }
  if (!listHasToken(getHeader(h, 'connection'), 'upgrade')) {
    return fail('WS_HANDSHAKE_BAD_CONNECTION', 'Response Connection header lacks "upgrade"');
  }
  if (getHeader(h, 'sec-websocket-accept')?.trim() !== handshake.expectedAccept) {
    return fail('WS_HANDSHAKE_BAD_ACCEPT', 'Sec-WebSocket-Accept does not match the key');
  }
  let protocol: string | undefined;
  const protoHeader = getHeader(h, 'sec-websocket-protocol');
  if (protoHeader !== undefined) {
    const p = protoHeader.trim();
    if (!handshake.protocols.includes(p)) {
      return fail('WS_HANDSHAKE_UNEXPECTED_PROTOCOL', `Server selected a subprotocol we did not offer: ${JSON.stringify(p)}`);
    }
    protocol = p;
  }
  let extensions: ExtensionOffer[] = [];
  let deflate: DeflateParams | undefined;
  const extHeader = getHeader(h, 'sec-websocket-extensions');
  if (extHeader !== undefined) {
    const parsed = parseExtensions(extHeader);
    if (!parsed.ok) return fail('WS_HANDSHAKE_BAD_EXTENSIONS', `Invalid Sec-WebSocket-Extensions: ${parsed.reason}`);
    extensions = parsed.offers;
    for (const ext of extensions) {
      if (ext.name !== PERMESSAGE_DEFLATE || handshake.deflateOffer === undefined) {
        return fail('WS_HANDSHAKE_UNEXPECTED_EXTENSION', `Server accepted an extension we did not offer: ${ext.name}`);
      }
      if (deflate !== undefined) {
        return fail('WS_HANDSHAKE_UNEXPECTED_EXTENSION', 'permessage-deflate accepted twice');
      }
      const params = acceptDeflateResponse(ext, handshake.deflateOffer);
      if (params instanceof WsHandshakeError) return { ok: false, error: params };
      deflate = params;
    }
  }
  return { ok: true, protocol, deflate, extensions };
}
