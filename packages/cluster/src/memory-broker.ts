import { Failure, type Broker, type BrokerEvents, type Publication } from './broker';
import { soon, unref } from './util';

/**
 * Channels shared by the `MemoryBroker`s of one process: a cluster of hubs in one process, for
 * tests and examples, with faults on demand (a lost connection, a frozen node, lost messages).
 */
export class MemoryBus {
  private readonly subs = new Map<string, Set<MemoryBroker>>();

  /** Subscribers of a channel now. */
  count(channel: string): number {
    return this.subs.get(channel)?.size ?? 0;
  }

  /** Queues a copy of `msg` for every subscriber of `channel`; returns how many there were. */
  deliver(channel: string, msg: Uint8Array): number {
    const subs = this.subs.get(channel);
    if (!subs) return 0;
    const copy = msg.slice();
    for (const b of subs) b.receive(copy, channel);
    return subs.size;
  }

  add(channel: string, b: MemoryBroker): void {
    let subs = this.subs.get(channel);
    if (!subs) this.subs.set(channel, (subs = new Set()));
    subs.add(b);
  }

  remove(channel: string, b: MemoryBroker): void {
    const subs = this.subs.get(channel);
    if (subs?.delete(b) && subs.size === 0) this.subs.delete(channel);
  }
}

export interface MemoryBrokerOptions {
  /** Sharded channels (one per room, see `Broker.sharded`). Default false. */
  sharded?: boolean;
  /** A publish's receiver count covers every subscriber. False imitates Redis Cluster in classic mode. Default true. */
  exactReceivers?: boolean;
  /** A publication that cannot go out (disconnected, frozen) for this long fails DOWN (ms). Default 1 000. */
  publishTimeout?: number;
  /** Publications waiting, at most (by weight); more fail FULL. Default 10 000. */
  maxPending?: number;
  /** Connects when opened. False: stays away until `reconnect()` (a broker not there at start). Default true. */
  connect?: boolean;
}

interface Waiting {
  p: Publication;
  deadline: number;
}

/**
 * A `Broker` on a `MemoryBus`. Messages are delivered and publications settled asynchronously
 * (after the current I/O phase), in order. Test controls: `disconnect()` / `reconnect()` (the
 * subscriptions are lost and restored by the adapter), `freeze()` / `thaw()` (a node that stops
 * running: subscribed, but neither reading nor writing), `dropIncoming(n)` (messages lost on
 * the way to this node).
 */
export class MemoryBroker implements Broker {
  readonly name = 'memory broker';
  readonly address = 'memory';
  readonly sharded: boolean;
  readonly exactReceivers: boolean;
  readonly keepsSubscriptions = false;
  private events: BrokerEvents | undefined;
  private up = false;
  private frozen = false;
  private closed = false;
  private everUp = false;
  private readonly drops = new Map<string | undefined, number>();
  private readonly channels = new Set<string>();
  private waiting: Waiting[] = [];
  private weight = 0;
  private held: [Uint8Array, string][] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly publishTimeout: number;
  private readonly maxPending: number;
  private readonly autoConnect: boolean;

  constructor(
    private readonly bus: MemoryBus,
    options: MemoryBrokerOptions = {},
  ) {
    this.sharded = options.sharded ?? false;
    this.exactReceivers = options.exactReceivers ?? true;
    this.publishTimeout = options.publishTimeout ?? 1_000;
    this.maxPending = options.maxPending ?? 10_000;
    this.autoConnect = options.connect ?? true;
  }

  get publisherUp(): boolean {
    return this.up && !this.frozen;
  }

  get subscriberUp(): boolean {
    return this.up;
  }

  get connected(): boolean {
    return this.up;
  }

  /** Publications waiting to go out. */
  get pending(): number {
    return this.weight;
  }

  open(_nodeId: string, events: BrokerEvents): void {
    this.events = events;
    if (this.autoConnect) soon(() => this.reconnect());
  }

  publish(p: Publication): void {
    if (this.closed) return p.done(p, 0, undefined, Failure.CLOSED, undefined);
    const w = p.weight ?? 1;
    if (this.weight + w > this.maxPending) return p.done(p, 0, undefined, Failure.FULL, undefined);
    if (this.publisherUp && this.waiting.length === 0) return this.send(p);
    this.waiting.push({ p, deadline: Date.now() + this.publishTimeout });
    this.weight += w;
    this.timer ??= setTimeout(() => this.expire(), this.publishTimeout);
    unref(this.timer);
  }

  private send(p: Publication): void {
    const receivers = this.bus.deliver(p.channel, p.msg);
    const counts = p.probe?.map((ch) => this.bus.count(ch));
    soon(() => p.done(p, receivers, counts, 0, undefined));
  }

  private expire(): void {
    this.timer = undefined;
    const t = Date.now();
    while (this.waiting.length > 0 && this.waiting[0]!.deadline <= t) {
      const { p } = this.waiting.shift()!;
      this.weight -= p.weight ?? 1;
      p.done(p, 0, undefined, Failure.DOWN, undefined);
    }
    if (this.waiting.length > 0) {
      this.timer = setTimeout(() => this.expire(), Math.max(1, this.waiting[0]!.deadline - t));
      unref(this.timer);
    }
  }

  private flush(): void {
    const list = this.waiting;
    this.waiting = [];
    this.weight = 0;
    for (const { p } of list) this.send(p);
  }

  /** Called by the bus: a message for this node. */
  receive(msg: Uint8Array, channel: string): void {
    if (this.dropped(channel) || this.dropped(undefined)) return;
    if (this.frozen) return void this.held.push([msg, channel]);
    soon(() => {
      if (this.up && !this.closed) this.events?.message(msg);
    });
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    if (!this.up) throw new Error('not connected');
    for (const ch of channels) {
      this.channels.add(ch);
      this.bus.add(ch, this);
    }
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    for (const ch of channels) {
      this.channels.delete(ch);
      this.bus.remove(ch, this);
    }
  }

  async countSubscribers(channels: readonly string[]): Promise<number[]> {
    if (!this.up) throw new Error('not connected');
    return channels.map((ch) => this.bus.count(ch));
  }

  /** The connection is lost: subscriptions gone, publications wait (until their deadline). */
  disconnect(): void {
    if (!this.up) return;
    this.up = false;
    this.dropSubscriptions();
    this.events?.down('publisher');
    this.events?.down('subscriber');
  }

  /** The connection is back (the adapter subscribes again); what waited goes out. */
  reconnect(): void {
    if (this.up || this.closed) return;
    this.up = true;
    const again = this.everUp;
    this.everUp = true;
    if (!this.frozen) this.flush();
    this.events?.up('publisher', again);
    this.events?.up('subscriber', again);
  }

  /** The node stops running: still subscribed, but nothing is read or written until `thaw()`. */
  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    const held = this.held;
    this.held = [];
    for (const [msg, channel] of held) this.receive(msg, channel);
    if (this.up) this.flush();
  }

  /** The next `n` messages for this node (on `channel`, or on any) are lost on the way. */
  dropIncoming(n: number, channel?: string): void {
    this.drops.set(channel, (this.drops.get(channel) ?? 0) + n);
  }

  private dropped(channel: string | undefined): boolean {
    const n = this.drops.get(channel);
    if (!n) return false;
    if (n === 1) this.drops.delete(channel);
    else this.drops.set(channel, n - 1);
    return true;
  }

  private dropSubscriptions(): void {
    for (const ch of this.channels) this.bus.remove(ch, this);
    this.channels.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.dropSubscriptions();
    const list = this.waiting;
    this.waiting = [];
    this.weight = 0;
    this.held = [];
    for (const { p } of list) p.done(p, 0, undefined, Failure.CLOSED, undefined);
  }
}
