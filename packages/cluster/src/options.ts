/** The cluster adapter's options, counters and error codes. */

/** Error codes for what a broker did or did not do, named after the broker (`REDIS_DOWN`, …). */
export interface BrokerErrorCodes {
  /** A message was not sent: the broker was unreachable until its deadline. Lost. */
  readonly DOWN: string;
  /** A message was not sent: the broker's pending buffer was full. Lost. */
  readonly BUFFER_FULL: string;
  /** A message was in flight when its connection broke or stalled: it may or may not have arrived. */
  readonly UNCONFIRMED: string;
  /** The broker answered a publish with an error. Lost. */
  readonly PUBLISH_FAILED: string;
  /** Broadcasts from another node never arrived here (a gap in its sequence numbers). */
  readonly MISSED: string;
  /** A message on our channels that is not a valid envelope. */
  readonly BAD_MESSAGE: string;
  /** The broker refused a subscription, or it did not complete in time. */
  readonly SUBSCRIBE_FAILED: string;
}

/** `<PREFIX>_DOWN`, `<PREFIX>_BUFFER_FULL`, …: the codes of one broker. */
export function brokerErrorCodes(prefix: string): BrokerErrorCodes {
  return {
    DOWN: `${prefix}_DOWN`,
    BUFFER_FULL: `${prefix}_BUFFER_FULL`,
    UNCONFIRMED: `${prefix}_UNCONFIRMED`,
    PUBLISH_FAILED: `${prefix}_PUBLISH_FAILED`,
    MISSED: `${prefix}_MISSED`,
    BAD_MESSAGE: `${prefix}_BAD_MESSAGE`,
    SUBSCRIBE_FAILED: `${prefix}_SUBSCRIBE_FAILED`,
  };
}

/** Error codes of the cluster adapter (counted in the hub's `getStats().errors` too). */
export const ClusterErrorCode = {
  ...brokerErrorCodes('BROKER'),
  /** A cross-node query did not get every live node's answer in time. */
  NODE_TIMEOUT: 'NODE_TIMEOUT',
  /** The adapter was closed with the operation pending. */
  ADAPTER_CLOSED: 'ADAPTER_CLOSED',
} as const;

export interface ClusterAdapterOptions {
  /**
   * Channel name prefix: clusters with different prefixes do not see each other. No `{` or `}`
   * (the adapter puts it in braces, a Redis Cluster hash tag). Default `stelar`.
   */
  prefix?: string;
  /** How long a cross-node query waits for every live node (ms). Default 5 000. */
  requestTimeout?: number;
  /** How often this node says it is alive (ms). Default 5 000. */
  heartbeatInterval?: number;
  /** A node unheard of for this long is not waited for any more (ms). Default 15 000. */
  nodeTimeout?: number;
  /** `hub.ready()` rejects if the broker is not reachable within this time (ms); the adapter keeps trying. Default 10 000. */
  startTimeout?: number;
  /** `hub.ready()` waits this long at most (ms) for the other nodes the broker reports subscribed to say who they are. Default 1 000. */
  discoveryTimeout?: number;
  /**
   * While a query waits, how often (ms) it asks the broker whether the nodes it waits for are
   * still subscribed, so a crashed node stops delaying it. Default 500.
   */
  probeInterval?: number;
  /**
   * How long the adapter waits for a subscribe, unsubscribe or subscriber count of the broker
   * (ms); then it counts the command as failed. Default 2 000.
   */
  commandTimeout?: number;
  /** The broadcasts of one event-loop turn held for one batch are published once they reach this many bytes. Default 1 MiB. */
  maxBatchBytes?: number;
  /** The prefix of the broker's error codes (`BROKER` gives `BROKER_DOWN`, …). Default `BROKER`. */
  errorPrefix?: string;
  /** Errors of the broker's connections, and reports of lost messages (they are counted either way). */
  onError?: (err: Error) => void;
}

export type ResolvedClusterOptions = Readonly<Required<Omit<ClusterAdapterOptions, 'onError'>>>;

const POSITIVE = ['requestTimeout', 'heartbeatInterval', 'nodeTimeout', 'startTimeout', 'discoveryTimeout', 'probeInterval', 'commandTimeout', 'maxBatchBytes'] as const;

/** Defaults filled in and checked (RangeError on a bad value). */
export function resolveOptions(options: ClusterAdapterOptions): ResolvedClusterOptions {
  const o = {
    prefix: options.prefix ?? 'stelar',
    requestTimeout: options.requestTimeout ?? 5_000,
    heartbeatInterval: options.heartbeatInterval ?? 5_000,
    nodeTimeout: options.nodeTimeout ?? 15_000,
    startTimeout: options.startTimeout ?? 10_000,
    discoveryTimeout: options.discoveryTimeout ?? 1_000,
    probeInterval: options.probeInterval ?? 500,
    commandTimeout: options.commandTimeout ?? 2_000,
    maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
    errorPrefix: options.errorPrefix ?? 'BROKER',
  };
  for (const k of POSITIVE) {
    if (!(o[k] > 0) || !Number.isFinite(o[k])) throw new RangeError(`${k} must be a positive number`);
  }
  if (o.nodeTimeout <= o.heartbeatInterval) throw new RangeError('nodeTimeout must be longer than heartbeatInterval');
  if (o.prefix.length === 0 || /[{}]/.test(o.prefix)) throw new RangeError('prefix must be a non-empty string without { or }');
  return o;
}

/** Counters of the cluster adapter (`adapter.stats`). */
export interface ClusterAdapterStats {
  /** Broadcasts published to the other nodes (the broker confirmed). */
  published: number;
  /** Broadcasts received from other nodes and delivered here. */
  received: number;
  /** Messages the broker answered with an error (lost). */
  publishFailures: number;
  /** Messages in flight when their connection broke or stalled: may or may not have arrived. */
  publishUnconfirmed: number;
  /** Messages not sent because the broker was unreachable until their deadline (lost). */
  droppedWhileDown: number;
  /** Messages not sent because the pending buffer was full (lost). */
  droppedBufferFull: number;
  /** Broadcasts of other nodes that never arrived here, from gaps in their sequence numbers. */
  missedFromPeers: number;
  /** Copies of a broadcast received twice (a resend by the broker's client), not delivered again. */
  duplicatesDropped: number;
  /** Heartbeats, hellos and marks not sent (membership traffic, not messages). */
  controlDropped: number;
  /** Times a broker connection (publish or subscribe side) came back after a loss. */
  reconnects: number;
  /** Times a broker connection was lost. */
  disconnects: number;
  /** Publishes that carried several broadcasts of one event-loop turn (one channel). */
  publishBatches: number;
  /** Subscriptions refused by the broker or not completed in time. */
  subscribeFailures: number;
  /** Cross-node queries that timed out. */
  requestsTimedOut: number;
  /** Nodes dropped for silence (not counting goodbyes). */
  nodesTimedOut: number;
  /** Nodes dropped because the broker no longer had them subscribed (a crash, a lost connection). */
  nodesGone: number;
  /** Messages on our channels that were not valid envelopes. */
  badMessages: number;
  /** Both sides of the broker are up. */
  connected: boolean;
  /** Nodes known, this one included. */
  nodes: number;
  /** With recovery (a broker with a log): broadcasts this node appended to the log (confirmed). */
  logAppended?: number;
  /** Entries of the log this node read and delivered (its own included). */
  logDelivered?: number;
  /** Entries read back from the broker's log for resumes (older than this node's window). */
  logReadForResumes?: number;
  /** Entries the log delivered without an offset (delivered, not kept for recovery). */
  logUnkept?: number;
  /** The broker's log gauges and counters (Redis: stream length, lag, records). */
  [key: `log${string}` | `record${string}`]: number | undefined;
}
