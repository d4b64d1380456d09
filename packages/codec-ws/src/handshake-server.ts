/**
 * Server side of the opening handshake (RFC 6455 §4.2).
 */
import { createHash } from 'node:crypto';
import { WsHandshakeError } from './errors';
import type { WsHandshakeErrorCode } from './errors';
import { formatExtensions, isToken, parseExtensions } from './extensions';
import type { ExtensionOffer, ExtensionParseLimits } from './extensions';
import { getHeader, listHasToken, serializeHeaders, splitList, STATUS_TEXT } from './http';
import type { HeaderInit, HttpHeaders } from './http';
import { negotiateDeflateServer, PERMESSAGE_DEFLATE, type DeflateParams, type PerMessageDeflateServerOptions } from './deflate-negotiation';

/** The GUID of RFC 6455 §1.3, appended to the key before hashing. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)). */
export function computeAcceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID, 'latin1').digest('base64');
}

const B64 = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64[ch.charCodeAt(0)] = 1;

/**
 * Whether `key` is the canonical base64 encoding of exactly 16 bytes (24 characters ending in
 * `==`, the last data character carrying no stray bits).
 */
export function isValidWebSocketKey(key: string): boolean {
  if (key.length !== 24 || key[22] !== '=' || key[23] !== '=') return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    if (c >= 128 || B64[c] !== 1) return false;
  }
  // 16 bytes = 128 bits; the 22nd character holds 2 bits, its low 4 bits must be 0.
  return 'AQgw'.includes(key[21]!);
}

/** The parts of an upgrade request the validator reads (Node's `IncomingMessage` fits). */
export interface UpgradeRequestLike {
  method?: string | undefined;
  /** e.g. `'1.1'`. */
  httpVersion?: string | undefined;
  /** Lower-case names, like `IncomingMessage.headers`. */
  headers: HttpHeaders;
  /** Alternating names and values, like `IncomingMessage.rawHeaders` (used for the limits). */
  rawHeaders?: readonly string[] | undefined;
}

/** Limits of {@link validateUpgradeRequest}. */
export interface ServerHandshakeOptions {
  /** Most header fields. Default 100. */
  maxHeaderCount?: number;
  /** Most header bytes (names + values + 4 per line). Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Most subprotocols offered. Default 32. */
  maxProtocols?: number;
  /** Limits of the `Sec-WebSocket-Extensions` parser. */
  extensionLimits?: ExtensionParseLimits;
}

/** A rejected handshake: what to answer (see {@link buildHttpErrorResponse}). */
export interface HandshakeRejection {
  ok: false;
  status: number;
  /** Extra response headers (e.g. `Sec-WebSocket-Version: 13` with 426). */
  headers: Record<string, string>;
  reason: string;
  code: WsHandshakeErrorCode;
}

/** Result of {@link validateUpgradeRequest}. */
export type ServerHandshakeResult =
  | {
      ok: true;
      /** The client's `Sec-WebSocket-Key`. */
      key: string;
      /** The matching `Sec-WebSocket-Accept`. */
      accept: string;
      /** Offered subprotocols, in the client's order of preference. */
      protocols: string[];
      /** Offered extensions, parsed, in header order. */
      extensions: ExtensionOffer[];
    }
  | HandshakeRejection;

function reject(status: number, code: WsHandshakeErrorCode, reason: string, headers: Record<string, string> = {}): HandshakeRejection {
  return { ok: false, status, headers, reason, code };
}

/**
 * Validates a client's opening handshake: method GET (405), HTTP/1.1 or later (400), `Host`
 * (400), `Upgrade: websocket` (400), `Connection` containing `upgrade` (400),
 * `Sec-WebSocket-Version: 13` (426 with `Sec-WebSocket-Version: 13`), a key that is base64 of
 * 16 bytes (400), well-formed subprotocol and extension lists (400), header count and size
 * (431). Never throws.
 */
export function validateUpgradeRequest(req: UpgradeRequestLike, options: ServerHandshakeOptions = {}): ServerHandshakeResult {
  const maxCount = options.maxHeaderCount ?? 100;
  const maxBytes = options.maxHeaderBytes ?? 16 * 1024;
  let count = 0;
  let bytes = 0;
  if (req.rawHeaders) {
    count = req.rawHeaders.length >> 1;
    for (const s of req.rawHeaders) bytes += s.length + 2;
  } else {
    for (const name of Object.keys(req.headers)) {
      const v = req.headers[name];
      const values = v === undefined ? [] : typeof v === 'string' ? [v] : v;
      for (const value of values) {
        count++;
        bytes += name.length + value.length + 4;
      }
    }
  }
  if (count > maxCount) return reject(431, 'WS_HANDSHAKE_HEADERS_TOO_LARGE', `More than ${maxCount} header fields`);
  if (bytes > maxBytes) return reject(431, 'WS_HANDSHAKE_HEADERS_TOO_LARGE', `Header fields exceed ${maxBytes} bytes`);

  if (req.method !== 'GET') return reject(405, 'WS_HANDSHAKE_BAD_METHOD', 'Method must be GET', { Allow: 'GET' });
  const version = /^(\d+)\.(\d+)$/.exec(req.httpVersion ?? '1.1');
  const major = version ? Number(version[1]) : 0;
  const minor = version ? Number(version[2]) : 0;
  if (!(major > 1 || (major === 1 && minor >= 1))) {
    return reject(400, 'WS_HANDSHAKE_BAD_HTTP_VERSION', 'HTTP/1.1 or later is required');
  }
  const h = req.headers;
  if (!getHeader(h, 'host')) return reject(400, 'WS_HANDSHAKE_MISSING_HOST', 'Missing Host header');
  if (!listHasToken(getHeader(h, 'upgrade'), 'websocket')) {
    return reject(400, 'WS_HANDSHAKE_BAD_UPGRADE', 'Upgrade header must be "websocket"');
  }
  if (!listHasToken(getHeader(h, 'connection'), 'upgrade')) {
    return reject(400, 'WS_HANDSHAKE_BAD_CONNECTION', 'Connection header must contain "Upgrade"');
  }
  const wsVersion = getHeader(h, 'sec-websocket-version')?.trim();
  if (wsVersion !== '13') {
    return reject(426, 'WS_HANDSHAKE_BAD_VERSION', 'Unsupported WebSocket version (13 required)', {
      'Sec-WebSocket-Version': '13',
    });
  }
  const key = getHeader(h, 'sec-websocket-key')?.trim();
  if (key === undefined || !isValidWebSocketKey(key)) {
    return reject(400, 'WS_HANDSHAKE_BAD_KEY', 'Sec-WebSocket-Key must be base64 of 16 bytes');
  }

  const protocols: string[] = [];
  const protoHeader = getHeader(h, 'sec-websocket-protocol');
  if (protoHeader !== undefined) {
    const maxProtocols = options.maxProtocols ?? 32;
    if (protoHeader.length > 4096) return reject(400, 'WS_HANDSHAKE_BAD_PROTOCOL', 'Sec-WebSocket-Protocol too long');
    const seen = new Set<string>();
    for (const p of splitList(protoHeader)) {
      if (!isToken(p)) return reject(400, 'WS_HANDSHAKE_BAD_PROTOCOL', 'Invalid subprotocol name');
      if (seen.has(p)) return reject(400, 'WS_HANDSHAKE_BAD_PROTOCOL', `Duplicate subprotocol ${p}`);
      seen.add(p);
      protocols.push(p);
      if (protocols.length > maxProtocols) return reject(400, 'WS_HANDSHAKE_BAD_PROTOCOL', 'Too many subprotocols');
    }
  }

  let extensions: ExtensionOffer[] = [];
  const extHeader = getHeader(h, 'sec-websocket-extensions');
  if (extHeader !== undefined) {
    const parsed = parseExtensions(extHeader, options.extensionLimits);
    if (!parsed.ok) return reject(400, 'WS_HANDSHAKE_BAD_EXTENSIONS', `Invalid Sec-WebSocket-Extensions: ${parsed.reason}`);
    extensions = parsed.offers;
  }
  return { ok: true, key, accept: computeAcceptKey(key), protocols, extensions };
}

/** Picks a subprotocol from the client's offers; return undefined (or null/false) for none. */
export type SubprotocolSelector = (offered: readonly string[]) => string | undefined | null | false;

/**
 * Subprotocol selection: with a list, the first protocol *in the client's order* that the server
 * supports; with a callback, its answer, which must be one of the offers (else none). Returns
 * undefined when nothing is selected (the handshake then carries no `Sec-WebSocket-Protocol`).
 */
export function selectSubprotocol(
  offered: readonly string[],
  supported: readonly string[] | SubprotocolSelector,
): string | undefined {
  if (offered.length === 0) return undefined;
  if (typeof supported === 'function') {
    const pick = supported(offered);
    return typeof pick === 'string' && offered.includes(pick) ? pick : undefined;
  }
  return offered.find((p) => supported.includes(p));
}

/** What goes into the 101 response. */
export interface UpgradeResponseOptions {
  /** The client's key (the accept value is computed) … */
  key?: string;
  /** … or the accept value itself. */
  accept?: string;
  /** Selected subprotocol. */
  protocol?: string | undefined;
  /** Accepted extensions (or a preformatted header value). */
  extensions?: readonly ExtensionOffer[] | string | undefined;
  /** Extra headers (e.g. Set-Cookie). Handshake headers may not be overridden. */
  headers?: HeaderInit | undefined;
}

const RESERVED_RESPONSE = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * Builds the `101 Switching Protocols` response bytes. Throws a `WsHandshakeError`
 * (`WS_HANDSHAKE_INVALID_ARGUMENT`) for unsafe custom headers or no key/accept.
 */
export function buildUpgradeResponse(options: UpgradeResponseOptions): Buffer {
  const accept = options.accept ?? (options.key !== undefined ? computeAcceptKey(options.key) : undefined);
  if (accept === undefined) {
    throw invalidArgument('buildUpgradeResponse needs key or accept');
  }
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`;
  if (options.protocol !== undefined) {
    if (!isToken(options.protocol)) throw invalidArgument('Invalid subprotocol');
    head += `Sec-WebSocket-Protocol: ${options.protocol}\r\n`;
  }
  const ext = options.extensions;
  const extValue = typeof ext === 'string' ? ext : ext && ext.length > 0 ? formatExtensions(ext) : '';
  if (extValue.length > 0) {
    if (!/^[\x20-\x7e]*$/.test(extValue)) throw invalidArgument('Invalid extensions value');
    head += `Sec-WebSocket-Extensions: ${extValue}\r\n`;
  }
  head += serializeHeaders(options.headers, RESERVED_RESPONSE);
  head += '\r\n';
  return Buffer.from(head, 'latin1');
}

/**
 * Builds an HTTP error response (status line, `Connection: close`, `Content-Type: text/plain`,
 * `Content-Length`, extra headers, then the body — `reason` or the status text). Write it and end
 * the socket.
 */
export function buildHttpErrorResponse(status: number, reason?: string, headers?: HeaderInit): Buffer {
  const text = STATUS_TEXT[status] ?? 'Error';
  const body = Buffer.from(reason ?? text, 'utf8');
  const head =
    `HTTP/1.1 ${status} ${text}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${body.length}\r\n` +
    serializeHeaders(headers, RESERVED_ERROR) +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const RESERVED_ERROR = new Set(['connection', 'content-type', 'content-length']);

/** Options of {@link acceptUpgrade}: validation limits plus the server's choices. */
export interface AcceptUpgradeOptions extends ServerHandshakeOptions {
  /** Supported subprotocols, or a selector. */
  protocols?: readonly string[] | SubprotocolSelector;
  /** Enable permessage-deflate with this policy (`true` = defaults). Default: disabled. */
  perMessageDeflate?: PerMessageDeflateServerOptions | boolean;
  /** Extra headers on the 101 response. */
  headers?: HeaderInit;
}

/** Result of {@link acceptUpgrade}: the bytes to write either way. */
export type AcceptUpgradeResult =
  | {
      ok: true;
      /** The 101 response to write before any frame. */
      response: Buffer;
      key: string;
      protocol: string | undefined;
      /** Negotiated permessage-deflate parameters, if any: build a PerMessageDeflate from them. */
      deflate: DeflateParams | undefined;
    }
  | (HandshakeRejection & {
      /** The error response to write before ending the socket. */
      response: Buffer;
    });

/**
 * One call for a server transport: validates the request, selects the subprotocol, negotiates
 * permessage-deflate, and returns the response bytes (101, or the error response).
 */
export function acceptUpgrade(req: UpgradeRequestLike, options: AcceptUpgradeOptions = {}): AcceptUpgradeResult {
  const v = validateUpgradeRequest(req, options);
  if (!v.ok) return { ...v, response: buildHttpErrorResponse(v.status, v.reason, v.headers) };
  const protocol = options.protocols ? selectSubprotocol(v.protocols, options.protocols) : undefined;
  let deflate: DeflateParams | undefined;
  let extensions: ExtensionOffer[] | undefined;
  if (options.perMessageDeflate) {
    const pmdOptions = options.perMessageDeflate === true ? {} : options.perMessageDeflate;
    const n = negotiateDeflateServer(
      v.extensions.filter((e) => e.name === PERMESSAGE_DEFLATE),
      pmdOptions,
    );
    if (n) {
      deflate = n.params;
      extensions = [n.response];
    }
  }
  const response = buildUpgradeResponse({
    accept: v.accept,
    protocol,
    extensions,
    headers: options.headers,
  });
  return { ok: true, response, key: v.key, protocol, deflate };
}

function invalidArgument(message: string): WsHandshakeError {
  return new WsHandshakeError('WS_HANDSHAKE_INVALID_ARGUMENT', message);
}
