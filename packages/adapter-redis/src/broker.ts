import type { Buffer } from 'node:buffer';
import { Redis, type RedisOptions } from 'ioredis';
import { Failure, type Broker, type BrokerEvents, type BrokerSide, type Publication } from '@stelar/cluster';
import { Publisher } from './publisher';
import { bufferOf, duplicate, isCluster, isReady, numsub, publishLink, type RedisClient } from './redis';
import { RedisStream, type ResolvedStreamOptions } from './stream';

export interface RedisBrokerOptions {
  /** Redis URL; used when there is no `client`. */
  url: string | undefined;
  /** An ioredis client used as a template (`duplicate()`), a single Redis or a Cluster. */
  client: RedisClient | undefined;
  /** Extra ioredis options for both connections. */
  redisOptions: RedisOptions;
  /** `SPUBLISH` / `SSUBSCRIBE` / `SHARDNUMSUB` instead of `PUBLISH` / `SUBSCRIBE` / `NUMSUB`. */
  sharded: boolean;
  /** Every publish is settled within this many ms (see `Publisher`). */
  publishTimeout: number;
  maxPendingPublishes: number;
  maxPendingBytes: number;
  /** Connection-state recovery: the stream and the session records (classic mode only). */
  stream?: { prefix: string; options: ResolvedStreamOptions } | undefined;
}

/**
 * Redis pub/sub as a `Broker`: two ioredis connections made from a URL or duplicated from a
 * template client (`Redis` or `Cluster`), one to publish through the bounded `Publisher`, one to
 * subscribe; `PUBSUB NUMSUB` / `SHARDNUMSUB` to count subscribers. In sharded mode every command
 * is the sharded one; on a Cluster, classic `PUBLISH` goes through one master (see `publishLink`).
 */
export class RedisBroker implements Broker {
  readonly name = 'Redis';
  readonly address: string;
  readonly sharded: boolean;
  /** A Cluster in classic mode: a PUBLISH's reply counts the subscribers of one Redis node only. */
  readonly exactReceivers: boolean;
  /** ioredis's Cluster resubscribes by itself (per shard with shardedSubscribers). */
  readonly keepsSubscriptions: boolean;
  /** Error events of the connections. */
  errors = 0;
  private pub: RedisClient | undefined;
  private sub: RedisClient | undefined;
  private publisher: Publisher | undefined;
  private events: BrokerEvents | undefined;
  private closed = false;
  /** Connection-state recovery: the stream of broadcasts and the session records. */
  readonly log: RedisStream | undefined;
  private reader: RedisClient | undefined;

  constructor(private readonly o: RedisBrokerOptions) {
    this.address = o.url ?? 'client';
    this.sharded = o.sharded;
    this.log = o.stream
      ? new RedisStream(
          o.stream.prefix,
          o.stream.options,
          () => this.pub,
          () => this.publisher,
          () => (this.reader ??= this.readerConnection()),
          o.publishTimeout,
        )
      : undefined;
    const cluster = o.client !== undefined && isCluster(o.client);
    this.exactReceivers = !(cluster && !o.sharded);
    this.keepsSubscriptions = cluster;
  }

  get publisherUp(): boolean {
    return isReady(this.pub);
  }

  get subscriberUp(): boolean {
    return isReady(this.sub);
  }

  get connected(): boolean {
    return isReady(this.pub) && isReady(this.sub);
  }

  /** Times the publish connection was replaced because Redis stopped answering. */
  get stalls(): number {
    return this.publisher?.stalls ?? 0;
  }

  /** Messages waiting for Redis or in flight. */
  get pending(): number {
    return this.publisher?.pending ?? 0;
  }

  get pendingBytes(): number {
    return this.publisher?.pendingBytes ?? 0;
  }

  open(nodeId: string, events: BrokerEvents): void {
    this.events = events;
    const pub = (this.pub = this.connection('publisher', nodeId));
    const link = publishLink(pub, this.sharded);
    const log = this.log;
    if (log) {
      // The stream's entries go through the same bounded, ordered publisher as a publish.
      const publish = link.publish;
      link.publish = (channel, msg) => (channel === log.streamKey ? log.xadd(pub, bufferOf(msg)) : publish(channel, msg));
    }
    this.publisher = new Publisher(link, {
      timeout: this.o.publishTimeout,
      maxPending: this.o.maxPendingPublishes,
      maxPendingBytes: this.o.maxPendingBytes,
    });
    const sub = (this.sub = this.connection('subscriber', nodeId));
    sub.on(this.sharded ? 'smessageBuffer' : 'messageBuffer', (_channel: Buffer, msg: Buffer) => events.message(msg));
  }

  /** The XREAD BLOCK connection: reconnects for ever; a command it had in flight is not resent (the reader asks again). */
  private readerConnection(): RedisClient {
    const own: RedisOptions = { autoResendUnfulfilledCommands: false, enableAutoPipelining: false, maxRetriesPerRequest: null, connectionName: 'stelar-log-reader' };
    let r: RedisClient;
    if (this.o.client) r = duplicate(this.o.client, { ...this.o.redisOptions, ...own });
    else r = new Redis(this.o.url!, { retryStrategy: (times: number) => Math.min(50 * times, 500), ...this.o.redisOptions, ...own });
    if (r.status === 'wait') r.connect().catch(() => undefined);
    r.on('error', (err: Error) => {
      this.errors++;
      this.events?.error(err);
    });
    r.on('close', () => this.log?.readerLost());
    return r;
  }

  private connection(side: BrokerSide, nodeId: string): RedisClient {
    const role = side === 'publisher' ? 'pub' : 'sub';
    const cluster = this.o.client !== undefined && isCluster(this.o.client);
    const own: RedisOptions =
      role === 'pub'
        ? // The Publisher queues, bounds and times out publishes itself; ioredis must neither
          // queue them offline nor resend them (pub/sub is at most once here) nor auto-pipeline
          // them (a pipeline stuck on a dropped command blocks every later one).
          { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, enableAutoPipelining: false, maxRetriesPerRequest: 0 }
        : cluster
          ? // ioredis's Cluster resubscribes by itself (per shard with shardedSubscribers).
            { enableAutoPipelining: false }
          : // A single Redis: the adapter resubscribes on every 'ready' (what it needs now, not
            // what was subscribed when the connection dropped) and bounds each command itself.
            { enableOfflineQueue: false, autoResubscribe: false, autoResendUnfulfilledCommands: false, enableAutoPipelining: false, maxRetriesPerRequest: 0 };
    const name = { connectionName: `stelar-${role}-${nodeId}`.slice(0, 64) };
    const retry = { retryStrategy: (times: number) => Math.min(50 * times, 500) };
    let r: RedisClient;
    if (this.o.client) {
      r = duplicate(this.o.client, { ...name, ...this.o.redisOptions, ...own }, role === 'sub' ? { shardedSubscribers: this.sharded } : { enableOfflineQueue: false });
    } else r = new Redis(this.o.url!, { ...retry, ...name, ...this.o.redisOptions, ...own });
    if (r.status === 'wait') r.connect().catch(() => undefined);
    let wasReady = false;
    let down = false;
    r.on('ready', () => {
      const again = wasReady;
      wasReady = true;
      down = false;
      if (role === 'pub' && !this.closed) {
        // (Back after a loss: the stream may have been lost with Redis; see RedisStream.beforeFlush.)
        if (again) this.log?.beforeFlush(r);
        this.publisher?.onReady();
      }
      this.events?.up(side, again);
    });
    r.on('close', () => {
      // (The subscriber needs nothing here: the adapter resubscribes on its next 'ready'.)
      if (role === 'pub') this.publisher?.onClose();
      if (wasReady && !down) {
        down = true;
        this.events?.down(side);
      }
    });
    r.on('error', (err: Error) => {
      this.errors++;
      this.events?.error(err);
    });
    return r;
  }

  publish(p: Publication): void {
    if (this.publisher) this.publisher.send(p);
    else p.done(p, 0, undefined, this.closed ? Failure.CLOSED : Failure.DOWN, undefined);
  }

  subscribe(channels: readonly string[]): Promise<void> {
    const sub = this.sub;
    if (!sub) return Promise.reject(new Error('not connected'));
    return (this.sharded ? sub.ssubscribe(...channels) : sub.subscribe(...channels)).then(() => undefined);
  }

  unsubscribe(channels: readonly string[]): Promise<void> {
    const sub = this.sub;
    if (!sub) return Promise.reject(new Error('not connected'));
    return (this.sharded ? sub.sunsubscribe(...channels) : sub.unsubscribe(...channels)).then(() => undefined);
  }

  countSubscribers(channels: readonly string[]): Promise<number[]> {
    if (!this.pub) return Promise.reject(new Error('not connected'));
    return numsub(this.pub, this.sharded, channels);
  }

  /** (A Cluster's pinned master may be back without a cluster 'ready'.) */
  poll(): void {
    if (!this.closed) this.publisher?.onReady();
    if (!this.closed) this.log?.poll();
  }

  subscribeHint(): string | undefined {
    return this.sharded && this.sub !== undefined && isCluster(this.sub) ? 'on a Cluster, sharded mode needs the subscriber to use shardedSubscribers' : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.publisher?.close();
    this.log?.close();
    await Promise.all([shut(this.pub), shut(this.sub), shut(this.reader)]);
  }
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
