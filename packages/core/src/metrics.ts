import { ErrorCode } from '@stelar/codec-tcp';
import type { RecoveryStats } from './recovery-log';

/** Longest error label kept as is; longer codes are counted under `other`. */
export const MAX_ERROR_LABEL_LENGTH = 64;
/** Labels admitted besides Stelar's own codes (first come); later codes are counted under `other`. */
export const MAX_CUSTOM_ERROR_LABELS = 64;

/** Stelar's own codes (protocol.md §6 and the hub's timeouts): always their own label. */
const OWN_LABELS: ReadonlySet<string> = new Set<string>([...Object.values(ErrorCode), 'HANDSHAKE_TIMEOUT', 'HEARTBEAT_TIMEOUT', 'other']);
/** Labels of errors reported by peers (ERROR frames): `peer:` + a code of protocol.md §6, else `peer:other`. */
const PEER_LABELS: ReadonlyMap<string, string> = new Map(Object.values(ErrorCode).map((c) => [c, `peer:${c}`]));
const PEER_OTHER = 'peer:other';
const LONGEST_CODE = Math.max(...Object.values(ErrorCode).map((c) => c.length));
const LABEL_CHARS = /^[A-Za-z0-9_.:-]+$/;

/** A snapshot of a hub's counters. Every figure is kept incrementally: `getStats()` is O(1). */
export interface Stats {
  /** Open sessions (CONNECT accepted), and links still opening. */
  connections: { open: number; opening: number; byTransport: Record<string, number>; total: number; rejected: number };
  messages: { in: number; out: number };
  bytes: { in: number; out: number };
  rooms: number;
  acks: { pending: number; timedOut: number; inFlightHandlers: number };
  rateLimit: { hits: number; disconnects: number };
  /**
   * Errors by stable code (protocol errors, handler errors, rate limits…). The label set is
   * bounded: Stelar's own codes; `peer:<code>` for ERROR frames from clients (a code of
   * protocol.md §6, else `peer:other`); at most 64 other codes (from handlers, middleware,
   * adapters, transports: first come, up to 64 characters of `[A-Za-z0-9_.:-]`); the rest `other`.
   */
  errors: Record<string, number>;
  backpressure: { buffered: number; dropped: number; slowConsumerDisconnects: number };
  /** The adapter's own counters (e.g. Redis publishes, messages missed while Redis was down). */
  adapter: Record<string, number>;
  /** Connection-state recovery (only when it is on): absent sessions, the log, resumes. */
  recovery?: RecoveryStats;
  uptimeMs: number;
}

/** Mutable counters behind `Stats`. */
export class Metrics {
  opening = 0;
  open = 0;
  total = 0;
  rejected = 0;
  readonly byTransport: Record<string, number> = Object.create(null) as Record<string, number>;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  rooms = 0;
  acksPending = 0;
  acksTimedOut = 0;
  inFlightHandlers = 0;
  rateLimitHits = 0;
  rateLimitDisconnects = 0;
  readonly errors: Record<string, number> = Object.create(null) as Record<string, number>;
  buffered = 0;
  dropped = 0;
  slowConsumer = 0;
  private readonly started: number;

  constructor(private readonly clock: () => number) {
    this.started = clock();
  }

  /** Labels admitted that are not Stelar's own. */
  private customLabels = 0;

  /** Counts an error under its code, or under `other` once the label set is full (see `Stats.errors`). */
  error(code: string): void {
    const errors = this.errors;
    // Long strings are never used as keys (not even looked up).
    if (code.length <= MAX_ERROR_LABEL_LENGTH) {
      const n = errors[code];
      if (n !== undefined) {
        errors[code] = n + 1;
        return;
      }
      if (OWN_LABELS.has(code)) {
        errors[code] = 1;
        return;
      }
      if (this.customLabels < MAX_CUSTOM_ERROR_LABELS && code.length > 0 && LABEL_CHARS.test(code)) {
        this.customLabels++;
        errors[code] = 1;
        return;
      }
    }
    errors['other'] = (errors['other'] ?? 0) + 1;
  }

  /** Counts an ERROR frame from a peer: under `peer:<code>` for a code of protocol.md §6, else `peer:other`. */
  peerError(code: string): void {
    const label = (code.length <= LONGEST_CODE && PEER_LABELS.get(code)) || PEER_OTHER;
    this.errors[label] = (this.errors[label] ?? 0) + 1;
  }

  transportDelta(transport: string, delta: number): void {
    this.byTransport[transport] = (this.byTransport[transport] ?? 0) + delta;
  }

  /** The connection counters alone (what `/readyz` reports), in O(transports). */
  connections(): Stats['connections'] {
    return { open: this.open, opening: this.opening, byTransport: { ...this.byTransport }, total: this.total, rejected: this.rejected };
  }

  /** Every counter; the error labels are bounded (see `Stats.errors`), so this is O(1). */
  snapshot(adapter: Record<string, number> = {}, recovery?: RecoveryStats): Stats {
    return {
      ...(recovery && { recovery }),
      connections: this.connections(),
      messages: { in: this.messagesIn, out: this.messagesOut },
      bytes: { in: this.bytesIn, out: this.bytesOut },
      rooms: this.rooms,
      acks: { pending: this.acksPending, timedOut: this.acksTimedOut, inFlightHandlers: this.inFlightHandlers },
      rateLimit: { hits: this.rateLimitHits, disconnects: this.rateLimitDisconnects },
      errors: { ...this.errors },
      backpressure: { buffered: this.buffered, dropped: this.dropped, slowConsumerDisconnects: this.slowConsumer },
      adapter,
      uptimeMs: Math.round(this.clock() - this.started),
    };
  }
}

/** Renders stats in the Prometheus text exposition format (version 0.0.4). */
export function toPrometheus(stats: Stats, prefix = 'stelar'): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]): void => {
    out.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels)
        .map(([k, val]) => `${k}="${val.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
      out.push(`${prefix}_${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  metric('connections', 'gauge', 'Open sessions by transport.', Object.entries(stats.connections.byTransport).map(([t, v]) => [{ transport: t }, v]));
  metric('connections_opening', 'gauge', 'Links that have not completed CONNECT.', [[{}, stats.connections.opening]]);
  metric('connections_total', 'counter', 'Sessions accepted since start.', [[{}, stats.connections.total]]);
  metric('connections_rejected_total', 'counter', 'Sessions refused by middleware or limits.', [[{}, stats.connections.rejected]]);
  metric('messages_in_total', 'counter', 'Frames received.', [[{}, stats.messages.in]]);
  metric('messages_out_total', 'counter', 'Frames sent (one per recipient).', [[{}, stats.messages.out]]);
  metric('bytes_in_total', 'counter', 'Bytes received in frames.', [[{}, stats.bytes.in]]);
  metric('bytes_out_total', 'counter', 'Bytes sent in frames.', [[{}, stats.bytes.out]]);
  metric('rooms', 'gauge', 'Rooms with at least one member.', [[{}, stats.rooms]]);
  metric('acks_pending', 'gauge', 'Server-to-client requests awaiting a reply.', [[{}, stats.acks.pending]]);
  metric('acks_timed_out_total', 'counter', 'Requests that timed out.', [[{}, stats.acks.timedOut]]);
  metric('handlers_in_flight', 'gauge', 'Request handlers still running.', [[{}, stats.acks.inFlightHandlers]]);
  metric('rate_limit_hits_total', 'counter', 'Messages over a rate limit.', [[{}, stats.rateLimit.hits]]);
  metric('errors_total', 'counter', 'Errors by code.', Object.entries(stats.errors).map(([c, v]) => [{ code: c }, v]));
  metric('backpressure_buffered_total', 'counter', 'Sends that found the outgoing buffer above its high-water mark.', [[{}, stats.backpressure.buffered]]);
  metric('backpressure_dropped_total', 'counter', 'Volatile messages dropped under backpressure.', [[{}, stats.backpressure.dropped]]);
  metric('slow_consumer_disconnects_total', 'counter', 'Connections closed for not reading.', [[{}, stats.backpressure.slowConsumerDisconnects]]);
  metric('adapter', 'gauge', "The adapter's own counters.", Object.entries(stats.adapter).map(([c, v]) => [{ counter: c }, v]));
  const r = stats.recovery;
  if (r) {
    metric('recovery_absent_sessions', 'gauge', 'Sessions whose link was lost, kept for their client to come back.', [[{}, r.absentSessions]]);
    metric('recovery_log_entries', 'gauge', 'Broadcasts kept in the recovery log.', [[{}, r.logEntries]]);
    metric('recovery_log_bytes', 'gauge', 'Bytes of the recovery log (frames and bookkeeping).', [[{}, r.logBytes]]);
    metric('recovery_held_bytes', 'gauge', 'Bytes absent sessions hold (answers and requests waiting for their client).', [[{}, r.heldBytes]]);
    metric('recovery_recovered_total', 'counter', 'Sessions resumed by their client.', [[{}, r.recovered]]);
    metric('recovery_failed_total', 'counter', 'Resumes that could not be made (a fresh session instead).', [[{}, r.failed]]);
    metric('recovery_expired_total', 'counter', 'Absent sessions that ended without their client coming back.', [[{}, r.expired]]);
    if (r.movedAway !== undefined) metric('recovery_moved_away_total', 'counter', 'Absent sessions let go because their client resumed them on another process.', [[{}, r.movedAway]]);
  }
  metric('uptime_seconds', 'gauge', 'Seconds since the hub started.', [[{}, stats.uptimeMs / 1000]]);
  return out.join('\n') + '\n';
}
