import { normalizeIp, positive } from './options';

export interface ConnectionLimitsOptions {
  /** Most open connections over every listener sharing this object. Default: unlimited. */
  maxConnections?: number;
  /** Most open connections from one client IP. Default: unlimited. */
  maxConnectionsPerIp?: number;
}

/** Why a connection was refused. */
export type LimitRefusal = 'max-connections' | 'max-connections-per-ip';

/** A slot held by one connection; `release` is idempotent. */
export interface ConnectionSlot {
  readonly ip: string;
  release(): void;
}

/**
 * Connection counters shared by listeners: create one and pass it to both `attachWebSocket` and
 * `listenTcp`. Over `maxConnections` or `maxConnectionsPerIp` a WebSocket upgrade is answered
 * with HTTP 503 and a TCP connection gets DISCONNECT 1013 (TRY_AGAIN_LATER) and is closed.
 *
 * O(1) per connection: one counter, and one map entry per IP with live connections.
 */
export class ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** Shared with the slots, which give their place back. */
  private readonly counts: Counts = { total: 0, perIp: new Map<string, number>() };

  constructor(options: ConnectionLimitsOptions = {}) {
    this.maxConnections = positive('maxConnections', options.maxConnections, Infinity, true);
    this.maxConnectionsPerIp = positive('maxConnectionsPerIp', options.maxConnectionsPerIp, Infinity, true);
  }

  /** Connections holding a slot. */
  get connections(): number {
    return this.counts.total;
  }

  /** Connections holding a slot from `ip`. */
  connectionsFrom(ip: string): number {
    return this.counts.perIp.get(normalizeIp(ip)) ?? 0;
  }

  /** Takes a slot for a connection from `ip`, or says why not. */
  acquire(ip: string): ConnectionSlot | LimitRefusal {
    const key = normalizeIp(ip);
    const counts = this.counts;
    if (counts.total >= this.maxConnections) return 'max-connections';
    const n = counts.perIp.get(key) ?? 0;
    if (n >= this.maxConnectionsPerIp) return 'max-connections-per-ip';
    counts.total++;
    counts.perIp.set(key, n + 1);
    return new LimitSlot(counts, key);
  }
}

interface Counts {
  total: number;
  readonly perIp: Map<string, number>;
}

/** A held slot: an object with a prototype method, not a closure and its context per connection. */
class LimitSlot implements ConnectionSlot {
  private counts: Counts | undefined;
  constructor(
    counts: Counts,
    readonly ip: string,
  ) {
    this.counts = counts;
  }

  release(): void {
    const c = this.counts;
    if (c === undefined) return;
    this.counts = undefined;
    c.total--;
    const left = (c.perIp.get(this.ip) ?? 1) - 1;
    if (left <= 0) c.perIp.delete(this.ip);
    else c.perIp.set(this.ip, left);
  }
}

/** A slot that holds nothing (no limits object given). */
export function freeSlot(ip: string): ConnectionSlot {
  return { ip, release: noop };
}

function noop(): void {}
