/** Why a dial failed; `fatal` tells the client engine to stop reconnecting. */
export interface DialErrorDetails {
  /** Stable code: `WS_UPGRADE_REFUSED`, `WS_HANDSHAKE_*`, `ECONNREFUSED`, a TLS code, `ABORTED`, `BAD_URL`… */
  code: string;
  /** HTTP status of a refused WebSocket upgrade. */
  status?: number;
  /** Do not retry (HTTP 4xx except 408/429, certificate errors, a bad URL). */
  fatal?: boolean;
  cause?: unknown;
}

/** A dialer's rejection: carries `code`, `fatal` and, for a refused upgrade, the HTTP `status`. */
export class DialError extends Error {
  override name = 'DialError';
  readonly code: string;
  readonly status: number | undefined;
  readonly fatal: boolean;

  constructor(message: string, details: DialErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.status = details.status;
    this.fatal = details.fatal ?? false;
  }
}

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME|HOSTNAME_MISMATCH/;

/** Whether a socket error is a certificate refusal (retrying will not help). */
export function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CERT_CODES.test(code);
}

/** Wraps a socket-level dial error (connect refused, DNS, TLS) as a DialError. */
export function toDialError(err: unknown, what: string): DialError {
  if (err instanceof DialError) return err;
  const code = typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : 'DIAL_FAILED';
  const message = err instanceof Error ? err.message : String(err);
  const cert = isCertificateError(err);
  return new DialError(`${what}: ${cert ? 'TLS certificate refused: ' : ''}${message}`, { code, fatal: cert, cause: err });
}

/** The rejection for an aborted dial: the signal's reason if it is an Error, else an ABORTED DialError. */
export function abortError(signal: AbortSignal, what: string): unknown {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DialError(`${what}: aborted`, { code: 'ABORTED', cause: r });
}
