import type { Buffer } from 'node:buffer';
import { Redis, type RedisOptions } from 'ioredis';
import { MemoryAdapter, StelarError, type ConnectionInfo } from '@stelar/core';
import { now, toErrorBody, type AdapterHost, type AnyConnection, type BroadcastTarget, type Target } from '@stelar/core/internal';
import {
  decodeBroadcast,
  decodeControl,
  encodeBroadcast,
  encodeControl,
  EnvelopeError,
  Flag,
  headerFor,
  isFrom,
  Kind,
  peekKind,
  type BroadcastEnvelope,
  type ControlEnvelope,
} from './envelope';

/** Error codes this adapter uses (counted in the hub's `getStats().errors` too). */
export const RedisErrorCode = {
  /** A message could not be published because Redis was unreachable (it is lost). */
  REDIS_DOWN: 'REDIS_DOWN',
  /** Redis refused or failed a publish while the connection looked up. */
  REDIS_PUBLISH_FAILED: 'REDIS_PUBLISH_FAILED',
  /** Broadcasts from another node never arrived here (sequence gap). */
  REDIS_MISSED: 'REDIS_MISSED',
  /** A message on our channels that is not a valid envelope. */
  REDIS_BAD_MESSAGE: 'REDIS_BAD_MESSAGE',
  /** A cross-node query did not get every live node's answer in time. */
  NODE_TIMEOUT: 'NODE_TIMEOUT',
  /** The adapter was closed with the operation pending. */
  ADAPTER_CLOSED: 'ADAPTER_CLOSED',
} as const;

export interface RedisAdapterOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. Used when no `client` is given. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * An ioredis client used as a template: the adapter makes its own two connections from it
   * with `duplicate()` (one to publish, one to subscribe) and closes them on `close()`. The
   * client itself is left as it is.
   */
  client?: Redis;
  /** Extra ioredis options for the two connections (with `url`, or on top of `client`'s). */
  redisOptions?: RedisOptions;
  /** Channel name prefix: clusters with different prefixes do not see each other. Default `stelar`. */
  prefix?: string;
  /** How long a cross-node query waits for every live node (ms). Default 5 000. */
  requestTimeout?: number;
  /** How often this node says it is alive (ms). Default 5 000. */
  heartbeatInterval?: number;
  /** A node unheard of for this long is dropped (ms). Default 15 000. */
  nodeTimeout?: number;
  /**
   * Sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7+): one channel per room, each node
   * subscribed only to the rooms it has members in. For Redis Cluster. Default false.
   */
  sharded?: boolean;
  /** `hub.ready()` rejects if Redis is not reachable within this time (ms); the adapter keeps trying. Default 10 000. */
  startTimeout?: number;
  /** Errors of the Redis connections (they are counted in `stats.redisErrors` either way). */
  onError?: (err: Error) => void;
}

/** Counters of the adapter (`adapter.stats`). */
export interface RedisAdapterStats {
  /** Broadcasts published to the other nodes. */
  published: number;
  /** Broadcasts received from other nodes and delivered here. */
  received: number;
  /** Publishes that Redis refused or that failed in flight (the message is lost). */
  publishFailures: number;
  /** Broadcasts, queries and server-side events not sent because Redis was unreachable (lost). */
  droppedWhileDown: number;
  /** Broadcasts of other nodes that never arrived here, from gaps in their sequence numbers. */
  missedFromPeers: number;
  /** Times a Redis connection (publish or subscribe) came back after a loss. */
  reconnects: number;
  /** Times a Redis connection was lost. */
  disconnects: number;
  /** Error events of the Redis connections. */
  redisErrors: number;
  /** Cross-node queries that timed out. */
  requestsTimedOut: number;
  /** Nodes dropped for silence (not counting goodbyes). */
  nodesTimedOut: number;
  /** Messages on our channels that were not valid envelopes. */
  badMessages: number;
  /** Both Redis connections are up. */
  connected: boolean;
  /** Nodes known, this one included. */
  nodes: number;
}

type Op = 'fetch' | 'count' | 'join' | 'leave' | 'disconnect' | 'emit';

interface RequestBody {
  id: number;
  op: Op;
  target?: Target;
  rooms?: string[];
  code?: number;
  reason?: string;
  event?: string;
  data?: unknown;
  ack?: boolean;
}

type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; code: string; message: string };

interface Pending {
  op: Op;
  label: string;
  asked: number;
  timeout: number;
  expected: Set<string>;
  replies: Map<string, Reply>;
  timer: ReturnType<typeof setTimeout>;
  resolve(replies: Map<string, Reply>): void;
  reject(err: unknown): void;
}

const SEQ_HALF = 0x80000000;

function unref(t: { unref?: () => void }): void {
  t.unref?.();
}

function plainTarget(t: Target): Target {
  return { rooms: [...t.rooms], exceptRooms: [...t.exceptRooms], exceptIds: [...t.exceptIds] };
}

function isTarget(t: unknown): t is Target {
  if (typeof t !== 'object' || t === null) return false;
  const o = t as Record<string, unknown>;
  const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
  return strings(o['rooms']) && strings(o['exceptRooms']) && strings(o['exceptIds']);
}

function errorOf(reply: Reply, node: string, label: string): StelarError {
  const r = reply as { code: string; message: string };
  return new StelarError(r.code, `${label}: node ${node} answered ${r.code}: ${r.message}`, { nodeId: node });
}

/**
 * Rooms and broadcast across many server processes over Redis pub/sub.
 *
 * Membership stays local (each node knows its own connections' rooms, as in `MemoryAdapter`);
 * Redis carries broadcasts (the encoded frame bytes in a small binary envelope), cross-node
 * queries (request channel + one response channel per node), server-side events and node
 * heartbeats. See the package README for the channel design and what is lost when Redis is down.
 */
export class RedisAdapter extends MemoryAdapter {
  readonly options: Readonly<Required<Omit<RedisAdapterOptions, 'client' | 'redisOptions' | 'onError' | 'url'>>> & { readonly url: string | undefined };
  private readonly template: Redis | undefined;
  private readonly redisOptions: RedisOptions;
  private readonly onError: ((err: Error) => void) | undefined;
  private pub: Redis | undefined;
  private sub: Redis | undefined;
  private header!: Buffer;
  private nodeId = '';
  private readonly channels: { bc: string; req: string; res: string; resOf: (node: string) => string; room: (room: string) => string };
  private readonly peers = new Map<string, number>();
  private readonly seqs = new Map<string, { last: number; at: number }>();
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private nextId = 0;
  private closed = false;
  private started: Promise<void> = Promise.resolve();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatSoon: ReturnType<typeof setImmediate> | undefined;
  private helloSoon: ReturnType<typeof setImmediate> | undefined;
  private startTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly counters = {
    published: 0,
    received: 0,
    publishFailures: 0,
    droppedWhileDown: 0,
    missedFromPeers: 0,
    reconnects: 0,
    disconnects: 0,
    redisErrors: 0,
    requestsTimedOut: 0,
    nodesTimedOut: 0,
    badMessages: 0,
  };

  constructor(options: RedisAdapterOptions = {}) {
    super();
    const o = {
      url: options.client ? undefined : (options.url ?? 'redis://127.0.0.1:6379'),
      prefix: options.prefix ?? 'stelar',
      requestTimeout: options.requestTimeout ?? 5_000,
      heartbeatInterval: options.heartbeatInterval ?? 5_000,
      nodeTimeout: options.nodeTimeout ?? 15_000,
      sharded: options.sharded ?? false,
      startTimeout: options.startTimeout ?? 10_000,
    };
    for (const k of ['requestTimeout', 'heartbeatInterval', 'nodeTimeout', 'startTimeout'] as const) {
      if (!(o[k] > 0) || !Number.isFinite(o[k])) throw new RangeError(`${k} must be a positive number of ms`);
    }
    if (o.nodeTimeout <= o.heartbeatInterval) throw new RangeError('nodeTimeout must be longer than heartbeatInterval');
    this.options = o;
    this.template = options.client;
    this.redisOptions = options.redisOptions ?? {};
    this.onError = options.onError;
    const p = o.prefix;
    this.channels = {
      bc: o.sharded ? `${p}#all` : `${p}#bc`,
      req: `${p}#req`,
      res: '',
      resOf: (node) => `${p}#res#${node}`,
      room: (room) => `${p}#room#${room}`,
    };
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────

  override attach(host: AdapterHost): Promise<void> {
    super.attach(host);
    this.nodeId = host.nodeId;
    this.header = headerFor(host.nodeId);
    this.channels.res = this.channels.resOf(host.nodeId);
    this.started = this.start();
    this.started.catch(() => undefined);
    return this.started;
  }

  private connection(role: 'pub' | 'sub'): Redis {
    const own: RedisOptions =
      role === 'pub'
        ? // A publish must fail at once when Redis is away (it is counted as lost), and never be
          // sent twice after a reconnection: pub/sub here is at-most-once.
          { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, enableAutoPipelining: true }
        : // (Re)subscriptions wait for the connection; ioredis resubscribes after a reconnection.
          { enableOfflineQueue: true, autoResubscribe: true, maxRetriesPerRequest: null };
    const name = { connectionName: `stelar-${role}-${this.nodeId}`.slice(0, 64) };
    const retry = { retryStrategy: (times: number) => Math.min(50 * times, 1_000) };
    let r: Redis;
    if (this.template) r = this.template.duplicate({ ...name, ...this.redisOptions, ...own });
    else r = new Redis(this.options.url!, { ...retry, ...name, ...this.redisOptions, ...own });
    if (r.status === 'wait') r.connect().catch(() => undefined);
    let wasReady = false;
    let down = false;
    r.on('ready', () => {
      if (wasReady) {
        this.counters.reconnects++;
        this.scheduleHello();
      }
      wasReady = true;
      down = false;
    });
    r.on('close', () => {
      if (wasReady && !down && !this.closed) {
        down = true;
        this.counters.disconnects++;
      }
    });
    r.on('error', (err: Error) => {
      this.counters.redisErrors++;
      this.onError?.(err);
    });
    return r;
  }

  private async start(): Promise<void> {
    const pub = (this.pub = this.connection('pub'));
    const sub = (this.sub = this.connection('sub'));
    const onMessage = (_channel: Buffer, msg: Buffer): void => this.onMessage(msg);
    sub.on(this.options.sharded ? 'smessageBuffer' : 'messageBuffer', onMessage);

    const whenReady = (r: Redis): Promise<void> =>
      r.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => r.once('ready', () => resolve()));
    const timeout = new Promise<never>((_, reject) => {
      this.startTimer = setTimeout(() => {
        reject(
          new StelarError(
            RedisErrorCode.REDIS_DOWN,
            `Redis not reachable in ${this.options.startTimeout} ms (${this.options.url ?? 'client'}); still trying in the background`,
          ),
        );
      }, this.options.startTimeout);
      unref(this.startTimer);
    });
    const channels = [this.channels.bc, this.channels.req, this.channels.res];
    // One SSUBSCRIBE per channel: sharded channels of different hash slots may not share one.
    const subscribed = this.options.sharded ? Promise.all(channels.map((c) => sub.ssubscribe(c))) : sub.subscribe(...channels);
    // Heartbeats and the sweep run from now on (a tick skips the heartbeat while Redis is away).
    this.heartbeatTimer = setInterval(() => this.tick(), this.options.heartbeatInterval);
    unref(this.heartbeatTimer);
    // Startup goes on after a start timeout: the node says hello whenever Redis is first there.
    const boot = Promise.all([whenReady(pub), whenReady(sub), subscribed]).then(() => this.sendHello());
    boot.catch(() => undefined);
    try {
      await Promise.race([boot, timeout]);
    } finally {
      clearTimeout(this.startTimer);
    }
  }

  /**
   * Leaves the cluster: stops timers, rejects pending queries, says goodbye (so other nodes stop
   * waiting for this one at once) and closes both Redis connections.
   * `goodbye: false` leaves silently, as a crash would: the others drop this node after `nodeTimeout`.
   */
  override async close(options: { goodbye?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.startTimer !== undefined) clearTimeout(this.startTimer);
    if (this.heartbeatSoon !== undefined) clearImmediate(this.heartbeatSoon);
    if (this.helloSoon !== undefined) clearImmediate(this.helloSoon);
    this.heartbeatTimer = this.startTimer = this.heartbeatSoon = this.helloSoon = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new StelarError(RedisErrorCode.ADAPTER_CLOSED, `${p.label}: the adapter was closed`));
    }
    if (options.goodbye !== false && this.pubReady()) {
      await this.send(this.channels.req, encodeControl(this.header, Kind.BYE)).catch(() => undefined);
    }
    await Promise.all([shut(this.pub), shut(this.sub)]);
    this.peers.clear();
    this.seqs.clear();
    await super.close();
  }

  /** Counters (a snapshot). */
  get stats(): RedisAdapterStats {
    return { ...this.counters, connected: this.pubReady() && this.sub?.status === 'ready', nodes: this.nodeCount() };
  }

  /** The counters as numbers, for the hub's `getStats().adapter` and Prometheus output. */
  metrics(): Record<string, number> {
    const { connected, ...counters } = this.stats;
    return { ...counters, connected: connected ? 1 : 0 };
  }

  override nodeCount(): number {
    return this.peers.size + 1;
  }

  /** Ids of the other nodes known alive. */
  nodeIds(): string[] {
    return [...this.peers.keys()];
  }

  /**
   * Resolves once every subscription change asked so far is in effect on Redis (sharded mode
   * subscribes a room's channel when its first local member joins).
   */
  async sync(): Promise<void> {
    if (this.sub && this.sub.status === 'ready') await this.sub.ping();
  }

  // ── rooms (sharded mode: one channel per room with local members) ──────────

  /** In sharded mode, resolves once the channels of rooms new to this node are subscribed. */
  override join(conn: AnyConnection, rooms: readonly string[]): void | Promise<void> {
    if (!this.options.sharded) {
      super.join(conn, rooms);
      return undefined;
    }
    const fresh = rooms.filter((r) => !this.rooms.has(r));
    super.join(conn, rooms);
    const subscribed: Promise<unknown>[] = [];
    for (const r of fresh) {
      const sub = this.sub;
      if (this.rooms.has(r) && sub) subscribed.push(sub.ssubscribe(this.channels.room(r)).catch((err: unknown) => this.subscriptionFailed(err)));
    }
    return subscribed.length ? Promise.all(subscribed).then(() => undefined) : undefined;
  }

  override leave(conn: AnyConnection, room: string): boolean {
    const was = super.leave(conn, room);
    if (was && this.options.sharded && !this.rooms.has(room) && !this.closed) {
      this.sub?.sunsubscribe(this.channels.room(room)).catch((err: unknown) => this.subscriptionFailed(err));
    }
    return was;
  }

  private subscriptionFailed(err: unknown): void {
    if (this.closed) return;
    this.counters.redisErrors++;
    this.onError?.(err instanceof Error ? err : new Error(String(err)));
  }

  // ── broadcast ───────────────────────────────────────────────────────────────

  override broadcast(frame: Uint8Array, target: BroadcastTarget): void {
    this.deliver(frame, target);
    if (target.local || this.closed) return;
    const room = this.options.sharded && target.rooms.length === 1 ? target.rooms[0]! : undefined;
    let flags = target.volatile ? Flag.VOLATILE : 0;
    let seq = 0;
    if (room === undefined) {
      // The global stream is numbered so receivers can count what they missed.
      flags |= Flag.SEQUENCED;
      seq = this.seq = (this.seq + 1) >>> 0;
    }
    if (!this.pubReady()) {
      this.lost();
      return;
    }
    const msg = encodeBroadcast(this.header, flags, seq, target, frame);
    this.send(room === undefined ? this.channels.bc : this.channels.room(room), msg).then(
      () => {
        this.counters.published++;
      },
      (err: unknown) => this.publishFailed(err),
    );
  }

  private pubReady(): boolean {
    return this.pub !== undefined && this.pub.status === 'ready';
  }

  private send(channel: string, msg: Buffer): Promise<unknown> {
    const pub = this.pub!;
    return this.options.sharded ? pub.spublish(channel, msg) : pub.publish(channel, msg);
  }

  /** A message not sent because Redis is away. */
  private lost(): void {
    this.counters.droppedWhileDown++;
    this.host.countError(RedisErrorCode.REDIS_DOWN);
  }

  private publishFailed(err: unknown): void {
    this.counters.publishFailures++;
    // In flight when the connection dropped, or refused by Redis.
    this.host.countError(this.pubReady() ? RedisErrorCode.REDIS_PUBLISH_FAILED : RedisErrorCode.REDIS_DOWN);
    if (!this.closed) this.onError?.(err instanceof Error ? err : new Error(String(err)));
  }

  // ── receiving ───────────────────────────────────────────────────────────────

  private onMessage(msg: Buffer): void {
    if (this.closed || isFrom(msg, this.header)) return; // our own message, already delivered locally
    try {
      if (peekKind(msg) === Kind.BROADCAST) this.onBroadcast(decodeBroadcast(msg));
      else this.onControl(decodeControl(msg));
    } catch (err) {
      if (err instanceof EnvelopeError) {
        this.counters.badMessages++;
        this.host.countError(RedisErrorCode.REDIS_BAD_MESSAGE);
      } else {
        // Not ours to throw into the Redis client's parser.
        this.host.countError('HANDLER_ERROR');
        this.onError?.(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  private onBroadcast(env: BroadcastEnvelope): void {
    this.seen(env.origin);
    if (env.flags & Flag.SEQUENCED) this.checkSeq(env.origin, env.seq, 1);
    this.counters.received++;
    this.deliver(env.frame, {
      rooms: env.rooms,
      exceptRooms: env.exceptRooms,
      exceptIds: env.exceptIds,
      volatile: (env.flags & Flag.VOLATILE) !== 0,
      local: true,
    });
  }

  /**
   * Counts broadcasts of `origin` that never arrived. `step` is 1 for a broadcast (its seq is
   * the next expected) and 0 for a heartbeat (its seq is the last one sent).
   */
  private checkSeq(origin: string, seq: number, step: 0 | 1): void {
    const s = this.seqs.get(origin);
    if (!s) {
      this.seqs.set(origin, { last: seq, at: now() });
      return;
    }
    s.at = now();
    const ahead = (seq - s.last) >>> 0;
    if (ahead === 0) return;
    if (ahead >= SEQ_HALF) {
      // Behind us: the node restarted with the same id. Start over.
      s.last = seq;
      return;
    }
    const missed = ahead - step;
    if (missed > 0) {
      this.counters.missedFromPeers += missed;
      this.host.countError(RedisErrorCode.REDIS_MISSED); // once per gap; stats.missedFromPeers has the number
    }
    s.last = seq;
  }

  private onControl(env: ControlEnvelope): void {
    const body = env.body as Record<string, unknown> | undefined;
    switch (env.kind) {
      case Kind.HELLO: {
        this.seen(env.origin);
        // Also sent after a reconnection: the gap of an outage is counted here.
        const seq = body?.['seq'];
        if (typeof seq === 'number') this.checkSeq(env.origin, seq, 0);
        // Answer at once so the newcomer knows every node without waiting a heartbeat.
        this.scheduleHeartbeat();
        return;
      }
      case Kind.HEARTBEAT: {
        this.seen(env.origin);
        const seq = body?.['seq'];
        if (typeof seq === 'number') this.checkSeq(env.origin, seq, 0);
        return;
      }
      case Kind.BYE:
        this.seqs.delete(env.origin);
        this.dropNode(env.origin);
        return;
      case Kind.REQUEST:
        this.seen(env.origin);
        this.onRequest(env.origin, body as unknown as RequestBody);
        return;
      case Kind.RESPONSE:
        this.seen(env.origin);
        this.onResponse(env.origin, body as unknown as Reply);
        return;
    }
  }

  // ── membership ──────────────────────────────────────────────────────────────

  private seen(node: string): void {
    this.peers.set(node, now());
  }

  private dropNode(node: string): void {
    if (!this.peers.delete(node)) return;
    // Queries stop waiting for a node that is gone.
    for (const [id, p] of this.pending) {
      if (p.expected.delete(node)) this.settle(id, p);
    }
  }

  private tick(): void {
    const t = now();
    for (const [node, at] of this.peers) {
      if (t - at > this.options.nodeTimeout) {
        this.counters.nodesTimedOut++;
        this.dropNode(node);
      }
    }
    // Sequence state outlives a node's drop (so an outage's gap is still counted when it comes
    // back), but not for ever.
    for (const [node, s] of this.seqs) {
      if (!this.peers.has(node) && t - s.at > 10 * this.options.nodeTimeout) this.seqs.delete(node);
    }
    this.sendHeartbeat();
  }

  private membershipBody(): { seq?: number } {
    // In sharded mode the heartbeat and the global stream are different shard channels, with no
    // order between them, so the heartbeat cannot tell what the last broadcast was.
    return this.options.sharded ? {} : { seq: this.seq };
  }

  private sendHeartbeat(): void {
    if (this.closed || !this.pubReady()) return;
    this.send(this.channels.req, encodeControl(this.header, Kind.HEARTBEAT, this.membershipBody())).catch(() => undefined);
  }

  private scheduleHeartbeat(): void {
    if (this.heartbeatSoon !== undefined || this.closed) return;
    this.heartbeatSoon = setImmediate(() => {
      this.heartbeatSoon = undefined;
      this.sendHeartbeat();
    });
  }

  private sendHello(): void {
    if (this.closed || !this.pubReady()) return;
    this.send(this.channels.req, encodeControl(this.header, Kind.HELLO, this.membershipBody())).catch(() => undefined);
  }

  /** After a reconnection: once the subscriptions are back, announce ourselves again. */
  private scheduleHello(): void {
    if (this.helloSoon !== undefined || this.closed) return;
    this.helloSoon = setImmediate(() => {
      this.helloSoon = undefined;
      const sub = this.sub;
      if (this.closed || !sub || sub.status !== 'ready' || !this.pubReady()) return;
      // ioredis resubscribes right after 'ready'; a PING behind those commands tells they are done.
      sub.ping().then(
        () => this.sendHello(),
        () => undefined,
      );
    });
  }

  // ── cross-node queries ──────────────────────────────────────────────────────

  override async fetchConnections(target: Target, options: { timeout?: number } = {}): Promise<ConnectionInfo[]> {
    const local = this.localMatches(target).map((c) => c.info());
    const replies = await this.ask('fetch', 'fetchConnections', { target: plainTarget(target) }, options.timeout);
    for (const [, r] of replies) if (r.ok && Array.isArray(r.value)) for (const info of r.value as ConnectionInfo[]) local.push(info);
    return local;
  }

  /** Number of connections matching a target, on every node (without shipping their descriptions). */
  override async countConnections(target: Target, options: { timeout?: number } = {}): Promise<number> {
    let n = this.localMatches(target).length;
    const replies = await this.ask('count', 'countConnections', { target: plainTarget(target) }, options.timeout);
    for (const [, r] of replies) if (r.ok && typeof r.value === 'number') n += r.value;
    return n;
  }

  override async addConnectionsToRooms(target: Target, rooms: readonly string[], options: { timeout?: number } = {}): Promise<void> {
    await super.addConnectionsToRooms(target, rooms);
    await this.ask('join', 'addConnectionsToRooms', { target: plainTarget(target), rooms: [...rooms] }, options.timeout);
    if (this.options.sharded) await this.sync();
  }

  override async removeConnectionsFromRooms(target: Target, rooms: readonly string[], options: { timeout?: number } = {}): Promise<void> {
    await super.removeConnectionsFromRooms(target, rooms);
    await this.ask('leave', 'removeConnectionsFromRooms', { target: plainTarget(target), rooms: [...rooms] }, options.timeout);
  }

  override async disconnectConnections(target: Target, code: number, reason: string, options: { timeout?: number } = {}): Promise<void> {
    await super.disconnectConnections(target, code, reason);
    await this.ask('disconnect', 'disconnectConnections', { target: plainTarget(target), code, reason }, options.timeout);
  }

  /**
   * Sends an event to the other nodes' `hub.onServerEvent` handlers. With `ack`, resolves with
   * every live node's reply (rejects with the node's error code if a handler failed or had
   * none, NODE_TIMEOUT if a node did not answer in time); without, once published.
   */
  override async serverSideEmit(event: string, data?: unknown, options: { ack?: boolean; timeout?: number } = {}): Promise<unknown[]> {
    if (typeof event !== 'string' || event.length === 0) throw new StelarError('BAD_EVENT', 'serverSideEmit needs an event name');
    const label = `serverSideEmit("${event}")`;
    if (options.ack) {
      const replies = await this.ask('emit', label, { event, data, ack: true }, options.timeout);
      return [...replies.values()].map((r) => (r as { value?: unknown }).value);
    }
    await this.settled();
    if (this.closed) throw new StelarError(RedisErrorCode.ADAPTER_CLOSED, `${label}: the adapter is closed`);
    const msg = encodeControl(this.header, Kind.REQUEST, { id: 0, op: 'emit', event, data, ack: false } satisfies RequestBody);
    if (!this.pubReady()) {
      this.lost();
      throw new StelarError(RedisErrorCode.REDIS_DOWN, `${label}: Redis is unreachable, the event was not sent`);
    }
    try {
      await this.send(this.channels.req, msg);
    } catch (err) {
      this.publishFailed(err);
      throw new StelarError(RedisErrorCode.REDIS_DOWN, `${label}: publish failed: ${(err as Error).message}`);
    }
    return [];
  }

  private async settled(): Promise<void> {
    await this.started.catch(() => undefined);
  }

  /**
   * Publishes a request and waits for every node alive when it was sent (nodes dropped meanwhile
   * are not waited for). Rejects on the first error reply, and with NODE_TIMEOUT in time.
   */
  private async ask(op: Op, label: string, body: Omit<RequestBody, 'id' | 'op'>, timeout = this.options.requestTimeout): Promise<Map<string, Reply>> {
    await this.settled();
    if (this.closed) throw new StelarError(RedisErrorCode.ADAPTER_CLOSED, `${label}: the adapter is closed`);
    const expected = new Set(this.peers.keys());
    if (expected.size === 0) return new Map();
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const id = this.nextId;
    let msg: Buffer;
    try {
      msg = encodeControl(this.header, Kind.REQUEST, { id, op, ...body } satisfies RequestBody);
    } catch (err) {
      throw new StelarError('BAD_PAYLOAD', `${label}: data is not JSON-serialisable: ${(err as Error).message}`);
    }
    if (!this.pubReady()) {
      this.lost();
      throw new StelarError(RedisErrorCode.REDIS_DOWN, `${label}: Redis is unreachable, no node was asked`);
    }
    return new Promise<Map<string, Reply>>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(id), timeout);
      unref(timer);
      const p: Pending = { op, label, asked: expected.size, timeout, expected, replies: new Map(), timer, resolve, reject };
      this.pending.set(id, p);
      this.send(this.channels.req, msg).catch((err: unknown) => {
        this.publishFailed(err);
        this.finish(id, p, new StelarError(RedisErrorCode.REDIS_DOWN, `${label}: publish failed: ${(err as Error).message}`));
      });
    });
  }

  private finish(id: number, p: Pending, err?: unknown): void {
    if (this.pending.get(id) !== p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err !== undefined) p.reject(err);
    else p.resolve(p.replies);
  }

  private settle(id: number, p: Pending): void {
    for (const node of p.expected) if (!p.replies.has(node)) return;
    this.finish(id, p);
  }

  private expire(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.counters.requestsTimedOut++;
    this.host.countError(RedisErrorCode.NODE_TIMEOUT);
    const missing = [...p.expected].filter((n) => !p.replies.has(n));
    const answered = p.asked - missing.length;
    this.finish(
      id,
      p,
      new StelarError(
        RedisErrorCode.NODE_TIMEOUT,
        `${p.label} timed out after ${p.timeout} ms: ${answered} of ${p.asked} other node${p.asked === 1 ? '' : 's'} answered (no answer from ${missing.join(', ')})`,
        { answered, asked: p.asked, missing },
      ),
    );
  }

  private onResponse(node: string, reply: Reply): void {
    if (typeof reply !== 'object' || reply === null || typeof reply.id !== 'number') throw new EnvelopeError('bad response');
    const p = this.pending.get(reply.id);
    if (!p || p.replies.has(node)) return; // timed out already, or a duplicate
    if (!reply.ok) {
      this.finish(reply.id, p, errorOf(reply, node, p.label));
      return;
    }
    p.replies.set(node, reply);
    this.settle(reply.id, p);
  }

  private onRequest(from: string, req: RequestBody): void {
    if (typeof req !== 'object' || req === null || typeof req.id !== 'number' || typeof req.op !== 'string') throw new EnvelopeError('bad request');
    const answer = (ok: boolean, value: unknown): void => {
      if (req.op === 'emit' && !req.ack) return;
      let reply: Reply;
      if (ok) reply = { id: req.id, ok: true, value };
      else {
        const b = toErrorBody(value);
        reply = { id: req.id, ok: false, code: b.code, message: b.message };
      }
      let msg: Buffer;
      try {
        msg = encodeControl(this.header, Kind.RESPONSE, reply);
      } catch (err) {
        msg = encodeControl(this.header, Kind.RESPONSE, { id: req.id, ok: false, code: 'HANDLER_ERROR', message: `reply is not JSON-serialisable: ${(err as Error).message}` });
      }
      if (!this.pubReady()) {
        this.lost();
        return;
      }
      this.send(this.channels.resOf(from), msg).catch((err: unknown) => this.publishFailed(err));
    };
    const needsTarget = req.op !== 'emit';
    if (needsTarget && !isTarget(req.target)) throw new EnvelopeError('request without a target');
    try {
      switch (req.op) {
        case 'fetch':
          answer(true, this.localMatches(req.target!).map((c) => c.info()));
          return;
        case 'count':
          answer(true, this.localMatches(req.target!).length);
          return;
        case 'join': {
          const matches = this.localMatches(req.target!);
          for (const c of matches) {
            try {
              void c.join(req.rooms ?? []);
            } catch {
              /* over its room limit: counted by that node's hub */
            }
          }
          if (this.options.sharded) {
            // Answer once the new room channels are subscribed, so a broadcast sent after the
            // caller's await reaches them.
            this.sync().then(
              () => answer(true, matches.length),
              (err: unknown) => answer(false, err),
            );
          } else answer(true, matches.length);
          return;
        }
        case 'leave': {
          const matches = this.localMatches(req.target!);
          for (const c of matches) for (const r of req.rooms ?? []) c.leave(r);
          answer(true, matches.length);
          return;
        }
        case 'disconnect': {
          const matches = this.localMatches(req.target!);
          for (const c of matches) c.disconnect(req.code, req.reason ?? '');
          answer(true, matches.length);
          return;
        }
        case 'emit': {
          if (typeof req.event !== 'string') throw new EnvelopeError('server event without a name');
          this.host.handleServerEvent(req.event, req.data, from).then(
            (v) => answer(true, v),
            (err: unknown) => {
              if (!req.ack) this.host.countError(toErrorBody(err).code);
              answer(false, err);
            },
          );
          return;
        }
        default:
          answer(false, new StelarError('BAD_REQUEST', `unknown operation "${String(req.op)}"`));
      }
    } catch (err) {
      if (err instanceof EnvelopeError) throw err;
      answer(false, err);
    }
  }
}

async function shut(r: Redis | undefined): Promise<void> {
  if (!r) return;
  if (r.status === 'ready') {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quit = r.quit().then(
      () => undefined,
      () => undefined,
    );
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1_000);
    });
    await Promise.race([quit, late]);
    clearTimeout(timer);
  }
  r.disconnect();
}

/** A Redis adapter for `new Hub({ adapter })`. */
export function createRedisAdapter(options: RedisAdapterOptions = {}): RedisAdapter {
  return new RedisAdapter(options);
}
