import { MemoryAdapter } from '@stelar/core';
import { linkOf, OutFrame, type AdapterHost, type AnyConnection, type BroadcastTarget, type RecoveryLog, type RecoverySettings, type Target } from '@stelar/core/internal';
import type { Offset } from '@stelar/codec-tcp';
import type { Broker, BrokerSide, Failure, Publication } from './broker';
import { boot, startError, type BootContext } from './boot';
import { channelsOf, type Channels } from './channels';
import { onControl, type ControlContext } from './control';
import { decodeBroadcast, encodeBroadcast, encodeControl, EnvelopeError, Flag, headerFor, Kind, type BroadcastEnvelope, type ControlEnvelope } from './envelope';
import { Heartbeat } from './heartbeat';
import { Losses } from './losses';
import { Membership } from './membership';
import { brokerErrorCodes, ClusterErrorCode, resolveOptions, type BrokerErrorCodes, type ClusterAdapterOptions, type ResolvedClusterOptions } from './options';
import { Outbox } from './outbox';
import { Publisher } from './publish';
import { Corker, unpack, type Receiver } from './receive';
import { Sequencer } from './sequencing';
import { StreamLog } from './stream-log';
import { Subscriptions } from './subscriptions';
import { asError, now, unref } from './util';

/**
 * Being one node of a cluster: the broker's connection and subscriptions, membership traffic
 * (hello, heartbeats, goodbye), publishing broadcasts with their numbers and receiving the
 * others'. `ClusterAdapter` adds the cross-node queries and handles on top.
 */
export abstract class ClusterNode extends MemoryAdapter {
  readonly options: ResolvedClusterOptions;
  protected readonly broker: Broker;
  protected readonly codes: BrokerErrorCodes;
  protected readonly onError: ((err: Error) => void) | undefined;
  protected header: Uint8Array = new Uint8Array(0);
  protected channels: Channels;
  protected readonly losses: Losses;
  protected readonly seq: Sequencer;
  protected readonly peers: Membership;
  protected readonly outbox: Outbox;
  private readonly publisher: Publisher;
  private readonly control: ControlContext;
  protected closed = false;
  protected started: Promise<void> = Promise.resolve();
  protected readonly counters = { published: 0, received: 0, reconnects: 0, disconnects: 0, badMessages: 0 };
  protected readonly subs: Subscriptions;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  protected readonly heartbeat: Heartbeat;
  private readonly corker = new Corker();
  private startTimer: ReturnType<typeof setTimeout> | undefined;
  /** Connection-state recovery: this node's window on the broker's log (broadcasts then travel through it). */
  protected stream: StreamLog | undefined = undefined;
  protected readonly streamCounters = { appended: 0, delivered: 0 };

  constructor(broker: Broker, options: ClusterAdapterOptions) {
    super();
    const o = (this.options = resolveOptions(options));
    this.broker = broker;
    this.codes = brokerErrorCodes(o.errorPrefix);
    this.onError = options.onError;
    this.channels = channelsOf(o.prefix, broker.sharded, '');
    const countError = (code: string): void => this.host.countError(code);
    this.losses = new Losses({ ...this.codes, ADAPTER_CLOSED: ClusterErrorCode.ADAPTER_CLOSED }, broker.name, countError, this.onError);
    this.seq = new Sequencer((n, origin) => {
      countError(this.codes.MISSED); // once per gap; stats.missedFromPeers has the number
      this.losses.report(this.codes.MISSED, `broadcast(s) of other nodes never arrived here (sequence gaps, last from ${origin})`, n);
    });
    this.peers = new Membership(
      (node) => this.nodeDropped(node),
      (nodes) => broker.countSubscribers(nodes.map((n) => this.channels.resOf(n))),
      o.commandTimeout,
    );
    this.outbox = new Outbox(broker, () => this.header, o.maxBatchBytes);
    this.publisher = new Publisher({
      sharded: broker.sharded,
      outbox: this.outbox,
      seq: this.seq,
      losses: this.losses,
      counters: this.counters,
      header: () => this.header,
      channels: () => this.channels,
      isRoom: (name) => this.rooms.has(name),
      isConnection: (name) => this.host.connection(name) !== undefined,
    });
    this.heartbeat = new Heartbeat({
      broker,
      outbox: this.outbox,
      seq: this.seq,
      peers: this.peers,
      losses: this.losses,
      header: () => this.header,
      req: () => this.channels.req,
      res: () => this.channels.res,
      room: (room) => this.channels.room(room),
      closed: () => this.closed,
    });
    this.subs = new Subscriptions({
      broker,
      code: this.codes.SUBSCRIBE_FAILED,
      timeout: o.commandTimeout,
      channels: () => this.channels,
      rooms: () => this.rooms.keys(),
      closed: () => this.closed,
      countError,
      onError: this.onError,
      subscribed: (first) => {
        this.peers.poke();
        // Back after a loss: announce ourselves; the others answer with their heartbeats, which
        // carry their sequence numbers, so what we missed meanwhile is counted.
        if (!first) void this.heartbeat.hello().catch(() => undefined);
      },
      failed: () => this.peers.poke(),
    });
    this.control = {
      seq: this.seq,
      peers: this.peers,
      heartbeat: this.heartbeat,
      follows: this.follows,
      taken: (id) => this.stream?.onTaken?.(id),
      query: (env) => this.onQuery(env),
    };
  }

  /** Asks every node to park the session of a token digest (recovery); true if one did. */
  protected abstract askHandover(digest: string): Promise<boolean>;
  /** A node is no longer known alive. */
  protected abstract nodeDropped(node: string): void;
  /** A request or response of another node (`REQUEST` / `RESPONSE`). */
  protected abstract onQuery(env: ControlEnvelope): void;

  // ── lifecycle ───────────────────────────────────────────────────────────────

  override attach(host: AdapterHost): Promise<void> {
    super.attach(host);
    this.header = headerFor(host.nodeId);
    this.channels = channelsOf(this.options.prefix, this.broker.sharded, host.nodeId);
    this.started = this.start();
    this.started.catch(() => undefined);
    return this.started;
  }

  /**
   * Connection-state recovery (`HubOptions.recovery`): needs a broker with a log (`Broker.log`),
   * in classic mode. From then on every broadcast that is not volatile or local goes through
   * the log and every node, this one included, delivers it in log order with its offset.
   */
  override recovery(settings: RecoverySettings, budget: () => number): RecoveryLog {
    if (this.broker.sharded) {
      throw new TypeError(`${this.constructor.name} does not support connection-state recovery (HubOptions.recovery) in sharded mode: its log is one stream every node reads, which sharded mode is there to avoid; use sharded: false`);
    }
    const log = this.broker.log;
    if (log === undefined) {
      throw new TypeError(`${this.constructor.name} does not support connection-state recovery (HubOptions.recovery) over this broker: a cluster needs a shared log of broadcasts, which this Broker does not provide`);
    }
    this.stream = new StreamLog(settings, budget, log, this.options.commandTimeout, (id) => this.sessionTaken(id), (digest) => this.askHandover(digest));
    this.recoveryLog = this.stream;
    return this.stream;
  }

  private bootContext(): BootContext {
    const { broker, options, codes, subs, peers, heartbeat } = this;
    return { broker, options, codes, subs, peers, heartbeat, closed: () => this.closed };
  }

  private async start(): Promise<void> {
    const stream = this.stream;
    const following = stream ? this.broker.log!.follow((offset, msg) => this.onEntry(offset, msg)).then((from) => stream.start(from)) : undefined;
    following?.catch(() => undefined);
    this.broker.open(this.host.nodeId, {
      message: (msg) => {
        if (!this.closed) unpack(msg, this.header, this.receiver);
      },
      up: (side, again) => this.onUp(side, again),
      down: () => {
        if (!this.closed) this.counters.disconnects++;
      },
      error: (err) => {
        if (!this.closed) this.onError?.(err);
      },
    });
    // Heartbeats and the sweep run from now on (a tick skips the heartbeat while the broker is away).
    this.heartbeatTimer = setInterval(() => this.tick(), this.options.heartbeatInterval);
    unref(this.heartbeatTimer);
    const ctx = this.bootContext();
    const booted = boot(ctx);
    const all = following ? Promise.all([booted, following]).then(() => undefined) : booted;
    all.catch(() => undefined);
    const timeout = new Promise<never>((_, reject) => {
      this.startTimer = setTimeout(() => reject(startError(ctx)), this.options.startTimeout);
      unref(this.startTimer);
    });
    try {
      await Promise.race([all, timeout]);
    } finally {
      clearTimeout(this.startTimer);
    }
  }

  /**
   * Leaves the cluster: stops timers, rejects pending queries, says goodbye (so other nodes stop
   * waiting for this one at once) and closes the broker. `goodbye: false` leaves silently, as a
   * crash would.
   */
  override async close(options: { goodbye?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.startTimer !== undefined) clearTimeout(this.startTimer);
    this.heartbeatTimer = this.startTimer = undefined;
    this.heartbeat.cancel();
    this.losses.close();
    this.peers.poke();
    this.closing();
    if (options.goodbye !== false && this.header.length > 0 && this.broker.publisherUp) {
      await new Promise<void>((resolve) => {
        this.outbox.send({ channel: this.channels.req, msg: encodeControl(this.header, Kind.BYE), done: () => resolve() });
      });
    }
    this.outbox.close();
    this.stream?.close();
    await this.broker.close();
    this.peers.clear();
    this.seq.clear();
    await super.close();
  }

  /** Called by `close()` before the goodbye: pending operations fail. */
  protected abstract closing(): void;

  override nodeCount(): number {
    return this.peers.size + 1;
  }

  /** Ids of the other nodes known alive. */
  nodeIds(): string[] {
    return this.peers.ids();
  }

  /**
   * Resolves once every subscription change asked so far is in effect on the broker (sharded
   * mode subscribes a room's channel when its first local member joins), or has failed (counted
   * in `subscribeFailures`). Bounded by `commandTimeout`.
   */
  sync(): Promise<void> {
    return this.subs.sync();
  }

  // ── the broker's connection and subscriptions ───────────────────────────────

  private onUp(side: BrokerSide, again: boolean): void {
    if (again) this.counters.reconnects++;
    if (this.closed) return;
    if (side === 'subscriber') return this.subs.restore();
    // The publisher is (again) up: marks and a heartbeat for what failed meanwhile.
    this.peers.poke();
    if (this.seq.takeDirty()) {
      this.heartbeat.soon();
      this.heartbeat.marks();
    }
  }

  // ── rooms (sharded brokers: one channel per room with local members) ───────

  /** On a sharded broker, resolves once the channels of rooms new to this node are subscribed (or failed). */
  override join(conn: AnyConnection, rooms: readonly string[]): void | Promise<void> {
    if (!this.broker.sharded) return super.join(conn, rooms);
    const fresh = rooms.filter((r) => !this.rooms.has(r));
    super.join(conn, rooms);
    const subscribed: Promise<void>[] = [];
    for (const r of fresh) if (this.rooms.has(r)) subscribed.push(this.subs.subscribe([this.channels.room(r)]).catch(() => undefined));
    return subscribed.length ? Promise.all(subscribed).then(() => undefined) : undefined;
  }

  override leave(conn: AnyConnection, room: string): boolean {
    const was = super.leave(conn, room);
    if (was && this.broker.sharded && !this.rooms.has(room) && !this.closed) {
      this.subs.unsubscribe(this.channels.room(room)).catch(() => undefined);
      this.seq.forgetRoom(room);
    }
    return was;
  }

  // ── broadcast ───────────────────────────────────────────────────────────────

  /**
   * Publishes first (the first publish of an event-loop turn goes to the broker at once), then
   * delivers to local members: remote latency does not include the local fan-out.
   */
  override broadcast(frame: Uint8Array, target: BroadcastTarget): void {
    if (this.stream !== undefined && !target.local && !target.volatile) return this.append(frame, target);
    if (!target.local && !this.closed && this.header.length > 0) this.publisher.publish(frame, target);
    this.deliverCorked(frame, target, target.volatile, target.compress);
  }

  /**
   * With recovery: the broadcast goes to the broker's log only; every node (this one included)
   * delivers it when it reads it there, so all deliver in one order, with the log's offsets.
   */
  private append(frame: Uint8Array, target: BroadcastTarget): void {
    if (this.closed || this.header.length === 0) return void this.deliverCorked(frame, target, false);
    const msg = encodeBroadcast(this.header, 0, 0, 0, target, frame);
    this.broker.log!.append({ channel: '', msg, done: this.onAppendDone });
  }

  private readonly onAppendDone = (_p: Publication, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure === 0) return void this.streamCounters.appended++;
    this.losses.lost(failure, 'broadcast');
  };

  /** An entry of the log: kept in this node's window with its offset, then delivered to the local members it addresses. */
  private onEntry(offset: Offset, msg: Uint8Array): void {
    const stream = this.stream;
    if (this.closed || stream === undefined) return;
    let env: BroadcastEnvelope;
    try {
      env = decodeBroadcast(msg);
    } catch (err) {
      return this.receiver.bad(err);
    }
    const target = { rooms: env.rooms, exceptRooms: env.exceptRooms, exceptIds: env.exceptIds, volatile: false, local: false };
    // (The frame is a view into the broker's buffer: the window keeps its own stamped copy.)
    const entry = stream.add(offset, env.frame, target, now());
    if (entry === undefined && (offset.hi !== 0 || offset.lo !== 0)) return; // a copy
    if (env.origin !== this.host.nodeId) this.peers.seen(env.origin);
    this.streamCounters.delivered++;
    const out = new OutFrame(entry === undefined ? env.frame.slice() : env.frame, entry);
    this.forEachMatch(target, (conn) => {
      this.corker.cork(linkOf(conn));
      conn.sendOut(out, false);
    });
  }

  /** Tells every node that this one claimed the session `id` (their copies go without `onDisconnect`). */
  private sessionTaken(id: string): void {
    if (this.closed || this.header.length === 0) return;
    this.outbox.send({ channel: this.channels.req, msg: encodeControl(this.header, Kind.REQUEST, { id: 0, op: 'moved', conn: id }), done: () => undefined });
  }

  /** Local delivery, each recipient corked until the current callback has returned (see `Corker`). */
  private deliverCorked(frame: Uint8Array, target: Target, volatile: boolean, compress?: boolean): void {
    this.forEachMatch(target, (conn) => {
      this.corker.cork(linkOf(conn));
      conn.sendEncoded(frame, volatile, compress);
    });
  }

  // ── receiving ───────────────────────────────────────────────────────────────

  private readonly receiver: Receiver = {
    broadcast: (env) => this.onBroadcast(env),
    control: (env) => onControl(this.control, env),
    bad: (err) => {
      if (err instanceof EnvelopeError) {
        this.counters.badMessages++;
        this.host.countError(this.codes.BAD_MESSAGE);
      } else {
        // Not ours to throw into the broker client's parser.
        this.host.countError('HANDLER_ERROR');
        this.onError?.(asError(err));
      }
    },
  };

  private readonly follows = (room: string): boolean => this.rooms.has(room);

  private onBroadcast(env: BroadcastEnvelope): void {
    this.peers.seen(env.origin);
    if (!this.seq.accept(env, this.follows)) return;
    this.counters.received++;
    this.deliverCorked(env.frame, env, (env.flags & Flag.VOLATILE) !== 0, (env.flags & Flag.UNCOMPRESSED) !== 0 ? false : undefined);
  }

  // ── membership traffic ──────────────────────────────────────────────────────

  private tick(): void {
    const t = now();
    const forget = 10 * this.options.nodeTimeout;
    this.peers.sweep(t, this.options.nodeTimeout, forget);
    this.seq.sweep(t, forget, (node) => this.peers.has(node));
    this.broker.poll?.();
    this.heartbeat.send();
  }
}
