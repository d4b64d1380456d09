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
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(options: ConnectionLimitsOptions = {}) {
    this.maxConnections = positive('maxConnections', options.maxConnections, Infinity, true);
    this.maxConnectionsPerIp = positive('maxConnectionsPerIp', options.maxConnectionsPerIp, Infinity, true);
  }

  /** Connections holding a slot. */
  get connections(): number {
    return this.total;
  }

  /** Connections holding a slot from `ip`. */
  connectionsFrom(ip: string): number {
    return this.perIp.get(normalizeIp(ip)) ?? 0;
  }

  /** Takes a slot for a connection from `ip`, or says why not. */
  acquire(ip: string): ConnectionSlot | LimitRefusal {
    const key = normalizeIp(ip);
    if (this.total >= this.maxConnections) return 'max-connections';
    const n = this.perIp.get(key) ?? 0;
    if (n >= this.maxConnectionsPerIp) return 'max-connections-per-ip';
    this.total++;
    this.perIp.set(key, n + 1);
    let held = true;
    return {
      ip: key,
      release: () => {
        if (!held) return;
        held = false;
        this.total--;
        const left = (this.perIp.get(key) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(key);
        else this.perIp.set(key, left);
      },
    };
  }
}

/** A slot that holds nothing (no limits object given). */
export function freeSlot(ip: string): ConnectionSlot {
  return { ip, release: noop };
}

function noop(): void {}
