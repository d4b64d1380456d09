import type { Link, LinkHandler } from '@stelar/core/internal';

/**
 * Whatever takes the links a listener accepts: core's `Hub` is one. `maxFrameSize` is the largest
 * Stelar frame (4-byte totalLen included) the listener lets through; bigger ones are refused
 * from their header (TCP) or their WebSocket length (1009).
 */
export interface Acceptor {
  accept(link: Link): LinkHandler;
  readonly maxFrameSize: number;
}

/** Per-connection output limits and the close timeout (both transports, both roles). */
export interface LinkOptions {
  /**
   * Above this many queued bytes `send` answers `BUFFERED`, and volatile frames are dropped
   * (`DROPPED`) until the buffer drains. Default 1 MiB.
   */
  highWaterMark?: number;
  /**
   * A send that would take the queue above this many bytes closes the link with 4006
   * SLOW_CONSUMER and answers `CLOSED`. A frame sent into an empty queue is always accepted.
   * Default 8 MiB.
   */
  maxBufferedAmount?: number;
  /**
   * How long `close()` waits (ms) for the queue to flush and the peer to answer the closing
   * handshake before the socket is destroyed. Default 5000.
   */
  closeTimeout?: number;
}

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_MAX_BUFFERED_AMOUNT = 8 * 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT = 5_000;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Resolved {@link LinkOptions}. */
export interface LinkLimits {
  readonly highWaterMark: number;
  readonly maxBufferedAmount: number;
  readonly closeTimeout: number;
}

export function resolveLinkOptions(o: LinkOptions = {}): LinkLimits {
  const highWaterMark = positive('highWaterMark', o.highWaterMark, DEFAULT_HIGH_WATER_MARK);
  const maxBufferedAmount = positive('maxBufferedAmount', o.maxBufferedAmount, DEFAULT_MAX_BUFFERED_AMOUNT);
  if (maxBufferedAmount < highWaterMark) throw new RangeError('maxBufferedAmount must be >= highWaterMark');
  return { highWaterMark, maxBufferedAmount, closeTimeout: positive('closeTimeout', o.closeTimeout, DEFAULT_CLOSE_TIMEOUT, true) };
}

export function positive(name: string, v: number | undefined, fallback: number, allowZero = false): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(v)}`);
  }
  return v;
}

/** Handler errors must not kill the socket loop: they go here (default: a process warning). */
export type ErrorReporter = (err: unknown) => void;

export const defaultReporter: ErrorReporter = (err) => {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'STELAR_TRANSPORT_HANDLER' });
};

/** Node's `::ffff:1.2.3.4` (IPv4-mapped IPv6) as `1.2.3.4`, so both families count as one IP. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
