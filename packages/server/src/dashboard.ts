import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Adapter, Stats } from '@stelar/core';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page';

export interface DashboardOptions {
  /** Where the page is served; its data is at `<path>/data`. Default `/stelar`. */
  path?: string;
  /**
   * Your application's own check, run for the page and for every data request (cookies,
   * headers…). `false` → 403, unless you answered `res` yourself (say, a redirect to your login
   * page). A throw, a rejection or no answer within 10 s → 500, reported to `onError`.
   * Required: there is no anonymous dashboard.
   */
  authorize: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  /** With a cluster adapter: how long (ms) a node has to answer before it is shown as "no answer". Default 1000. */
  nodeTimeout?: number;
}

/** The server event the dashboards of a cluster talk over (reserved: do not register it yourself). */
export const DASHBOARD_EVENT = 'stelar:dashboard';
/** Rooms listed, by members. */
export const TOP_ROOMS = 20;
/** Connections listed under "most buffered". */
export const TOP_BUFFERED = 10;
/** Longest room name shown (longer ones are cut and flagged). */
export const MAX_ROOM_NAME = 100;
/** Other nodes remembered (and shown); the rest are counted as omitted. */
export const MAX_NODES = 64;
/** Fewest ms between two scans of the connections (rooms and buffers). */
export const MIN_SCAN_EVERY = 1000;
/** The scan may take at most this share of the time between scans (1/20 = 5 %). */
const SCAN_SHARE = 20;
/** Fewest ms between two questions to the other nodes, whatever the number of viewers. */
const ASK_EVERY = 900;
/** Fewest ms between two answers of this node, whatever the number of nodes asking. */
const ANSWER_EVERY = 250;
/** A node not heard from for this long, and no longer known to the adapter, is forgotten. */
const FORGET_AFTER = 60_000;
const AUTHORIZE_TIMEOUT = 10_000;
/** Limits on what another node's answer may hold (it is data from the network). */
const MAX_LABELS = 256;
const MAX_LABEL = 64;
const MAX_NODE_ID = 128;

/** What the dashboard uses of the hub: its public API only. */
export interface DashboardSource {
  readonly nodeId: string;
  readonly adapter: Adapter;
  readonly connections: ReadonlyMap<string, ScannedConnection>;
  getStats(): Stats;
  serverSideEmit(event: string, data?: unknown, options?: { ack?: boolean; timeout?: number }): Promise<unknown[]>;
  onServerEvent(event: string, fn: (data: unknown, fromNode: string) => unknown): unknown;
}

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

interface Scan {
  at: number;
  ms: number;
  scanned: number;
  top: RoomRow[];
  slow: BufferedRow[];
}

interface Peer {
  stats: Stats;
  at: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Validates the option at `createServer` (so a missing `authorize` fails at once, not on the first request). */
export function checkDashboardOptions(o: unknown): DashboardOptions {
  if (typeof o !== 'object' || o === null) {
    throw new TypeError('dashboard: pass { authorize(req) { … } } — the dashboard is served only behind your own authorization check');
  }
  const d = o as Partial<DashboardOptions>;
  if (typeof d.authorize !== 'function') {
    throw new TypeError('dashboard.authorize is required: a function (req, res) => boolean | Promise<boolean> deciding who may see the dashboard');
  }
  if (d.path !== undefined && (typeof d.path !== 'string' || !/^\/[^\s?#]*$/.test(d.path))) {
    throw new TypeError(`dashboard.path must start with "/" and hold no space, "?" or "#" (got ${JSON.stringify(d.path)})`);
  }
  if (d.nodeTimeout !== undefined && !(typeof d.nodeTimeout === 'number' && d.nodeTimeout > 0 && d.nodeTimeout <= 60_000)) {
    throw new TypeError('dashboard.nodeTimeout must be a number of ms in (0, 60000]');
  }
  return d as DashboardOptions;
}

/**
 * The opt-in live dashboard: a page at `path` and its JSON at `path/data`, both behind
 * `authorize`. A data request costs `getStats()` (O(1)), a scan of the local connections at most
 * once per `MIN_SCAN_EVERY` (longer if the scan is slow), and with a cluster adapter at most one
 * question to the other nodes per `ASK_EVERY`, answered asynchronously (never awaited by the
 * request).
 */
export class Dashboard {
  readonly path: string;
  private readonly dataPath: string;
  private readonly authorize: DashboardOptions['authorize'];
  private readonly nodeTimeout: number;
  private scan: Scan | undefined;
  private scanEvery = MIN_SCAN_EVERY;
  private readonly peers = new Map<string, Peer>();
  /** Times of recent questions to the other nodes, oldest first (those still deciding a status). */
  private asks: number[] = [];
  private lastAnswer = -Infinity;
  private clusterError: { message: string; at: number } | undefined;

  constructor(
    private readonly source: DashboardSource,
    options: DashboardOptions,
    private readonly report: (err: unknown) => void,
    private readonly clock: () => number = () => performance.now(),
  ) {
    const o = checkDashboardOptions(options);
    const p = (o.path ?? '/stelar').replace(/\/+$/, '');
    this.path = p;
    this.dataPath = `${p}/data`;
    this.authorize = o.authorize;
    this.nodeTimeout = o.nodeTimeout ?? 1000;
    source.onServerEvent(DASHBOARD_EVENT, (data, from) => this.onServerEvent(data, from));
  }

  /** The HTTP handler: claims `path`, `path/` and `path/data`; returns false for anything else. */
  readonly handle: Handler = (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let what: 'page' | 'data';
    if (path === this.dataPath) what = 'data';
    else if (path === this.path || path === `${this.path}/`) what = 'page';
    else return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    void this.serve(req, res, what);
    return true;
  };

  private async serve(req: IncomingMessage, res: ServerResponse, what: 'page' | 'data'): Promise<void> {
    let allowed: boolean;
    try {
      allowed = await this.check(req, res);
    } catch (err) {
      this.report(err);
      if (!res.headersSent && !res.writableEnded) send(req, res, 500, 'text/plain; charset=utf-8', 'Dashboard authorization failed\n');
      return;
    }
    if (res.headersSent || res.writableEnded) return; // authorize answered (a redirect to a login page…)
    if (!allowed) {
      send(req, res, 403, 'text/plain; charset=utf-8', 'Forbidden\n');
      return;
    }
    if (what === 'page') {
      send(req, res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, { 'content-security-policy': DASHBOARD_CSP, 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
      return;
    }
    let body: string;
    try {
      body = JSON.stringify(this.data());
    } catch (err) {
      this.report(err);
      send(req, res, 500, 'text/plain; charset=utf-8', 'Dashboard data failed\n');
      return;
    }
    send(req, res, 200, 'application/json; charset=utf-8', body);
  }

  /** Runs `authorize`, bounded in time. */
  private check(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dashboard.authorize did not settle within ${AUTHORIZE_TIMEOUT} ms`)), AUTHORIZE_TIMEOUT);
      timer.unref();
      let verdict: boolean | Promise<boolean>;
      try {
        verdict = this.authorize(req, res);
      } catch (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      Promise.resolve(verdict).then(
        (ok) => {
          clearTimeout(timer);
          resolve(ok === true);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** What `<path>/data` answers. */
  data(): DashboardData {
    const t = this.clock();
    const scan = this.scanned(t);
    return {
      v: 1,
      nodeId: this.source.nodeId,
      time: Date.now(),
      stats: this.source.getStats(),
      rooms: { top: scan.top, limit: TOP_ROOMS, scanned: scan.scanned, scanMs: round(scan.ms), ageMs: Math.round(t - scan.at), everyMs: Math.round(this.scanEvery) },
      slow: scan.slow,
      cluster: this.cluster(t),
    };
  }

  /** The last scan, or a new one if it is older than `scanEvery`. */
  private scanned(t: number): Scan {
    if (this.scan && t - this.scan.at < this.scanEvery) return this.scan;
    const started = this.clock();
    const s = scanConnections(this.source.connections.values(), TOP_ROOMS, TOP_BUFFERED);
    const ms = this.clock() - started;
    // A slow scan (many connections) runs less often: at most 1/SCAN_SHARE of the time.
    this.scanEvery = Math.max(MIN_SCAN_EVERY, ms * SCAN_SHARE);
    this.scan = { at: t, ms, ...s };
    return this.scan;
  }

  private isCluster(): boolean {
    const a = this.source.adapter;
    return a.nodeCount() > 1 || typeof (a as { nodeIds?: unknown }).nodeIds === 'function' || this.peers.size > 0;
  }

  private cluster(t: number): DashboardData['cluster'] {
    if (!this.isCluster()) return null;
    this.ask(t);
    const adapter = this.source.adapter as Adapter & { nodeIds?: () => unknown };
    const known = new Set<string>();
    if (typeof adapter.nodeIds === 'function') {
      const ids = adapter.nodeIds();
      if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string' && known.size < MAX_NODES) known.add(id);
    }
    for (const [id, p] of this.peers) {
      if (!known.has(id) && t - p.at > FORGET_AFTER) this.peers.delete(id);
    }
    // The question that decides "no answer": the latest one asked at least nodeTimeout ago.
    while (this.asks.length > 1 && t - this.asks[1]! >= this.nodeTimeout) this.asks.shift();
    const decisive = this.asks[0] !== undefined && t - this.asks[0] >= this.nodeTimeout ? this.asks[0] : undefined;
    const latest = this.asks[this.asks.length - 1];
    const nodes: NodeRow[] = [{ id: this.source.nodeId, self: true, status: 'ok', ageMs: 0, stats: this.source.getStats() }];
    const ids = new Set<string>([...known, ...this.peers.keys()]);
    ids.delete(this.source.nodeId);
    let omitted = 0;
    for (const id of [...ids].sort()) {
      if (nodes.length > MAX_NODES) {
        omitted++;
        continue;
      }
      const p = this.peers.get(id);
      // A node answers at most once per ANSWER_EVERY, to every node: an answer given that
      // long before our question (to another node's) counts for ours.
      const answered = p !== undefined && ((latest !== undefined && p.at >= latest - ANSWER_EVERY) || decisive === undefined || p.at >= decisive - ANSWER_EVERY);
      nodes.push({
        id,
        self: false,
        status: answered ? 'ok' : decisive === undefined ? 'waiting' : 'no answer',
        ageMs: p ? Math.round(t - p.at) : null,
        stats: p ? p.stats : null,
      });
    }
    const nodeCount = this.source.adapter.nodeCount();
    omitted = Math.max(omitted, nodeCount - nodes.length);
    const err = this.clusterError && t - this.clusterError.at < 10_000 ? this.clusterError.message : null;
    return { nodeCount, nodes, omitted, error: err };
  }

  /** Asks the other nodes for their counters (at most once per ASK_EVERY); they answer to every node. */
  private ask(t: number): void {
    const latest = this.asks[this.asks.length - 1];
    if (latest !== undefined && t - latest < ASK_EVERY) return;
    this.asks.push(t);
    if (this.asks.length > 128) this.asks.shift();
    this.source.serverSideEmit(DASHBOARD_EVENT, { op: 'ask', v: 1 }).then(
      () => undefined,
      (err: unknown) => {
        this.clusterError = { message: cut(err instanceof Error ? err.message : String(err), 200), at: this.clock() };
      },
    );
  }

  /** Another node's dashboard: a question (answered by a broadcast of our counters) or an answer. */
  private onServerEvent(data: unknown, from: string): void {
    if (typeof data !== 'object' || data === null || typeof from !== 'string' || from.length === 0 || from.length > MAX_NODE_ID) return;
    const op = (data as { op?: unknown }).op;
    if (op === 'ask') {
      const t = this.clock();
      // Asked by many nodes at once, answer once: every node with a dashboard hears the answer.
      if (t - this.lastAnswer < ANSWER_EVERY) return;
      this.lastAnswer = t;
      this.source.serverSideEmit(DASHBOARD_EVENT, { op: 'stats', v: 1, stats: this.source.getStats() }).catch((err: unknown) => {
        this.clusterError = { message: cut(err instanceof Error ? err.message : String(err), 200), at: this.clock() };
      });
    } else if (op === 'stats') {
      const stats = sanitizeStats((data as { stats?: unknown }).stats);
      if (!stats || from === this.source.nodeId) return;
      if (!this.peers.has(from) && this.peers.size >= MAX_NODES) {
        // Full: forget the node heard from least recently.
        let oldest: string | undefined;
        let at = Infinity;
        for (const [id, p] of this.peers) {
          if (p.at < at) {
            at = p.at;
            oldest = id;
          }
        }
        if (oldest !== undefined) this.peers.delete(oldest);
      }
      this.peers.set(from, { stats, at: this.clock() });
    }
  }
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

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'cross-origin-resource-policy': 'same-origin',
    ...(status === 200 && type.startsWith('text/html') ? {} : { 'content-security-policy': "default-src 'none'; frame-ancestors 'none'" }),
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
