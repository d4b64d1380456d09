// What the dashboard shows, apart from serving it: the JSON's types, the one scan of the local
// connections (top rooms, most buffered), and another node's counters kept only within bounds.
import type { Stats } from '@stelar/core';

/** Rooms listed, by members. */
export const TOP_ROOMS = 20;
/** Connections listed under "most buffered". */
export const TOP_BUFFERED = 10;
/** Longest room name shown (longer ones are cut and flagged). */
export const MAX_ROOM_NAME = 100;
/** Limits on what another node's counters may hold (they are data from the network). */
const MAX_LABELS = 256;
const MAX_LABEL = 64;

export interface ScannedConnection {
  readonly id: string;
  readonly transport: string;
  readonly rooms: ReadonlySet<string>;
  readonly bufferedAmount: number;
  readonly pendingRequests: number;
}

export interface RoomRow {
  name: string;
  members: number;
  truncated?: true;
}

export interface BufferedRow {
  id: string;
  transport: string;
  buffered: number;
  pendingRequests: number;
}

export interface NodeRow {
  id: string;
  self: boolean;
  /** `ok`: answered the last question (or is this node); `waiting`: not asked long enough ago to tell; `no answer`. */
  status: 'ok' | 'waiting' | 'no answer';
  /** Age of the counters shown (ms); null when never heard from. */
  ageMs: number | null;
  stats: Stats | null;
}

/** The JSON at `<path>/data`. */
export interface DashboardData {
  v: 1;
  nodeId: string;
  /** Server wall clock (ms since the epoch). */
  time: number;
  stats: Stats;
  rooms: { top: RoomRow[]; limit: number; scanned: number; scanMs: number; ageMs: number; everyMs: number };
  slow: BufferedRow[];
  /** Null without a cluster adapter. */
  cluster: { nodeCount: number; nodes: NodeRow[]; omitted: number; error: string | null } | null;
}

/**
 * One pass over the local connections: members per room (top `roomLimit`) and the connections
 * with the most bytes queued (top `bufferedLimit`). O(connections + memberships) time, O(rooms)
 * memory for the pass.
 */
export function scanConnections(
  connections: Iterable<ScannedConnection>,
  roomLimit: number,
  bufferedLimit: number,
): { scanned: number; top: RoomRow[]; slow: BufferedRow[] } {
  const counts = new Map<string, number>();
  const slow: BufferedRow[] = [];
  let scanned = 0;
  for (const c of connections) {
    scanned++;
    for (const r of c.rooms) counts.set(r, (counts.get(r) ?? 0) + 1);
    const b = c.bufferedAmount;
    if (b > 0 && (slow.length < bufferedLimit || b > slow[slow.length - 1]!.buffered)) {
      insertTop(slow, { id: c.id, transport: c.transport, buffered: b, pendingRequests: c.pendingRequests }, bufferedLimit, (x) => x.buffered);
    }
  }
  const top: { name: string; members: number }[] = [];
  for (const [name, members] of counts) {
    if (top.length < roomLimit || members > top[top.length - 1]!.members) insertTop(top, { name, members }, roomLimit, (x) => x.members);
  }
  return {
    scanned,
    top: top.map(({ name, members }) => (name.length > MAX_ROOM_NAME ? { name: name.slice(0, MAX_ROOM_NAME), members, truncated: true as const } : { name, members })),
    slow,
  };
}

/** Inserts into a list sorted by `key` descending, keeping at most `limit` entries. */
function insertTop<T>(list: T[], item: T, limit: number, key: (x: T) => number): void {
  const k = key(item);
  let i = list.length;
  while (i > 0 && key(list[i - 1]!) < k) i--;
  list.splice(i, 0, item);
  if (list.length > limit) list.pop();
}

/** Another node's counters, kept only as far as they have the shape of `Stats` and within bounds. */
export function sanitizeStats(x: unknown): Stats | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const s = x as Record<string, unknown>;
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
  const c = obj(s['connections']);
  const m = obj(s['messages']);
  const b = obj(s['bytes']);
  const a = obj(s['acks']);
  const rl = obj(s['rateLimit']);
  const bp = obj(s['backpressure']);
  return {
    connections: { open: n(c['open']), opening: n(c['opening']), byTransport: counters(c['byTransport']), total: n(c['total']), rejected: n(c['rejected']) },
    messages: { in: n(m['in']), out: n(m['out']) },
    bytes: { in: n(b['in']), out: n(b['out']) },
    rooms: n(s['rooms']),
    acks: { pending: n(a['pending']), timedOut: n(a['timedOut']), inFlightHandlers: n(a['inFlightHandlers']) },
    rateLimit: { hits: n(rl['hits']), disconnects: n(rl['disconnects']) },
    errors: counters(s['errors']),
    backpressure: { buffered: n(bp['buffered']), dropped: n(bp['dropped']), slowConsumerDisconnects: n(bp['slowConsumerDisconnects']) },
    adapter: counters(s['adapter']),
    uptimeMs: n(s['uptimeMs']),
  };
}

function n(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** A record of numbers: at most MAX_LABELS keys of at most MAX_LABEL characters. */
function counters(v: unknown): Record<string, number> {
  const out = Object.create(null) as Record<string, number>;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  let kept = 0;
  let seen = 0;
  for (const k in v) {
    if (kept >= MAX_LABELS || ++seen > 4 * MAX_LABELS) break;
    if (!Object.prototype.hasOwnProperty.call(v, k) || k.length > MAX_LABEL) continue;
    const val = (v as Record<string, unknown>)[k];
    if (typeof val !== 'number' || !Number.isFinite(val)) continue;
    out[k] = val;
    kept++;
  }
  return out;
}
