import { isIP } from 'node:net';
import { DialError } from './errors';

/** TLS options a dialer passes through. */
export interface DialTlsOptions {
  /** Trusted CA certificates (PEM), replacing Node's defaults. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate (PEM), for mutual TLS. */
  cert?: string | Buffer | Array<string | Buffer>;
  /** Client private key (PEM). */
  key?: string | Buffer | Array<string | Buffer>;
  /** SNI server name and the name the certificate must match. Default: the URL's host (unless an IP). */
  servername?: string;
  /** Refuse servers whose certificate does not verify. Default true. */
  rejectUnauthorized?: boolean;
}

export interface Endpoint {
  readonly url: URL;
  readonly secure: boolean;
  /** Hostname without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
}

/** Parses a dial URL; throws a fatal DialError (`BAD_URL`) for anything unusable. */
export function parseEndpoint(input: string | URL, schemes: { plain: string; secure: string; defaultPorts?: [number, number] }): Endpoint {
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : input;
  } catch (err) {
    throw new DialError(`Invalid URL ${JSON.stringify(String(input))}`, { code: 'BAD_URL', fatal: true, cause: err });
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== schemes.plain && scheme !== schemes.secure) {
    throw new DialError(`Unsupported URL scheme "${scheme}:" (expected ${schemes.plain}: or ${schemes.secure}:)`, { code: 'BAD_URL', fatal: true });
  }
  const secure = scheme === schemes.secure;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!host) throw new DialError(`URL ${url.href} has no host`, { code: 'BAD_URL', fatal: true });
  let port: number;
  if (url.port) port = Number(url.port);
  else if (schemes.defaultPorts) port = secure ? schemes.defaultPorts[1] : schemes.defaultPorts[0];
  else throw new DialError(`URL ${url.href} needs a port`, { code: 'BAD_URL', fatal: true });
  return { url, secure, host, port };
}

/** Node TLS connect options from the dialer's. */
export function tlsConnectOptions(o: DialTlsOptions, host: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.ca !== undefined) out['ca'] = o.ca;
  if (o.cert !== undefined) out['cert'] = o.cert;
  if (o.key !== undefined) out['key'] = o.key;
  if (o.rejectUnauthorized !== undefined) out['rejectUnauthorized'] = o.rejectUnauthorized;
  const servername = o.servername ?? (isIP(host) ? undefined : host);
  if (servername !== undefined) out['servername'] = servername;
  return out;
}
