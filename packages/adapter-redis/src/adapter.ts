import { Buffer } from 'node:buffer';
import { randomInt } from 'node:crypto';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { encodeBinary, encodeJson } from '@stelar/codec-tcp';
import { MemoryAdapter, StelarError, type ConnectionHandle, type ConnectionInfo } from '@stelar/core';
import {
  asBytes,
  isBinary,
  LocalConnectionHandle,
  linkOf,
  now,
  toErrorBody,
  type AdapterHost,
  type AnyConnection,
  type BroadcastTarget,
  type Link,
  type Target,
} from '@stelar/core/internal';
import {
  decodeBatch,
  decodeBroadcast,
  decodeControl,
  encodeBatch,
  encodeBroadcast,
  encodeControl,
  EnvelopeError,
  Flag,
  headerFor,
  isFrom,
  Kind,
  markResent,
  peekKind,
  type BroadcastEnvelope,
  type ControlEnvelope,
} from './envelope';
import { RemoteConnectionHandle, type RemoteOps } from './handles';
import { Failure, Publisher, type Entry } from './publisher';
import { duplicate, isCluster, isReady, numsub, publishLink, type RedisClient } from './redis';

/** Error codes this adapter uses (counted in the hub's `getStats().errors` too). */
export const RedisErrorCode = {
  /** A message was not sent: Redis was unreachable until its deadline (`publishTimeout`). Lost. */
  REDIS_DOWN: 'REDIS_DOWN',
  /** A message was not sent: `maxPendingPublishes` / `maxPendingBytes` were reached. Lost. */
  REDIS_BUFFER_FULL: 'REDIS_BUFFER_FULL',
  /** A message was in flight when its connection broke or stalled: it may or may not have arrived. */
  REDIS_UNCONFIRMED: 'REDIS_UNCONFIRMED',
  /** Redis answered a publish with an error. Lost. */
  REDIS_PUBLISH_FAILED: 'REDIS_PUBLISH_FAILED',
  /** Broadcasts from another node never arrived here (a gap in its sequence numbers). */
  REDIS_MISSED: 'REDIS_MISSED',
  /** A message on our channels that is not a valid envelope. */
  REDIS_BAD_MESSAGE: 'REDIS_BAD_MESSAGE',
  /** Redis refused a subscription, or it did not complete in time. */
  REDIS_SUBSCRIBE_FAILED: 'REDIS_SUBSCRIBE_FAILED',
  /** A cross-node query did not get every live node's answer in time. */
  NODE_TIMEOUT: 'NODE_TIMEOUT',
  /** The adapter was closed with the operation pending. */
  ADAPTER_CLOSED: 'ADAPTER_CLOSED',
} as const;

export interface RedisAdapterOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. Used when no `client` is given. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * An ioredis client used as a template, a single `Redis` or a `Cluster`: the adapter makes its
   * own two connections from it with `duplicate()` (one to publish, one to subscribe) and closes
   * them on `close()`. The client itself is left as it is.
   */
  client?: Redis | Cluster;
  /** Extra ioredis options for the two connections (with `url`, or on top of `client`'s). */
  redisOptions?: RedisOptions;
  /** Channel name prefix: clusters with different prefixes do not see each other. Default `stelar`. */
  prefix?: string;
  /** How long a cross-node query waits for every live node (ms). Default 5 000. */
  requestTimeout?: number;
  /** How often this node says it is alive (ms). Default 5 000. */
  heartbeatInterval?: number;
  /** A node unheard of for this long is not waited for any more (ms). Default 15 000. */
  nodeTimeout?: number;
  /**
   * Sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7+): one channel per room, each node
   * subscribed only to the rooms it has members in. For Redis Cluster. Default false.
   */
  sharded?: boolean;
  /** `hub.ready()` rejects if Redis is not reachable within this time (ms); the adapter keeps trying. Default 10 000. */
  startTimeout?: number;
  /**
   * `hub.ready()` waits this long at most (ms) for the other nodes Redis reports subscribed to
   * say who they are. Default 1 000.
   */
  discoveryTimeout?: number;
  /**
   * Every publish is settled within this many ms: sent, or counted as lost / unconfirmed. A
   * publish in flight this long means Redis stalled, and the connection is replaced. Default 2 000.
   */
  publishTimeout?: number;
  /** Publishes waiting for Redis or in flight, at most; more are dropped and counted. Default 10 000. */
  maxPendingPublishes?: number;
  /** Bytes of those, at most. Default 32 MiB. */
  maxPendingBytes?: number;
  /**
   * While a query waits, how often (ms) it asks Redis whether the nodes it waits for are still
   * subscribed, so a crashed node stops delaying it. Default 500.
   */
  probeInterval?: number;
  /** Errors of the Redis connections, and reports of lost messages (they are counted either way). */
  onError?: (err: Error) => void;
}

/** Counters of the adapter (`adapter.stats`). */
export interface RedisAdapterStats {
  /** Broadcasts published to the other nodes (Redis confirmed). */
  published: number;
  /** Broadcasts received from other nodes and delivered here. */
  received: number;
  /** Messages Redis answered with an error (lost). */
  publishFailures: number;
  /** Messages in flight when their connection broke or stalled: may or may not have arrived. */
  publishUnconfirmed: number;
  /** Messages not sent because Redis was unreachable until their deadline (lost). */
  droppedWhileDown: number;
  /** Messages not sent because the pending buffer was full (lost). */
  droppedBufferFull: number;
  /** Broadcasts of other nodes that never arrived here, from gaps in their sequence numbers. */
  missedFromPeers: number;
  /** Copies of a broadcast received twice (a resend by the Redis client), not delivered again. */
  duplicatesDropped: number;
  /** Heartbeats, hellos and marks not sent (membership traffic, not messages). */
  controlDropped: number;
  /** Times a Redis connection (publish or subscribe) came back after a loss. */
  reconnects: number;
  /** Times a Redis connection was lost. */
  disconnects: number;
  /** Times the publish connection was replaced because Redis stopped answering. */
  publishStalls: number;
  /** Publishes that carried several broadcasts of one event-loop turn (one channel). */
  publishBatches: number;
  /** Error events of the Redis connections. */
  redisErrors: number;
  /** Subscriptions refused by Redis or not completed in time. */
  subscribeFailures: number;
  /** Cross-node queries that timed out. */
  requestsTimedOut: number;
  /** Nodes dropped for silence (not counting goodbyes). */
  nodesTimedOut: number;
  /** Nodes dropped because Redis no longer had them subscribed (a crash, a lost connection). */
  nodesGone: number;
  /** Messages on our channels that were not valid envelopes. */
  badMessages: number;
  /** Publishes waiting for Redis or in flight now. */
  pendingPublishes: number;
  /** Bytes of those. */
  pendingBytes: number;
  /** Both Redis connections are up. */
  connected: boolean;
  /** Nodes known, this one included. */
  nodes: number;
}

type Op = 'fetch' | 'count' | 'join' | 'leave' | 'disconnect' | 'emit' | 'c.request' | 'c.join' | 'c.leave' | 'c.disconnect';

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
  /** A connection id (ops on one connection). */
  conn?: string;
  timeout?: number;
}

type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; code: string; message: string };

interface Pending {
  op: Op;
  label: string;
  timeout: number;
  /** Redis confirmed the request: `expected` and `unknown` are set. */
  confirmed: boolean;
  /** Known nodes that received the request and are waited for. */
  expected: Set<string>;
  /** Receivers Redis counted that this node does not know by id (yet). */
  unknown: number;
  /** Receivers found dead (not waited for). */
  gone: Set<string>;
  replies: Map<string, Reply>;
  timer: ReturnType<typeof setTimeout>;
  probeTimer: ReturnType<typeof setTimeout> | undefined;
  probing: boolean;
  resolve(replies: Map<string, Reply>): void;
  reject(err: unknown): void;
}

/** Numbering of one stream of broadcasts (sender side). */
interface OutStream {
  epoch: number;
  seq: number;
  /** A publish of this stream reached a subscriber at least once. */
  heard?: boolean;
}

/** What a receiver knows of one stream of another node. */
interface InStream {
  epoch: number;
  last: number;
}

interface PeerStreams {
  global: InStream | undefined;
  rooms: Map<string, InStream> | undefined;
  at: number;
}

const SEQ_HALF = 0x80000000;
/** Sender-side numbering is kept for this many room streams at most (then restarted). */
const MAX_ROOM_STREAMS = 100_000;

const randomEpoch = (): number => randomInt(1, 0xffffffff);

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

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A promise that rejects after `ms` (the timer is cleared either way). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete in ${ms} ms`)), ms);
    unref(timer);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const FAILURE_CODE: Record<Failure, string> = {
  [Failure.DOWN]: RedisErrorCode.REDIS_DOWN,
  [Failure.FULL]: RedisErrorCode.REDIS_BUFFER_FULL,
  [Failure.UNCONFIRMED]: RedisErrorCode.REDIS_UNCONFIRMED,
  [Failure.REFUSED]: RedisErrorCode.REDIS_PUBLISH_FAILED,
  [Failure.CLOSED]: RedisErrorCode.ADAPTER_CLOSED,
};

const FAILURE_TEXT: Record<Failure, string> = {
  [Failure.DOWN]: 'not sent: Redis unreachable',
  [Failure.FULL]: 'not sent: pending publish buffer full',
  [Failure.UNCONFIRMED]: 'unconfirmed: in flight when the Redis connection broke or stalled',
  [Failure.REFUSED]: 'refused by Redis',
  [Failure.CLOSED]: 'not sent: adapter closed',
};

/**
 * Rooms and broadcast across many server processes over Redis pub/sub.
 *
 * Membership stays local (each node knows its own connections' rooms, as in `MemoryAdapter`);
 * Redis carries broadcasts (the encoded frame bytes in a small binary envelope), cross-node
 * queries (request channel + one response channel per node), operations on one remote
 * connection, server-side events and node heartbeats. See the package README for the channel
 * design, the delivery guarantees and what happens when Redis fails.
 */
export class RedisAdapter extends MemoryAdapter {
  readonly options: Readonly<Required<Omit<RedisAdapterOptions, 'client' | 'redisOptions' | 'onError' | 'url'>>> & { readonly url: string | undefined };
  private readonly template: RedisClient | undefined;
  private readonly redisOptions: RedisOptions;
  private readonly onError: ((err: Error) => void) | undefined;
  private pub: RedisClient | undefined;
  private sub: RedisClient | undefined;
  private publisher: Publisher | undefined;
  private header!: Buffer;
  private nodeId = '';
  private readonly channels: { global: string; req: string; res: string; resOf: (node: string) => string; room: (room: string) => string };
  /** Other nodes known alive, with when they were last heard. */
  private readonly peers = new Map<string, number>();
  /** Nodes dropped for silence whose subscription may still be there (hung): not waited for. */
  private readonly silent = new Map<string, number>();
  private readonly inStreams = new Map<string, PeerStreams>();
  private readonly globalStream: OutStream = { epoch: randomEpoch(), seq: 0 };
  private readonly roomStreams = new Map<string, OutStream>();
  /**
   * Room streams with a failed publish, and when: their MARK is sent when the publish connection
   * is back and again whenever a node says hello (it has just resubscribed, and may have missed
   * the earlier mark). Marks are idempotent; a room is forgotten after 10 × nodeTimeout.
   */
  private readonly dirtyRooms = new Map<string, number>();
  private readonly pending = new Map<number, Pending>();
  /** Subscription commands not answered yet (what `sync()` waits for). */
  private readonly subscribing = new Set<Promise<unknown>>();
  private readonly discoveryWaiters = new Set<() => void>();
  private expectedPeers = 0;
  private subscribedOnce = false;
  /** Why the first subscription failed (then `ready()` rejects with it). */
  private subscribeError: StelarError | undefined;
  /** A broadcast of the global stream failed: a heartbeat (with its number) goes out once back. */
  private globalDirty = false;
  private nextId = 0;
  private closed = false;
  private probingMembers = false;
  private started: Promise<void> = Promise.resolve();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatSoon: ReturnType<typeof setImmediate> | undefined;
  private startTimer: ReturnType<typeof setTimeout> | undefined;
  private reportTimer: ReturnType<typeof setImmediate> | undefined;
  private readonly toReport = new Map<string, { n: number; text: string }>();
  private readonly counters = {
    published: 0,
    received: 0,
    publishFailures: 0,
    publishUnconfirmed: 0,
    droppedWhileDown: 0,
    droppedBufferFull: 0,
    missedFromPeers: 0,
    duplicatesDropped: 0,
    controlDropped: 0,
    reconnects: 0,
    disconnects: 0,
    redisErrors: 0,
    subscribeFailures: 0,
    requestsTimedOut: 0,
    nodesTimedOut: 0,
    nodesGone: 0,
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
      discoveryTimeout: options.discoveryTimeout ?? 1_000,
      publishTimeout: options.publishTimeout ?? 2_000,
      maxPendingPublishes: options.maxPendingPublishes ?? 10_000,
      maxPendingBytes: options.maxPendingBytes ?? 32 * 1024 * 1024,
      probeInterval: options.probeInterval ?? 500,
    };
    for (const k of [
      'requestTimeout',
      'heartbeatInterval',
      'nodeTimeout',
      'startTimeout',
      'discoveryTimeout',
      'publishTimeout',
      'maxPendingPublishes',
      'maxPendingBytes',
      'probeInterval',
    ] as const) {
      if (!(o[k] > 0) || !Number.isFinite(o[k])) throw new RangeError(`${k} must be a positive number`);
    }
    if (o.nodeTimeout <= o.heartbeatInterval) throw new RangeError('nodeTimeout must be longer than heartbeatInterval');
    if (o.prefix.length === 0 || /[{}]/.test(o.prefix)) throw new RangeError('prefix must be a non-empty string without { or }');
    this.options = o;
    this.template = options.client;
    this.redisOptions = options.redisOptions ?? {};
    this.onError = options.onError;
    // Control channels and the global stream share one hash slot (the `{prefix}` tag): on a
    // Cluster they live on one shard, so a query can count its receivers atomically with its
    // publish, and a heartbeat is ordered with the broadcasts it numbers. Room channels spread.
    const tag = `{${o.prefix}}`;
    this.channels = {
      global: o.sharded ? `${tag}#all` : `${tag}#bc`,
      req: `${tag}#req`,
      res: '',
      resOf: (node) => `${tag}#res#${node}`,
      room: (room) => `${o.prefix}#room#${room}`,
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

  private connection(role: 'pub' | 'sub'): RedisClient {
    const cluster = this.template !== undefined && isCluster(this.template);
    const own: RedisOptions =
      role === 'pub'
        ? // The adapter's Publisher queues, bounds and times out publishes itself; ioredis must
          // neither queue them offline nor resend them (pub/sub is at most once here) nor
          // auto-pipeline them (a pipeline stuck on a dropped command blocks every later one).
          { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, enableAutoPipelining: false, maxRetriesPerRequest: 0 }
        : cluster
          ? // ioredis's Cluster resubscribes by itself (per shard with shardedSubscribers).
            { enableAutoPipelining: false }
          : // A single Redis: the adapter resubscribes on every 'ready' (what it needs now, not
            // what was subscribed when the connection dropped) and bounds each command itself.
            { enableOfflineQueue: false, autoResubscribe: false, autoResendUnfulfilledCommands: false, enableAutoPipelining: false, maxRetriesPerRequest: 0 };
    const name = { connectionName: `stelar-${role}-${this.nodeId}`.slice(0, 64) };
    const retry = { retryStrategy: (times: number) => Math.min(50 * times, 500) };
    let r: RedisClient;
    if (this.template) {
      r = duplicate(this.template, { ...name, ...this.redisOptions, ...own }, role === 'sub' ? { shardedSubscribers: this.options.sharded } : { enableOfflineQueue: false });
    } else r = new Redis(this.options.url!, { ...retry, ...name, ...this.redisOptions, ...own });
    if (r.status === 'wait') r.connect().catch(() => undefined);
    let wasReady = false;
    let down = false;
    r.on('ready', () => {
      if (wasReady) this.counters.reconnects++;
      wasReady = true;
      down = false;
      if (role === 'pub') this.pubReady();
      else this.subReady();
    });
    r.on('close', () => {
      // (The subscribe connection needs nothing here: its next 'ready' resubscribes.)
      if (role === 'pub') this.publisher?.onClose();
      if (wasReady && !down && !this.closed) {
        down = true;
        this.counters.disconnects++;
      }
    });
    r.on('error', (err: Error) => {
      this.counters.redisErrors++;
      if (!this.closed) this.onError?.(err);
    });
    return r;
  }

  private async start(): Promise<void> {
    const pub = (this.pub = this.connection('pub'));
    this.publisher = new Publisher(publishLink(pub, this.options.sharded), {
      combine: (msgs) => encodeBatch(this.header, msgs),
      timeout: this.options.publishTimeout,
      maxPending: this.options.maxPendingPublishes,
      maxPendingBytes: this.options.maxPendingBytes,
    });
    const sub = (this.sub = this.connection('sub'));
    const onMessage = (_channel: Buffer, msg: Buffer): void => this.onMessage(msg);
    sub.on(this.options.sharded ? 'smessageBuffer' : 'messageBuffer', onMessage);
    // Heartbeats and the sweep run from now on (a tick skips the heartbeat while Redis is away).
    this.heartbeatTimer = setInterval(() => this.tick(), this.options.heartbeatInterval);
    unref(this.heartbeatTimer);

    const boot = this.boot();
    boot.catch(() => undefined);
    const timeout = new Promise<never>((_, reject) => {
      this.startTimer = setTimeout(() => {
        const subscribing = isReady(this.sub) && !this.subscribedOnce;
        reject(
          subscribing
            ? new StelarError(
                RedisErrorCode.REDIS_SUBSCRIBE_FAILED,
                `Redis is reachable but the subscriptions did not complete in ${this.options.startTimeout} ms` +
                  (this.options.sharded && isCluster(sub) ? ' (on a Cluster, sharded mode needs the subscriber to use shardedSubscribers)' : ''),
              )
            : new StelarError(
                RedisErrorCode.REDIS_DOWN,
                `Redis not reachable in ${this.options.startTimeout} ms (${this.options.url ?? 'client'}); still trying in the background`,
              ),
        );
      }, this.options.startTimeout);
      unref(this.startTimer);
    });
    try {
      await Promise.race([boot, timeout]);
    } finally {
      clearTimeout(this.startTimer);
    }
  }

  /** Subscribed and connected, then the other nodes discovered (or `discoveryTimeout`). */
  private async boot(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.closed) reject(new StelarError(RedisErrorCode.ADAPTER_CLOSED, 'the adapter was closed while starting'));
        else if (this.subscribedOnce && isReady(this.pub) && this.publisher) {
          this.discoveryWaiters.delete(check);
          resolve();
        } else if (this.subscribeError) {
          this.discoveryWaiters.delete(check);
          reject(this.subscribeError);
        }
      };
      this.discoveryWaiters.add(check);
      check();
    });
    // Redis says how many other nodes are subscribed; wait (a little) until each has said hello.
    const others = await this.hello().catch(() => 0);
    this.expectedPeers = others;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.discoveryTimeout);
      unref(timer);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      const check = (): void => {
        if (this.closed || this.peers.size >= this.expectedPeers) {
          this.discoveryWaiters.delete(check);
          done();
        }
      };
      this.discoveryWaiters.add(check);
      check();
    });
  }

  private pokeDiscovery(): void {
    for (const w of [...this.discoveryWaiters]) w();
  }

  /**
   * Leaves the cluster: stops timers, rejects pending queries, says goodbye (so other nodes stop
   * waiting for this one at once) and closes both Redis connections.
   * `goodbye: false` leaves silently, as a crash would.
   */
  override async close(options: { goodbye?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.startTimer !== undefined) clearTimeout(this.startTimer);
    if (this.heartbeatSoon !== undefined) clearImmediate(this.heartbeatSoon);
    if (this.reportTimer !== undefined) clearImmediate(this.reportTimer);
    this.heartbeatTimer = this.startTimer = this.heartbeatSoon = this.reportTimer = undefined;
    this.pokeDiscovery();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (p.probeTimer !== undefined) clearTimeout(p.probeTimer);
      p.reject(new StelarError(RedisErrorCode.ADAPTER_CLOSED, `${p.label}: the adapter was closed`));
    }
    if (options.goodbye !== false && this.publisher && isReady(this.pub)) {
      await new Promise<void>((resolve) => {
        this.publisher!.send({ channel: this.channels.req, msg: encodeControl(this.header, Kind.BYE), done: () => resolve() });
      });
    }
    this.publisher?.close();
    await Promise.all([shut(this.pub), shut(this.sub)]);
    this.peers.clear();
    this.silent.clear();
    this.inStreams.clear();
    await super.close();
  }

  /** Counters (a snapshot). */
  get stats(): RedisAdapterStats {
    return {
      ...this.counters,
      publishStalls: this.publisher?.stalls ?? 0,
      publishBatches: this.publisher?.batches ?? 0,
      pendingPublishes: this.publisher?.pending ?? 0,
      pendingBytes: this.publisher?.pendingBytes ?? 0,
      connected: isReady(this.pub) && isReady(this.sub),
      nodes: this.nodeCount(),
    };
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
   * subscribes a room's channel when its first local member joins), or has failed (counted in
   * `subscribeFailures`). Bounded by `publishTimeout`.
   */
  async sync(): Promise<void> {
    if (this.subscribing.size === 0) return;
    await Promise.allSettled([...this.subscribing]);
  }

  // ── subscriptions ───────────────────────────────────────────────────────────

  /** Runs a subscription command, bounded in time, tracked for `sync()`; failures are reported. */
  private subscription(what: string, run: (sub: RedisClient) => Promise<unknown>): Promise<void> {
    const sub = this.sub;
    if (!sub || !isReady(sub) || this.closed) return Promise.resolve();
    const p = within(run(sub), this.options.publishTimeout, what).then(
      () => undefined,
      (err: unknown) => {
        if (this.closed) return;
        this.counters.subscribeFailures++;
        this.host.countError(RedisErrorCode.REDIS_SUBSCRIBE_FAILED);
        this.onError?.(new StelarError(RedisErrorCode.REDIS_SUBSCRIBE_FAILED, `${what} failed: ${asError(err).message}`));
        throw err;
      },
    );
    this.subscribing.add(p);
    const forget = (): void => void this.subscribing.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** The subscribe connection is (again) up: subscribe what this node needs now. */
  private subReady(): void {
    if (this.closed) return;
    const sub = this.sub!;
    const control = [this.channels.global, this.channels.req, this.channels.res];
    const first = !this.subscribedOnce;
    if (isCluster(sub) && !first) return; // a Cluster resubscribes by itself
    const all: Promise<void>[] = [
      this.subscription(`${this.options.sharded ? 'SSUBSCRIBE' : 'SUBSCRIBE'} ${control.join(' ')}`, (s) =>
        this.options.sharded ? s.ssubscribe(...control) : s.subscribe(...control),
      ),
    ];
    if (this.options.sharded) {
      for (const room of this.rooms.keys()) {
        const ch = this.channels.room(room);
        all.push(this.subscription(`SSUBSCRIBE ${ch}`, (s) => s.ssubscribe(ch)));
      }
    }
    Promise.all(all).then(
      () => {
        this.subscribedOnce = true;
        this.pokeDiscovery();
        // Back after a loss: announce ourselves; the others answer with their heartbeats, which
        // carry their sequence numbers, so what we missed meanwhile is counted.
        if (!first) void this.hello().catch(() => undefined);
      },
      (err: unknown) => {
        if (first && !this.subscribedOnce) {
          this.subscribeError = new StelarError(RedisErrorCode.REDIS_SUBSCRIBE_FAILED, `subscribing to ${control.join(', ')} failed: ${asError(err).message}`);
          this.pokeDiscovery();
        }
      },
    );
  }

  /** The publish connection is (again) up: what waited goes out, then marks for what failed. */
  private pubReady(): void {
    if (this.closed) return;
    this.publisher?.onReady();
    this.pokeDiscovery();
    if (this.dirtyRooms.size > 0 || this.globalDirty) {
      this.globalDirty = false;
      this.scheduleHeartbeat();
      this.sendMarks();
    }
  }

  // ── rooms (sharded mode: one channel per room with local members) ──────────

  /** In sharded mode, resolves once the channels of rooms new to this node are subscribed (or failed). */
  override join(conn: AnyConnection, rooms: readonly string[]): void | Promise<void> {
    if (!this.options.sharded) {
      super.join(conn, rooms);
      return undefined;
    }
    const fresh = rooms.filter((r) => !this.rooms.has(r));
    super.join(conn, rooms);
    const subscribed: Promise<void>[] = [];
    for (const r of fresh) {
      if (!this.rooms.has(r)) continue;
      const ch = this.channels.room(r);
      subscribed.push(this.subscription(`SSUBSCRIBE ${ch}`, (s) => s.ssubscribe(ch)).catch(() => undefined));
    }
    return subscribed.length ? Promise.all(subscribed).then(() => undefined) : undefined;
  }

  override leave(conn: AnyConnection, room: string): boolean {
    const was = super.leave(conn, room);
    if (was && this.options.sharded && !this.rooms.has(room) && !this.closed) {
      const ch = this.channels.room(room);
      this.subscription(`SUNSUBSCRIBE ${ch}`, (s) => s.sunsubscribe(ch)).catch(() => undefined);
      for (const s of this.inStreams.values()) s.rooms?.delete(room);
    }
    return was;
  }

  // ── broadcast ───────────────────────────────────────────────────────────────

  /**
   * Publishes first (the first publish of an event-loop turn is written to Redis at once), then
   * delivers to local members: remote latency does not include the local fan-out.
   */
  override broadcast(frame: Uint8Array, target: BroadcastTarget): void {
    if (!target.local && !this.closed && this.publisher) this.publish(frame, target);
    this.deliverCorked(frame, target, target.volatile);
  }

  private publish(frame: Uint8Array, target: BroadcastTarget): void {
    const single = target.rooms.length === 1 ? target.rooms[0]! : undefined;
    // A name that is a connection of this node (and no room here) is addressed here only.
    if (single !== undefined && !this.rooms.has(single) && this.host.connection(single)) return;
    let flags = Flag.SEQUENCED | (target.volatile ? Flag.VOLATILE : 0);
    let stream: OutStream;
    let channel: string;
    let room: string | undefined;
    if (this.options.sharded && single !== undefined) {
      room = single;
      flags |= Flag.ROOM_STREAM;
      stream = this.roomStream(single);
      channel = this.channels.room(single);
    } else {
      stream = this.globalStream;
      channel = this.channels.global;
    }
    stream.seq = (stream.seq + 1) >>> 0;
    const msg = encodeBroadcast(this.header, flags, stream.epoch, stream.seq, target, frame);
    this.publisher!.send({ channel, msg, done: room === undefined ? this.onBroadcastDone : this.onRoomBroadcastDone, tag: room, batchable: true });
  }

  private roomStream(room: string): OutStream {
    let s = this.roomStreams.get(room);
    if (!s) {
      if (this.roomStreams.size >= MAX_ROOM_STREAMS) this.roomStreams.clear();
      this.roomStreams.set(room, (s = { epoch: randomEpoch(), seq: 0 }));
    }
    return s;
  }

  private readonly onBroadcastDone = (_e: Entry, _receivers: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure === 0) this.counters.published++;
    else {
      this.globalDirty = true;
      this.lost(failure, 'broadcast');
    }
  };

  private readonly onRoomBroadcastDone = (e: Entry, receivers: number, _c: number[] | undefined, failure: Failure | 0): void => {
    const room = e.tag as string;
    if (failure !== 0) {
      this.dirtyRooms.set(room, now());
      this.lost(failure, 'broadcast');
      return;
    }
    const stream = this.roomStreams.get(room);
    if (receivers > 0) {
      this.counters.published++;
      if (stream) stream.heard = true;
      return;
    }
    // Nobody subscribes to this room's channel: the name may be a connection id, or its nodes
    // may be resubscribing. The same message goes once more on the global channel, which every
    // node reads. A stream that never had a subscriber (a connection id, a room of no one) is
    // forgotten, so addressing many ids does not grow this node's memory.
    if (stream && !stream.heard) this.roomStreams.delete(room);
    const again = Buffer.from(e.msg);
    markResent(again, this.header);
    this.publisher?.send({ channel: this.channels.global, msg: again, done: this.onResentDone });
  };

  private readonly onResentDone = (_e: Entry, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure === 0) this.counters.published++;
    else this.lost(failure, 'broadcast');
  };

  /** A user-level message (broadcast, query, answer, server event) that did not go through. */
  private lost(failure: Failure, what: string): void {
    switch (failure) {
      case Failure.DOWN:
        this.counters.droppedWhileDown++;
        break;
      case Failure.FULL:
        this.counters.droppedBufferFull++;
        break;
      case Failure.UNCONFIRMED:
        this.counters.publishUnconfirmed++;
        break;
      case Failure.REFUSED:
        this.counters.publishFailures++;
        break;
      case Failure.CLOSED:
        return;
    }
    const code = FAILURE_CODE[failure];
    this.host.countError(code);
    this.report(code, `${what}(s) ${FAILURE_TEXT[failure]}`);
  }

  /** Reports to `onError`, at most once per event-loop turn and code, with the number of messages. */
  private report(code: string, text: string, n = 1): void {
    if (!this.onError || this.closed) return;
    const r = this.toReport.get(code);
    if (r) r.n += n;
    else this.toReport.set(code, { n, text });
    this.reportTimer ??= setImmediate(() => {
      this.reportTimer = undefined;
      for (const [c, { n, text: t }] of this.toReport) this.onError?.(new StelarError(c, `${n} ${t}`, { count: n }));
      this.toReport.clear();
    });
  }

  /** Marks: tell each room's receivers the last number of a stream whose publish failed. */
  private sendMarks(): void {
    if (!this.publisher || !isReady(this.pub)) return;
    for (const room of this.dirtyRooms.keys()) {
      const s = this.roomStreams.get(room);
      if (!s) {
        this.dirtyRooms.delete(room);
        continue;
      }
      this.publisher.send({
        channel: this.channels.room(room),
        msg: encodeControl(this.header, Kind.MARK, { room, epoch: s.epoch, seq: s.seq }),
        done: this.onControlDone,
      });
    }
  }

  private readonly onControlDone = (_e: Entry, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0 && failure !== Failure.CLOSED) this.counters.controlDropped++;
  };

  // ── receiving ───────────────────────────────────────────────────────────────

  private onMessage(msg: Buffer): void {
    if (this.closed || isFrom(msg, this.header)) return; // our own message, already delivered locally
    let batch: Buffer[];
    try {
      if (peekKind(msg) !== Kind.BATCH) return this.onEnvelope(msg);
      batch = decodeBatch(msg);
    } catch (err) {
      return this.badMessage(err);
    }
    for (const one of batch) this.onEnvelope(one);
  }

  private onEnvelope(msg: Buffer): void {
    try {
      const kind = peekKind(msg);
      if (kind === Kind.BROADCAST) this.onBroadcast(decodeBroadcast(msg));
      else if (kind === Kind.BATCH) throw new EnvelopeError('nested batch');
      else this.onControl(decodeControl(msg));
    } catch (err) {
      this.badMessage(err);
    }
  }

  private badMessage(err: unknown): void {
    if (err instanceof EnvelopeError) {
      this.counters.badMessages++;
      this.host.countError(RedisErrorCode.REDIS_BAD_MESSAGE);
    } else {
      // Not ours to throw into the Redis client's parser.
      this.host.countError('HANDLER_ERROR');
      this.onError?.(asError(err));
    }
  }

  private streamsOf(origin: string): PeerStreams {
    let s = this.inStreams.get(origin);
    if (!s) this.inStreams.set(origin, (s = { global: undefined, rooms: undefined, at: now() }));
    s.at = now();
    return s;
  }

  private onBroadcast(env: BroadcastEnvelope): void {
    this.seen(env.origin);
    if (env.flags & Flag.SEQUENCED) {
      const streams = this.streamsOf(env.origin);
      if (env.flags & Flag.ROOM_STREAM) {
        const room = env.rooms[0];
        // Room streams are followed only for rooms this node subscribes to.
        // A resent copy (on the global channel) is checked like the original would have been.
        if (room !== undefined && this.rooms.has(room) && !this.follow((streams.rooms ??= new Map()), room, env.origin, env.epoch, env.seq, 1)) return;
      } else {
        const slot = { s: streams.global };
        const fresh = this.check(slot, env.origin, env.epoch, env.seq, 1);
        streams.global = slot.s;
        if (!fresh) return;
      }
    }
    this.counters.received++;
    this.deliverCorked(env.frame, env, (env.flags & Flag.VOLATILE) !== 0);
  }

  /** Local delivery, each recipient corked until the end of the current callback. */
  private deliverCorked(frame: Uint8Array, target: Target, volatile: boolean): void {
    this.forEachMatch(target, (conn) => {
      const link = linkOf(conn);
      if (link.cork && !this.corked.has(link)) {
        if (this.corked.size === 0) process.nextTick(this.uncorkAll);
        link.cork();
        this.corked.add(link);
      }
      conn.sendEncoded(frame, volatile);
    });
  }

  /**
   * Links corked while broadcasts are delivered, until the end of the current callback: the
   * Redis client hands over every message of a read in one go, and a server handles every frame
   * of a client's read in one go, so each recipient gets all the frames of such a burst in one
   * system call (uncorked on the next tick) instead of one per frame.
   */
  private readonly corked = new Set<Link>();
  private readonly uncorkAll = (): void => {
    for (const link of this.corked) link.uncork?.();
    this.corked.clear();
  };

  private follow(rooms: Map<string, InStream>, room: string, origin: string, epoch: number, seq: number, step: 0 | 1): boolean {
    const slot = { s: rooms.get(room) };
    const fresh = this.check(slot, origin, epoch, seq, step);
    if (slot.s) rooms.set(room, slot.s);
    return fresh;
  }

  /**
   * Counts what `origin` sent on a stream and never arrived here. `step` is 1 for a broadcast
   * (its seq is the next expected) and 0 for a heartbeat or mark (its seq is the last one sent).
   * Returns false for a broadcast already received (a duplicate), which is not delivered again.
   */
  private check(slot: { s: InStream | undefined }, origin: string, epoch: number, seq: number, step: 0 | 1): boolean {
    const s = slot.s;
    if (!s || s.epoch !== epoch) {
      // First news of this stream (or the sender restarted it): a new baseline.
      slot.s = { epoch, last: seq };
      return true;
    }
    const ahead = (seq - s.last) >>> 0;
    if (step === 1 && (ahead === 0 || ahead >= SEQ_HALF)) {
      this.counters.duplicatesDropped++;
      return false;
    }
    if (ahead === 0 || ahead >= SEQ_HALF) return true;
    const missed = ahead - step;
    if (missed > 0) {
      this.counters.missedFromPeers += missed;
      this.host.countError(RedisErrorCode.REDIS_MISSED); // once per gap; stats.missedFromPeers has the number
      this.report(RedisErrorCode.REDIS_MISSED, `broadcast(s) of other nodes never arrived here (sequence gaps, last from ${origin})`, missed);
    }
    s.last = seq;
    return true;
  }

  private onControl(env: ControlEnvelope): void {
    const body = env.body as Record<string, unknown> | undefined;
    switch (env.kind) {
      case Kind.HELLO:
      case Kind.HEARTBEAT: {
        this.seen(env.origin);
        // A hello also comes after a reconnection: the gap of an outage is counted here.
        this.globalMark(env.origin, body);
        // Answer a hello at once so the newcomer knows every node without waiting a heartbeat
        // (the heartbeat carries our global stream's number: what it missed is counted).
        if (env.kind === Kind.HELLO) {
          this.scheduleHeartbeat();
          if (this.dirtyRooms.size > 0) this.sendMarks();
        }
        return;
      }
      case Kind.MARK: {
        const room = body?.['room'];
        const epoch = body?.['epoch'];
        const seq = body?.['seq'];
        if (typeof room !== 'string' || typeof epoch !== 'number' || typeof seq !== 'number') throw new EnvelopeError('bad mark');
        if (!this.rooms.has(room)) return;
        const streams = this.streamsOf(env.origin);
        this.follow((streams.rooms ??= new Map()), room, env.origin, epoch, seq, 0);
        return;
      }
      case Kind.BYE:
        this.inStreams.delete(env.origin);
        this.silent.delete(env.origin);
        this.dropNode(env.origin, 'bye');
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

  private globalMark(origin: string, body: Record<string, unknown> | undefined): void {
    const epoch = body?.['epoch'];
    const seq = body?.['seq'];
    if (typeof epoch !== 'number' || typeof seq !== 'number') return;
    const streams = this.streamsOf(origin);
    const slot = { s: streams.global };
    this.check(slot, origin, epoch, seq, 0);
    streams.global = slot.s;
  }

  // ── membership ──────────────────────────────────────────────────────────────

  private seen(node: string): void {
    const known = this.peers.has(node);
    this.peers.set(node, now());
    if (!known) {
      this.silent.delete(node);
      this.pokeDiscovery();
    }
  }

  private dropNode(node: string, why: 'bye' | 'silent' | 'gone'): void {
    if (!this.peers.delete(node)) return;
    if (why === 'silent') {
      this.counters.nodesTimedOut++;
      this.silent.set(node, now());
    } else if (why === 'gone') this.counters.nodesGone++;
    // Queries stop waiting for a node that is gone.
    for (const [id, p] of this.pending) {
      if (p.expected.has(node) && !p.replies.has(node)) {
        p.gone.add(node);
        this.settle(id, p);
      }
    }
  }

  private tick(): void {
    const t = now();
    for (const [node, at] of this.peers) if (t - at > this.options.nodeTimeout) this.dropNode(node, 'silent');
    // Sequence state outlives a node's drop (so an outage's gap is still counted when it comes
    // back), but not for ever.
    const forget = 10 * this.options.nodeTimeout;
    for (const [node, s] of this.inStreams) if (!this.peers.has(node) && t - s.at > forget) this.inStreams.delete(node);
    for (const [node, since] of this.silent) if (t - since > forget) this.silent.delete(node);
    for (const [room, at] of this.dirtyRooms) if (t - at > forget) this.dirtyRooms.delete(room);
    this.publisher?.onReady(); // (a Cluster's pinned master may be back without a cluster 'ready')
    this.sendHeartbeat();
  }

  private membershipBody(): { epoch: number; seq: number } {
    return { epoch: this.globalStream.epoch, seq: this.globalStream.seq };
  }

  private sendHeartbeat(): void {
    if (this.closed || !this.publisher || !isReady(this.pub)) return;
    this.publisher.send({ channel: this.channels.req, msg: encodeControl(this.header, Kind.HEARTBEAT, this.membershipBody()), done: this.onHeartbeatDone });
  }

  private readonly onHeartbeatDone = (_e: Entry, receivers: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0) {
      if (failure !== Failure.CLOSED) this.counters.controlDropped++;
      return;
    }
    // Fewer subscribers than nodes known (this one included): someone's connection is gone.
    // (On a Cluster in classic mode the count is one Redis node's only: always check.)
    if (this.countsAreLocal() || receivers < this.peers.size + 1 || this.silent.size > 0) void this.probeMembers();
  };

  /** A Cluster in classic mode: a PUBLISH's reply counts the subscribers of one Redis node only. */
  private countsAreLocal(): boolean {
    return this.pub !== undefined && isCluster(this.pub) && !this.options.sharded;
  }

  private scheduleHeartbeat(): void {
    if (this.heartbeatSoon !== undefined || this.closed) return;
    this.heartbeatSoon = setImmediate(() => {
      this.heartbeatSoon = undefined;
      this.sendHeartbeat();
    });
  }

  /** Says hello; resolves with the number of other nodes Redis had subscribed at that moment. */
  private hello(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.closed || !this.publisher) return reject(new StelarError(RedisErrorCode.ADAPTER_CLOSED, 'closed'));
      this.publisher.send({
        channel: this.channels.req,
        msg: encodeControl(this.header, Kind.HELLO, this.membershipBody()),
        probe: [this.channels.res],
        done: (_e, receivers, counts, failure, error) => {
          if (failure !== 0) {
            if (failure !== Failure.CLOSED) this.counters.controlDropped++;
            reject(error ?? new StelarError(FAILURE_CODE[failure], `hello ${FAILURE_TEXT[failure]}`));
          } else resolve(Math.max(0, receivers - ((counts?.[0] ?? 0) > 0 ? 1 : 0)));
        },
      });
    });
  }

  /** Asks Redis which known (and silent) nodes are still subscribed; drops those that are not. */
  private async probeMembers(): Promise<void> {
    if (this.probingMembers || this.closed || !this.pub) return;
    this.probingMembers = true;
    try {
      const nodes = [...this.peers.keys(), ...this.silent.keys()];
      const counts = await within(numsub(this.pub, this.options.sharded, nodes.map(this.channels.resOf)), this.options.publishTimeout, 'membership probe');
      nodes.forEach((n, i) => {
        if (counts[i] !== 0) return;
        this.silent.delete(n);
        this.dropNode(n, 'gone');
      });
    } catch {
      /* Redis away: the next heartbeat tries again */
    } finally {
      this.probingMembers = false;
    }
  }

  // ── cross-node queries ──────────────────────────────────────────────────────

  override async fetchConnections(target: Target, options: { timeout?: number } = {}): Promise<ConnectionHandle[]> {
    const local: ConnectionHandle[] = this.localMatches(target).map((c) => new LocalConnectionHandle(c));
    const replies = await this.ask('fetch', 'fetchConnections', { target: plainTarget(target) }, options.timeout);
    for (const [, r] of replies) {
      if (!r.ok || !Array.isArray(r.value)) continue;
      for (const info of r.value as ConnectionInfo[]) local.push(new RemoteConnectionHandle(info, this.remoteOps));
    }
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
    const local = super.addConnectionsToRooms(target, rooms);
    await Promise.all([local, this.ask('join', 'addConnectionsToRooms', { target: plainTarget(target), rooms: [...rooms] }, options.timeout)]);
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
   * none, NODE_TIMEOUT if a node did not answer in time); without, once Redis took it.
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
    let msg: Buffer;
    try {
      msg = encodeControl(this.header, Kind.REQUEST, { id: 0, op: 'emit', event, data, ack: false } satisfies RequestBody);
    } catch (err) {
      throw new StelarError('BAD_PAYLOAD', `${label}: data is not JSON-serialisable: ${asError(err).message}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.publisher!.send({
        channel: this.channels.req,
        msg,
        done: (_e, _r, _c, failure) => {
          if (failure === 0) return resolve();
          this.lost(failure, 'server event');
          reject(new StelarError(FAILURE_CODE[failure], `${label}: ${FAILURE_TEXT[failure]}`));
        },
      });
    });
    return [];
  }

  private async settled(): Promise<void> {
    await this.started.catch(() => undefined);
  }

  /**
   * Publishes a request and waits for the nodes that received it. How many did, Redis says (the
   * publish's reply), and which, a count of each known node's response-channel subscribers taken
   * in the same step: so nodes not heard of yet are waited for too, and nodes already gone are
   * not. A node found gone meanwhile (goodbye, silence, or no longer subscribed: checked every
   * `probeInterval`) stops being waited for. Rejects on the first error answer, and with
   * NODE_TIMEOUT in time. With `node`, asks that node only (on its response channel).
   */
  private async ask(op: Op, label: string, body: Omit<RequestBody, 'id' | 'op'>, timeout = this.options.requestTimeout, node?: string): Promise<Map<string, Reply>> {
    await this.settled();
    if (this.closed) throw new StelarError(RedisErrorCode.ADAPTER_CLOSED, `${label}: the adapter is closed`);
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const id = this.nextId;
    let msg: Buffer;
    try {
      msg = encodeControl(this.header, Kind.REQUEST, { id, op, ...body } satisfies RequestBody);
    } catch (err) {
      throw new StelarError('BAD_PAYLOAD', `${label}: data is not JSON-serialisable: ${asError(err).message}`);
    }
    const known = node === undefined ? [...this.peers.keys()] : [];
    const silent = node === undefined ? [...this.silent.keys()] : [];
    return new Promise<Map<string, Reply>>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(id), timeout);
      unref(timer);
      const p: Pending = {
        op,
        label,
        timeout,
        confirmed: false,
        expected: new Set(),
        unknown: 0,
        gone: new Set(),
        replies: new Map(),
        timer,
        probeTimer: undefined,
        probing: false,
        resolve,
        reject,
      };
      this.pending.set(id, p);
      this.publisher!.send({
        channel: node === undefined ? this.channels.req : this.channels.resOf(node),
        msg,
        // (On a Cluster in classic mode a PUBLISH counts one Redis node's subscribers only: the
        // receivers of a request to one node are counted across the cluster instead.)
        probe: node === undefined ? [this.channels.res, ...known.map(this.channels.resOf), ...silent.map(this.channels.resOf)] : this.countsAreLocal() ? [] : undefined,
        done: (_e, receivers, counts, failure) => {
          if (this.pending.get(id) !== p) return;
          if (failure !== 0) {
            this.lost(failure, 'query');
            this.finish(id, p, new StelarError(FAILURE_CODE[failure], `${label}: request ${FAILURE_TEXT[failure]}`));
            return;
          }
          p.confirmed = true;
          if (node !== undefined) {
            if (receivers > 0) p.expected.add(node);
          } else {
            const c = counts ?? [];
            const selfSubscribed = (c[0] ?? 0) > 0;
            let others = receivers - (selfSubscribed ? 1 : 0);
            known.forEach((n, i) => {
              if ((c[1 + i] ?? 0) > 0) {
                if (this.peers.has(n)) p.expected.add(n);
                else others--; // dropped meanwhile (silent or gone): not waited for
              } else if (this.peers.has(n)) this.dropNode(n, 'gone');
            });
            silent.forEach((n, i) => {
              if ((c[1 + known.length + i] ?? 0) > 0) others--; // hung: subscribed, not answering
              else this.silent.delete(n);
            });
            p.unknown = Math.max(0, others - p.expected.size);
          }
          this.settle(id, p);
          if (this.pending.get(id) === p) this.scheduleProbe(id, p);
        },
      });
    });
  }

  private finish(id: number, p: Pending, err?: unknown): void {
    if (this.pending.get(id) !== p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (p.probeTimer !== undefined) clearTimeout(p.probeTimer);
    if (err !== undefined) p.reject(err);
    else p.resolve(p.replies);
  }

  /** Finishes a query once every receiver has answered or is gone. */
  private settle(id: number, p: Pending): void {
    if (!p.confirmed) return;
    let fromUnknown = 0;
    for (const n of p.replies.keys()) if (!p.expected.has(n)) fromUnknown++;
    if (fromUnknown < p.unknown) return;
    for (const n of p.expected) if (!p.replies.has(n) && !p.gone.has(n)) return;
    this.finish(id, p);
  }

  /** While a query waits: are the nodes it waits for still subscribed? */
  private scheduleProbe(id: number, p: Pending): void {
    p.probeTimer = setTimeout(() => {
      p.probeTimer = undefined;
      if (this.pending.get(id) !== p || !this.pub) return;
      const waiting = [...p.expected].filter((n) => !p.replies.has(n) && !p.gone.has(n));
      if (waiting.length === 0) return; // only unknown receivers left: they answer or time out
      within(numsub(this.pub, this.options.sharded, waiting.map(this.channels.resOf)), this.options.probeInterval * 4, 'query probe').then(
        (counts) => {
          waiting.forEach((n, i) => {
            if (counts[i] === 0) {
              this.silent.delete(n);
              if (this.peers.has(n)) this.dropNode(n, 'gone');
              else p.gone.add(n);
            }
          });
          this.settle(id, p);
          if (this.pending.get(id) === p) this.scheduleProbe(id, p);
        },
        () => {
          if (this.pending.get(id) === p) this.scheduleProbe(id, p);
        },
      );
    }, this.options.probeInterval);
    unref(p.probeTimer);
  }

  private expire(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.counters.requestsTimedOut++;
    this.host.countError(RedisErrorCode.NODE_TIMEOUT);
    const missing = [...p.expected].filter((n) => !p.replies.has(n) && !p.gone.has(n));
    let fromUnknown = 0;
    for (const n of p.replies.keys()) if (!p.expected.has(n)) fromUnknown++;
    const unidentified = Math.max(0, p.unknown - fromUnknown);
    const asked = p.expected.size + p.unknown;
    const answered = p.replies.size;
    const who = [...missing, ...(unidentified > 0 ? [`${unidentified} node${unidentified === 1 ? '' : 's'} not identified yet`] : [])];
    this.finish(
      id,
      p,
      new StelarError(
        RedisErrorCode.NODE_TIMEOUT,
        `${p.label} timed out after ${p.timeout} ms: ${answered} of ${asked} other node${asked === 1 ? '' : 's'} answered (no answer from ${who.join(', ')})`,
        { answered, asked, missing, unidentified },
      ),
    );
  }

  private onResponse(node: string, reply: Reply): void {
    if (typeof reply !== 'object' || reply === null || typeof reply.id !== 'number') throw new EnvelopeError('bad response');
    const p = this.pending.get(reply.id);
    if (!p || p.replies.has(node)) return; // timed out already, or a duplicate
    if (!reply.ok && !p.op.startsWith('c.')) {
      this.finish(reply.id, p, errorOf(reply, node, p.label));
      return;
    }
    p.replies.set(node, reply);
    this.settle(reply.id, p);
  }

  // ── operations on one remote connection (handles) ──────────────────────────

  private readonly remoteOps: RemoteOps = {
    emitTo: (node, id, event, data) => {
      if (this.closed || !this.publisher) return;
      const frame = isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
      const msg = encodeBroadcast(this.header, 0, 0, 0, { rooms: [id], exceptRooms: [], exceptIds: [] }, frame);
      this.publisher.send({ channel: this.channels.resOf(node), msg, done: this.onDirectDone });
    },
    requestTo: async (node, id, event, data, timeout = this.options.requestTimeout) => {
      const r = await this.askOne(node, 'c.request', `request("${event}") to ${id}`, { conn: id, event, data, timeout }, timeout + 500);
      if (!r) throw new StelarError('DISCONNECTED', `connection ${id}: its node ${node} is gone`);
      if (!r.ok) throw new StelarError(r.code, r.message, { nodeId: node });
      return r.value;
    },
    roomsTo: async (node, id, op, rooms) => {
      const r = await this.askOne(node, op, `${op === 'c.join' ? 'join' : 'leave'} of ${id}`, { conn: id, rooms });
      if (!r) throw new StelarError('DISCONNECTED', `connection ${id}: its node ${node} is gone`);
      if (!r.ok) throw new StelarError(r.code, r.message, { nodeId: node });
    },
    disconnectTo: async (node, id, code, reason) => {
      const r = await this.askOne(node, 'c.disconnect', `disconnect of ${id}`, { conn: id, code: code ?? 1000, reason: reason ?? '' });
      if (r && !r.ok) throw new StelarError(r.code, r.message, { nodeId: node });
    },
  };

  private readonly onDirectDone = (_e: Entry, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0) this.lost(failure, 'message to a remote connection');
  };

  /** One node's answer, or undefined if the node is gone (nobody received the request). */
  private async askOne(node: string, op: Op, label: string, body: Omit<RequestBody, 'id' | 'op'>, timeout?: number): Promise<Reply | undefined> {
    const replies = await this.ask(op, label, body, timeout, node);
    return replies.get(node);
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
        msg = encodeControl(this.header, Kind.RESPONSE, { id: req.id, ok: false, code: 'HANDLER_ERROR', message: `reply is not JSON-serialisable: ${asError(err).message}` });
      }
      if (this.closed || !this.publisher) return;
      this.publisher.send({ channel: this.channels.resOf(from), msg, done: this.onAnswerDone });
    };
    const needsTarget = !req.op.startsWith('c.') && req.op !== 'emit';
    if (needsTarget && !isTarget(req.target)) throw new EnvelopeError('request without a target');
    const conn = req.op.startsWith('c.') ? this.connectionFor(req) : undefined;
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
          const joined: Promise<void>[] = [];
          for (const c of matches) {
            try {
              joined.push(c.join(req.rooms ?? []));
            } catch {
              /* over its room limit: counted by that node's hub */
            }
          }
          // Answer once the new room channels are subscribed (sharded mode), so a broadcast
          // sent after the caller's await reaches them.
          Promise.all(joined).then(
            () => answer(true, matches.length),
            (err: unknown) => answer(false, err),
          );
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
        case 'c.request': {
          if (typeof req.event !== 'string') throw new EnvelopeError('request without an event');
          if (!conn) return answer(false, new StelarError('DISCONNECTED', `connection ${String(req.conn)} is not open`));
          const timeout = typeof req.timeout === 'number' && req.timeout > 0 ? req.timeout : undefined;
          conn.request(req.event, req.data, timeout === undefined ? {} : { timeout }).then(
            (v: unknown) => answer(true, v),
            (err: unknown) => answer(false, err),
          );
          return;
        }
        case 'c.join': {
          if (!conn) return answer(false, new StelarError('DISCONNECTED', `connection ${String(req.conn)} is not open`));
          conn.join(req.rooms ?? []).then(
            () => answer(true, 1),
            (err: unknown) => answer(false, err),
          );
          return;
        }
        case 'c.leave': {
          if (!conn) return answer(false, new StelarError('DISCONNECTED', `connection ${String(req.conn)} is not open`));
          for (const r of req.rooms ?? []) conn.leave(r);
          answer(true, 1);
          return;
        }
        case 'c.disconnect': {
          conn?.disconnect(req.code, req.reason ?? '');
          answer(true, conn ? 1 : 0);
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

  private connectionFor(req: RequestBody): AnyConnection | undefined {
    if (typeof req.conn !== 'string') throw new EnvelopeError('operation without a connection id');
    const c = this.host.connection(req.conn);
    return c && c.isOpen ? c : undefined;
  }

  private readonly onAnswerDone = (_e: Entry, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0) this.lost(failure, 'answer to a query');
  };
}

async function shut(r: RedisClient | undefined): Promise<void> {
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
