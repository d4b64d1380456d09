/**
 * Small HTTP/1.1 helpers shared by both handshake sides (header access, lists, serialization).
 */
import { WsHandshakeError } from './errors';
import { isToken } from './extensions';

/** Header map as Node's `IncomingMessage.headers`: lower-case names, duplicates joined. */
export type HttpHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Custom headers given by the application for a request or response. */
export type HeaderInit = Readonly<Record<string, string | number | readonly string[]>>;

/** The value of header `name` (lower-case), array values joined with ", ", or undefined. */
export function getHeader(headers: HttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(', ');
}

/** Splits a comma-separated header value into trimmed, non-empty elements (single pass). */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i === value.length || value.charCodeAt(i) === 0x2c) {
      const item = value.slice(start, i).trim();
      if (item.length > 0) out.push(item);
      start = i + 1;
    }
  }
  return out;
}

/** Whether a comma-separated header value contains `token` (ASCII case-insensitive). */
export function listHasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const want = token.toLowerCase();
  for (const item of splitList(value)) if (item.toLowerCase() === want) return true;
  return false;
}

/** Whether `v` is a header value without CR, LF or NUL (no response splitting). */
export function isSafeHeaderValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00) return false;
  }
  return true;
}

/** Serializes custom headers as `Name: value\r\n` lines; throws on an unsafe name or value. */
export function serializeHeaders(headers: HeaderInit | undefined, reserved: ReadonlySet<string>): string {
  if (!headers) return '';
  let out = '';
  for (const name of Object.keys(headers)) {
    if (!isToken(name)) throw new WsHandshakeError('WS_HANDSHAKE_INVALID_ARGUMENT', `Invalid header name ${JSON.stringify(name)}`);
    if (reserved.has(name.toLowerCase())) {
      throw new WsHandshakeError('WS_HANDSHAKE_INVALID_ARGUMENT', `Header ${name} is set by the handshake itself`);
    }
    const raw = headers[name]!;
    const values = typeof raw === 'string' || typeof raw === 'number' ? [String(raw)] : raw;
    for (const value of values) {
      if (!isSafeHeaderValue(value)) {
        throw new WsHandshakeError('WS_HANDSHAKE_INVALID_ARGUMENT', `Invalid value for header ${name}`);
      }
      out += `${name}: ${value}\r\n`;
    }
  }
  return out;
}

/** Reason phrases for the statuses this package produces. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
