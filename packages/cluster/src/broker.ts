/**
 * What the cluster adapter needs of a message broker (Redis pub/sub, an in-memory bus, …): named
 * channels carrying opaque bytes, at most once. Everything else — who the other nodes are, how
 * many must answer a query, what was lost on the way — the adapter works out itself from the few
 * facts a broker gives: how many subscribers received a publish, how many a channel has now.
 */

/**
 * Why a publication did not go through. A publication ends in exactly one of: the broker's
 * acknowledgement (with its receiver count), or one of these, within a bounded time.
 */
export const Failure = {
  /** Never sent: the broker was unreachable until the publication's deadline. Lost. */
  DOWN: 1,
  /** Never sent: the broker's pending buffer was full. Lost. */
  FULL: 2,
  /**
   * Sent, but the connection broke (or stalled past the deadline) before the broker answered: it
   * may or may not have been delivered. Receivers count what they missed exactly.
   */
  UNCONFIRMED: 3,
  /** The broker answered with an error. Lost. */
  REFUSED: 4,
  /** The broker was closed first. Not sent. */
  CLOSED: 5,
} as const;
export type Failure = (typeof Failure)[keyof typeof Failure];

/** One message for a channel. The broker calls `done` exactly once. */
export interface Publication {
  readonly channel: string;
  readonly msg: Uint8Array;
  /**
   * Subscriber counts of these channels, taken in the same step as the publish (no other
   * publication interleaves, where the broker can do that), passed to `done` as `counts`. Given
   * (even empty), the receiver count must cover every subscriber of the channel (see
   * `Broker.exactReceivers`).
   */
  readonly probe?: readonly string[] | undefined;
  /** Messages this publication carries (a batch carries several), for the broker's bounds. Default 1. */
  readonly weight?: number;
  /** Free for the publisher's own use (e.g. the room of a room-stream broadcast). */
  readonly tag?: unknown;
  /**
   * The outcome: `failure` 0 and the number of subscribers that received it (and the probe's
   * counts), or a failure (with the broker's error, if any). Called within a bounded time.
   */
  readonly done: (p: Publication, receivers: number, counts: number[] | undefined, failure: Failure | 0, error: Error | undefined) => void;
}

/** The two sides of a broker connection (they may be one connection or two). */
export type BrokerSide = 'publisher' | 'subscriber';

/** What a broker tells the adapter. */
export interface BrokerEvents {
  /** A message arrived on a subscribed channel (the bytes may be a view: read them now). */
  message(msg: Uint8Array): void;
  /**
   * A side is ready: publications go out (publisher), subscribe commands can be sent
   * (subscriber). `again` after a loss. Unless `Broker.keepsSubscriptions`, a subscriber that
   * comes back has lost its subscriptions: the adapter subscribes again what it needs now.
   */
  up(side: BrokerSide, again: boolean): void;
  /** A side that was up is lost (counted; publications settle by the broker's own deadlines). */
  down(side: BrokerSide): void;
  /** An error of the broker's connections (reported to `onError`; nothing to do). */
  error(err: Error): void;
}

/**
 * A message broker as the cluster adapter uses it. Contract:
 *
 * - `publish` never throws and never waits: every publication is settled through its `done`
 *   within a bounded time, and what waits for the broker is bounded in number and bytes.
 * - `subscribe`, `unsubscribe` and `countSubscribers` resolve once done, or reject with the
 *   broker's reason (a refused subscription); the adapter stops waiting after its
 *   `commandTimeout` (and counts the command as failed).
 * - Messages of one publisher on one channel arrive in the order they were published; a
 *   publisher does not receive its own messages back (or the adapter skips them by origin).
 * - `sharded`: channels live on shards; the adapter then gives each room a channel of its own,
 *   subscribed while the room has members on the node, and uses the global channel only for
 *   broadcasts to several rooms or everyone.
 */
export interface Broker {
  /** Shown in messages, e.g. `Redis`. */
  readonly name: string;
  /** Where it connects, shown when it is not reachable at start (a URL, or `client`). */
  readonly address: string;
  /** Sharded pub/sub: one channel per room (see above). */
  readonly sharded: boolean;
  /**
   * A publish's receiver count covers every subscriber of the channel. False when it counts only
   * the subscribers of one broker node (Redis Cluster in classic mode): the adapter then asks
   * with a `probe` when it needs an exact count, and checks its peers after every heartbeat.
   */
  readonly exactReceivers: boolean;
  /** Subscriptions survive a reconnection (the broker's client restores them itself). */
  readonly keepsSubscriptions: boolean;
  /** Publications go out now. */
  readonly publisherUp: boolean;
  /** Subscribe commands can be sent now. */
  readonly subscriberUp: boolean;
  /** Both sides are up. */
  readonly connected: boolean;
  /** Connects. Called once, by the adapter, with this node's id. */
  open(nodeId: string, events: BrokerEvents): void;
  publish(p: Publication): void;
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channels: readonly string[]): Promise<void>;
  /** How many subscribers each channel has now, across the broker. */
  countSubscribers(channels: readonly string[]): Promise<number[]>;
  /** Called every heartbeat: a chance to notice a connection back without an event. */
  poll?(): void;
  /** Why subscriptions may not complete although the broker is reachable (added to that error). */
  subscribeHint?(): string | undefined;
  /**
   * A log of broadcasts and a store of session records, when the broker keeps them: with it
   * the cluster adapter supports connection-state recovery (broadcasts then travel through the
   * log, in one order for every node). Absent: a hub with recovery refuses the adapter.
   */
  readonly log?: BrokerLog | undefined;
  /** Settles what waits (`Failure.CLOSED`) and closes the connections. */
  close(): Promise<void>;
}

/** A position in a broker's log: core's u64 offset as two u32 halves (see `BrokerLog`). */
export interface LogOffset {
  readonly hi: number;
  readonly lo: number;
}

/**
 * A broker that also keeps a log of broadcasts and a store of session records: what
 * connection-state recovery across nodes needs (`HubOptions.recovery` with `ClusterAdapter`).
 * Redis: one stream (`XADD … MAXLEN ~`, `XREAD BLOCK`, `XRANGE`) and keys with an expiry.
 *
 * - `append` settles like `Broker.publish` (bounded buffer, bounded time); the entry reaches
 *   every node, the appending one included, through `follow`, in log order.
 * - Offsets increase in log order; each is the u64 core puts on the wire. A broker that cannot
 *   give an entry an offset passes the zero offset (the entry is delivered but not kept).
 */
export interface BrokerLog {
  /** Appends one broadcast envelope (`p.channel` is ignored). */
  append(p: Publication): void;
  /**
   * Reads the log from its end as of now, for ever, calling `entry` for each entry in order
   * (the bytes may be a view: read them now). Resolves once the starting point is known: every
   * entry appended after that is delivered.
   */
  follow(entry: (offset: LogOffset, msg: Uint8Array) => void): Promise<LogOffset>;
  /**
   * The entries after `from` up to and including `to`, oldest first; undefined when the log no
   * longer has them all, or there are more than `limit`.
   */
  range(from: LogOffset, to: LogOffset, limit: number): Promise<[LogOffset, Uint8Array][] | undefined>;
  /** Stores a session record under its token for `ttl` ms; false (nothing stored) past `maxRecordBytes`. */
  keep(token: string, record: Uint8Array, ttl: number): boolean;
  /**
   * Takes the record of a token, atomically across nodes, leaving a mark for `markTtl` ms that it
   * was taken: the record, `'taken'` when the mark is there, undefined if neither (or unreachable).
   */
  take(token: string, markTtl: number): Promise<Uint8Array | 'taken' | undefined>;
  /** A digest of a token (how the store names its record; also how nodes ask each other about it). */
  hash(token: string): string;
  /** Deletes the record of a token: true unless another node took it (see `SharedLog.release` in core). */
  release(token: string): Promise<boolean>;
  /** Largest record kept (bytes). */
  readonly maxRecordBytes: number;
  /** The log's own gauges and counters, merged into the adapter's. */
  stats(): Record<string, number>;
}
