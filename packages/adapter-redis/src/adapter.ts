import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { ClusterAdapter, type ClusterAdapterStats } from '@stelar/cluster';
import { RedisBroker } from './broker';
import { resolveStream, type RedisStreamOptions, type ResolvedStreamOptions } from './stream';

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
  /**
   * Connection-state recovery across nodes (turned on by the hub's `recovery` option; classic
   * mode only): the bounds of the Redis stream of broadcasts and of the session records.
   */
  recovery?: RedisStreamOptions;
}

/** Counters of the adapter (`adapter.stats`): the cluster adapter's, and the Redis connections'. */
export interface RedisAdapterStats extends ClusterAdapterStats {
  /** Times the publish connection was replaced because Redis stopped answering. */
  publishStalls: number;
  /** Error events of the Redis connections. */
  redisErrors: number;
  /** Publishes waiting for Redis or in flight now. */
  pendingPublishes: number;
  /** Bytes of those. */
  pendingBytes: number;
}

type Resolved = Readonly<Required<Omit<RedisAdapterOptions, 'client' | 'redisOptions' | 'onError' | 'url' | 'recovery'>>> & { readonly url: string | undefined; readonly recovery: ResolvedStreamOptions };

function resolve(options: RedisAdapterOptions): Resolved {
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
    recovery: resolveStream(options.recovery),
  };
  // (The cluster adapter checks its own options.)
  for (const k of ['publishTimeout', 'maxPendingPublishes', 'maxPendingBytes'] as const) {
    if (!(o[k] > 0) || !Number.isFinite(o[k])) throw new RangeError(`${k} must be a positive number`);
  }
  return o;
}

/**
 * Rooms and broadcast across many server processes over Redis pub/sub: `ClusterAdapter` from
 * `@stelar/cluster` (membership, queries, handles, sequencing, loss counts) on a `RedisBroker`
 * (the ioredis connections, the bounded publisher, subscriptions and subscriber counts, sharded
 * mode). See the package README for the channel design, the delivery guarantees and what
 * happens when Redis fails.
 */
export class RedisAdapter extends ClusterAdapter {
  declare readonly options: ClusterAdapter['options'] & Resolved;
  protected declare readonly broker: RedisBroker;

  constructor(options: RedisAdapterOptions = {}) {
    const o = resolve(options);
    const broker = new RedisBroker({
      url: o.url,
      client: options.client,
      redisOptions: options.redisOptions ?? {},
      sharded: o.sharded,
      publishTimeout: o.publishTimeout,
      maxPendingPublishes: o.maxPendingPublishes,
      maxPendingBytes: o.maxPendingBytes,
      // The stream is there in classic mode; it is read only once a hub turns recovery on.
      stream: o.sharded ? undefined : { prefix: o.prefix, options: o.recovery },
    });
    super(broker, {
      prefix: o.prefix,
      requestTimeout: o.requestTimeout,
      heartbeatInterval: o.heartbeatInterval,
      nodeTimeout: o.nodeTimeout,
      startTimeout: o.startTimeout,
      discoveryTimeout: o.discoveryTimeout,
      probeInterval: o.probeInterval,
      // Subscriptions and subscriber counts are bounded like publishes.
      commandTimeout: o.publishTimeout,
      errorPrefix: 'REDIS',
      ...(options.onError ? { onError: options.onError } : {}),
    });
    this.options = { ...this.options, ...o };
  }

  /** Counters (a snapshot). */
  override get stats(): RedisAdapterStats {
    const b = this.broker;
    return { ...super.stats, publishStalls: b.stalls, redisErrors: b.errors, pendingPublishes: b.pending, pendingBytes: b.pendingBytes };
  }
}

/** A Redis adapter for `new Hub({ adapter })`. */
export function createRedisAdapter(options: RedisAdapterOptions = {}): RedisAdapter {
  return new RedisAdapter(options);
}
