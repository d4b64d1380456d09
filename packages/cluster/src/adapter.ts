import { encodeBinary, encodeJson } from '@stelar/codec-tcp';
import { StelarError, type ConnectionHandle, type ConnectionInfo } from '@stelar/core';
import { asBytes, isBinary, type BroadcastAnswer, type BroadcastRequest, type BroadcastTarget, type Target } from '@stelar/core/internal';
import { decodeAnswers, encodePayload } from './broadcast-request';
import type { Broker, Failure, Publication } from './broker';
import { encodeBroadcast, encodeControl, Kind, type ControlEnvelope } from './envelope';
import { RemoteConnectionHandle, type RemoteOps } from './handles';
import { ClusterNode } from './node';
import { ClusterErrorCode, type ClusterAdapterOptions, type ClusterAdapterStats } from './options';
import { Queries, type Op, type Reply, type RequestBody } from './queries';
import { serveRequest, type ServeContext } from './serve';
import { asError } from './util';

function plainTarget(t: Target): Target {
  return { rooms: [...t.rooms], exceptRooms: [...t.exceptRooms], exceptIds: [...t.exceptIds] };
}

/** An event frame (docs/protocol.md §1), encoded as core's broadcast operator does for any emit. */
function eventFrame(event: string, data: unknown): Uint8Array {
  return isBinary(data) ? encodeBinary(event, asBytes(data)) : encodeJson(event, data);
}

/**
 * Rooms and broadcast across many server processes, over any message broker (see `Broker`):
 * `new Hub({ adapter: new ClusterAdapter(broker) })`.
 *
 * Membership stays local (each node knows its own connections' rooms, as in `MemoryAdapter`);
 * the broker carries broadcasts (the encoded frame bytes in a small binary envelope), cross-node
 * queries (a request channel + one response channel per node), operations on one remote
 * connection, server-side events and node heartbeats. See the package README for the channels,
 * the delivery guarantees and what happens when the broker fails.
 */
export class ClusterAdapter extends ClusterNode {
  private readonly queries: Queries;

  constructor(broker: Broker, options: ClusterAdapterOptions = {}) {
    super(broker, options);
    this.queries = new Queries({
      header: () => this.header,
      req: () => this.channels.req,
      res: () => this.channels.res,
      resOf: (node) => this.channels.resOf(node),
      outbox: this.outbox,
      members: this.peers,
      losses: this.losses,
      exactReceivers: broker.exactReceivers,
      countSubscribers: (channels) => broker.countSubscribers(channels),
      countError: (code) => this.host.countError(code),
      requestTimeout: this.options.requestTimeout,
      probeInterval: this.options.probeInterval,
    });
  }

  protected override nodeDropped(node: string): void {
    this.queries.nodeDropped(node);
  }

  protected override closing(): void {
    this.queries.close();
  }

  /** Counters (a snapshot). */
  get stats(): ClusterAdapterStats {
    const { losses, seq, peers } = this;
    return {
      ...this.counters,
      publishFailures: losses.publishFailures,
      publishUnconfirmed: losses.publishUnconfirmed,
      droppedWhileDown: losses.droppedWhileDown,
      droppedBufferFull: losses.droppedBufferFull,
      missedFromPeers: seq.missed,
      duplicatesDropped: seq.duplicates,
      controlDropped: this.heartbeat.dropped,
      publishBatches: this.outbox.batches,
      subscribeFailures: this.subs.failures,
      requestsTimedOut: this.queries.timedOut,
      nodesTimedOut: peers.timedOut,
      nodesGone: peers.gone,
      connected: this.broker.connected,
      nodes: this.nodeCount(),
      ...this.recoveryStats(),
    };
  }

  /** With recovery: the log's counters (this node's window, and the broker's). */
  private recoveryStats(): Partial<ClusterAdapterStats> {
    const stream = this.stream;
    if (stream === undefined) return {};
    return {
      logAppended: this.streamCounters.appended,
      logDelivered: this.streamCounters.delivered,
      logReadForResumes: stream.readFromStore,
      logUnkept: stream.unkept,
      ...this.broker.log!.stats(),
    };
  }

  /** The counters as numbers, for the hub's `getStats().adapter` and Prometheus output. */
  metrics(): Record<string, number> {
    const { connected, ...counters } = this.stats;
    return { ...counters, connected: connected ? 1 : 0 };
  }

  // ── cross-node queries ──────────────────────────────────────────────────────

  override async fetchConnections(target: Target, options: { timeout?: number } = {}): Promise<ConnectionHandle[]> {
    const local: ConnectionHandle[] = await super.fetchConnections(target); // (computed before the request goes out)
    const replies = await this.ask('fetch', 'fetchConnections', { target: plainTarget(target) }, options.timeout);
    for (const [, r] of replies) {
      if (!r.ok || !Array.isArray(r.value)) continue;
      for (const info of r.value as ConnectionInfo[]) local.push(new RemoteConnectionHandle(info, this.remoteOps));
    }
    return local;
  }

  /**
   * `to(…).timeout(ms).request(event, data)` across the cluster: the local recipients' answers
   * and every other node's, one per recipient. Each node applies the timeout to its own
   * recipients; a node that does not answer within the timeout plus 500 ms fails the whole
   * request with NODE_TIMEOUT (its recipients are unknown to this node). Without a finite timeout,
   * the other nodes get this adapter's `requestTimeout`.
   */
  override async broadcastRequest(request: BroadcastRequest, target: BroadcastTarget): Promise<BroadcastAnswer[]> {
    const local = this.requestLocal(request, target);
    if (target.local) return local;
    const finite = request.timeout !== undefined && Number.isFinite(request.timeout) ? request.timeout : undefined;
    const timeout = finite ?? this.host.requestTimeout ?? this.options.requestTimeout;
    const body = {
      target: plainTarget(target),
      event: request.event,
      payload: encodePayload(request.payload),
      timeout,
      ...(target.compress === false && { compress: false }),
    };
    const [mine, replies] = await Promise.all([local, this.ask('b.request', `request("${request.event}") to many`, body, timeout + 500)]);
    const all = [...mine];
    for (const [node, r] of replies) {
      if (!r.ok) throw new StelarError(r.code, r.message, { nodeId: node });
      all.push(...decodeAnswers(r.value));
    }
    return all;
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
   * none, NODE_TIMEOUT if a node did not answer in time); without, once the broker took it.
   */
  override async serverSideEmit(event: string, data?: unknown, options: { ack?: boolean; timeout?: number } = {}): Promise<unknown[]> {
    if (typeof event !== 'string' || event.length === 0) throw new StelarError('BAD_EVENT', 'serverSideEmit needs an event name');
    const label = `serverSideEmit("${event}")`;
    if (options.ack) {
      const replies = await this.ask('emit', label, { event, data, ack: true }, options.timeout);
      return [...replies.values()].map((r) => (r as { value?: unknown }).value);
    }
    await this.settled();
    if (this.closed) throw new StelarError(ClusterErrorCode.ADAPTER_CLOSED, `${label}: the adapter is closed`);
    let msg: Uint8Array;
    try {
      msg = encodeControl(this.header, Kind.REQUEST, { id: 0, op: 'emit', event, data, ack: false } satisfies RequestBody);
    } catch (err) {
      throw new StelarError('BAD_PAYLOAD', `${label}: data is not JSON-serialisable: ${asError(err).message}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.outbox.send({
        channel: this.channels.req,
        msg,
        done: (_p, _r, _c, failure) => {
          if (failure === 0) return resolve();
          this.losses.lost(failure, 'server event');
          reject(this.losses.error(failure, `${label}:`));
        },
      });
    });
    return [];
  }

  private async settled(): Promise<void> {
    await this.started.catch(() => undefined);
  }

  /** Once started: publishes a request and waits for the nodes that received it (see `Queries`). */
  private async ask(op: Op, label: string, body: Omit<RequestBody, 'id' | 'op'>, timeout?: number, node?: string): Promise<Map<string, Reply>> {
    await this.settled();
    if (this.closed) throw new StelarError(ClusterErrorCode.ADAPTER_CLOSED, `${label}: the adapter is closed`);
    return this.queries.ask(op, label, body, timeout, node);
  }

  /** One node's answer, or undefined if the node is gone (nobody received the request). */
  private async askOne(node: string, op: Op, label: string, body: Omit<RequestBody, 'id' | 'op'>, timeout?: number): Promise<Reply | undefined> {
    const replies = await this.ask(op, label, body, timeout, node);
    return replies.get(node);
  }

  // ── answering the other nodes ───────────────────────────────────────────────

  protected override onQuery(env: ControlEnvelope): void {
    if (env.kind === Kind.RESPONSE) return this.queries.onResponse(env.origin, env.body as Reply);
    const req = env.body as RequestBody;
    if (req.op === 'r.handover') {
      // (Recovery: a client came back to that node while its session is still open here.)
      const parked = typeof req.conn === 'string' && this.stream !== undefined && this.stream.handOver(req.conn);
      return this.serving.reply(env.origin, { id: req.id, ok: true, value: parked });
    }
    serveRequest(this.serving, this.host, env.origin, req);
  }

  protected override async askHandover(digest: string): Promise<boolean> {
    const replies = await this.ask('r.handover', 'recovery handover', { conn: digest });
    for (const [, r] of replies) if (r.ok && r.value === true) return true;
    return false;
  }

  private readonly serving: ServeContext = {
    localMatches: (target) => this.localMatches(target),
    requestLocal: (request, target) => this.requestLocal(request, target),
    reply: (to, reply) => {
      let msg: Uint8Array;
      try {
        msg = encodeControl(this.header, Kind.RESPONSE, reply);
      } catch (err) {
        msg = encodeControl(this.header, Kind.RESPONSE, { id: reply.id, ok: false, code: 'HANDLER_ERROR', message: `reply is not JSON-serialisable: ${asError(err).message}` });
      }
      if (this.closed) return;
      this.outbox.send({ channel: this.channels.resOf(to), msg, done: this.onAnswerDone });
    },
  };

  private readonly onAnswerDone = (_p: Publication, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0) this.losses.lost(failure, 'answer to a query');
  };

  // ── operations on one remote connection (handles) ──────────────────────────

  private readonly remoteOps: RemoteOps = {
    emitTo: (node, id, event, data) => {
      if (this.closed) return;
      const msg = encodeBroadcast(this.header, 0, 0, 0, { rooms: [id], exceptRooms: [], exceptIds: [] }, eventFrame(event, data));
      this.outbox.send({ channel: this.channels.resOf(node), msg, done: this.onDirectDone });
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

  private readonly onDirectDone = (_p: Publication, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0) this.losses.lost(failure, 'message to a remote connection');
  };
}
