import { Failure, type Publication } from '@stelar/cluster';
import { now } from '@stelar/core/internal';

const WAITING = 0;
const INFLIGHT = 1;
const SETTLED = 2;
/** Settled (counted UNCONFIRMED at its deadline) but still in the Redis client's queue. */
const OVERDUE = 3;

/** A publication on its way to Redis, as the publisher tracks it. */
interface Entry {
  readonly p: Publication;
  readonly weight: number;
  readonly deadline: number;
  state: number;
  /** The connection it was written on (a reply from an older one is ignored). */
  epoch: number;
}

/** What the publisher needs of a Redis connection (standalone or Cluster). */
export interface PublishLink {
  /** Whether a command written now goes out at once. */
  ready(): boolean;
  publish(channel: string, msg: Uint8Array): Promise<number>;
  /** Counts subscribers of `probe` and publishes, as one atomic step where Redis allows it. */
  publishProbe(channel: string, msg: Uint8Array, probe: readonly string[]): Promise<[number, number[]]>;
  /** Drops the connection and reconnects (it stalled). */
  reset(): void;
}

export interface PublisherOptions {
  /** A publish not answered within this many ms of `send()` fails (DOWN or UNCONFIRMED). */
  timeout: number;
  /** Messages waiting or in flight, at most (a publication counts its `weight`). */
  maxPending: number;
  /** Bytes of those, at most. */
  maxPendingBytes: number;
}

/**
 * A bounded queue in front of a Redis connection, that settles every publish in bounded time.
 *
 * ioredis does not: with `autoResendUnfulfilledCommands: false` the commands in flight when a
 * connection drops are discarded at reconnection without their promises ever settling (and with
 * `enableAutoPipelining` the next pipeline then waits for them for ever). So the adapter never
 * waits on an ioredis promise alone. Each publish here is settled by whichever comes first: its
 * reply; the connection's `close` (everything in flight then is UNCONFIRMED, and a late reply is
 * ignored); or its deadline (UNCONFIRMED if written, DOWN if it was still waiting). An overdue
 * publish still counts against the buffer until Redis answers it or the connection closes, so
 * what the Redis client holds stays bounded too. No answer at all for `timeout` ms while
 * publishes are in flight means Redis stalled (e.g. SIGSTOP): the connection is reset. (That is
 * checked after the event loop has read its sockets, so a busy process does not take its own
 * lag for a stall.) While the connection is not ready, publishes wait here, within
 * `maxPending` / `maxPendingBytes`, and go out in order when it is.
 */
export class Publisher {
  private waiting: Entry[] = [];
  private wHead = 0;
  private inflight: Entry[] = [];
  private iHead = 0;
  private count = 0;
  private bytes = 0;
  private epoch = 0;
  /** When Redis last answered anything on the current connection (or it became ready). */
  private lastAnswer = now();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Times the connection was reset for stalling. */
  stalls = 0;

  constructor(
    private readonly link: PublishLink,
    private readonly opts: PublisherOptions,
  ) {}

  /** Messages waiting or in flight. */
  get pending(): number {
    return this.count;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  send(p: Publication): void {
    if (this.closed) return p.done(p, 0, undefined, Failure.CLOSED, undefined);
    const weight = p.weight ?? 1;
    const size = p.msg.length;
    if (this.count + weight > this.opts.maxPending || this.bytes + size > this.opts.maxPendingBytes) {
      return p.done(p, 0, undefined, Failure.FULL, undefined);
    }
    this.count += weight;
    this.bytes += size;
    const e: Entry = { p, weight, deadline: now() + this.opts.timeout, state: WAITING, epoch: 0 };
    if (this.wHead === this.waiting.length && this.link.ready()) this.write(e);
    else this.waiting.push(e);
    if (this.timer === undefined) this.arm(e.deadline);
  }

  /** The connection is (again) ready: sends what waits, in order. */
  onReady(): void {
    const t = now();
    if (this.iHead === this.inflight.length) this.lastAnswer = t;
    while (this.wHead < this.waiting.length && this.link.ready()) {
      const e = this.waiting[this.wHead]!;
      this.waiting[this.wHead++] = undefined as unknown as Entry;
      if (e.state !== WAITING) continue;
      if (e.deadline <= t) this.fail(e, Failure.DOWN, undefined);
      else this.write(e);
    }
    this.compact();
  }

  /** The connection closed: whatever was in flight on it will never be answered. */
  onClose(): void {
    this.epoch++;
    this.failInflight();
  }

  /** Settles everything (CLOSED) and stops the timer. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.epoch++;
    this.failInflight(Failure.CLOSED);
    for (; this.wHead < this.waiting.length; this.wHead++) {
      const e = this.waiting[this.wHead]!;
      if (e.state === WAITING) this.fail(e, Failure.CLOSED, undefined);
    }
    this.waiting = [];
    this.wHead = 0;
  }

  private write(e: Entry): void {
    // Waiting for an answer starts now if nothing else was (an idle connection has not stalled).
    if (this.iHead === this.inflight.length) this.lastAnswer = now();
    e.state = INFLIGHT;
    const epoch = (e.epoch = this.epoch);
    this.inflight.push(e);
    const { p } = e;
    let reply: Promise<number | [number, number[]]>;
    try {
      reply = p.probe ? this.link.publishProbe(p.channel, p.msg, p.probe) : this.link.publish(p.channel, p.msg);
    } catch (err) {
      this.failed(e, epoch, err);
      return;
    }
    reply.then(
      (r) => this.replied(e, epoch, r),
      (err: unknown) => this.failed(e, epoch, err),
    );
  }

  private replied(e: Entry, epoch: number, r: number | [number, number[]]): void {
    if (e.epoch !== epoch) return; // from a connection closed since: ignored
    this.lastAnswer = now();
    if (e.state === OVERDUE) {
      // Counted UNCONFIRMED at its deadline; now out of the Redis client's queue.
      this.release(e);
      this.trimInflight();
      return;
    }
    if (e.state !== INFLIGHT) return;
    this.release(e);
    if (typeof r === 'number') e.p.done(e.p, r, undefined, 0, undefined);
    else e.p.done(e.p, r[0], r[1], 0, undefined);
    this.trimInflight();
  }

  private failed(e: Entry, epoch: number, err: unknown): void {
    if (e.epoch !== epoch) return;
    if (e.state === OVERDUE) {
      this.release(e);
      this.trimInflight();
      return;
    }
    if (e.state !== INFLIGHT) return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.fail(e, classify(error), error);
    this.trimInflight();
  }

  private fail(e: Entry, failure: Failure, error: Error | undefined): void {
    this.release(e);
    e.p.done(e.p, 0, undefined, failure, error);
  }

  private release(e: Entry): void {
    if (e.state === SETTLED) return;
    e.state = SETTLED;
    this.count -= e.weight;
    this.bytes -= e.p.msg.length;
  }

  private failInflight(failure: Failure = Failure.UNCONFIRMED): void {
    const list = this.inflight;
    const from = this.iHead;
    this.inflight = [];
    this.iHead = 0;
    for (let i = from; i < list.length; i++) {
      const e = list[i]!;
      if (e.state === INFLIGHT) this.fail(e, failure, undefined);
      else if (e.state === OVERDUE) this.release(e);
    }
  }

  private trimInflight(): void {
    const list = this.inflight;
    while (this.iHead < list.length && list[this.iHead]!.state === SETTLED) list[this.iHead++] = undefined as unknown as Entry;
    if (this.iHead === list.length) {
      this.inflight = [];
      this.iHead = 0;
    } else if (this.iHead > 1024 && this.iHead * 2 > list.length) {
      this.inflight = list.slice(this.iHead);
      this.iHead = 0;
    }
  }

  private compact(): void {
    if (this.wHead === this.waiting.length) {
      this.waiting = [];
      this.wHead = 0;
    } else if (this.wHead > 1024 && this.wHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.wHead);
      this.wHead = 0;
    }
  }

  private arm(at: number): void {
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, at - now()));
    this.timer.unref?.();
  }

  /**
   * Deadlines: what still waits is DOWN, what is in flight is UNCONFIRMED; and if Redis has not
   * answered anything for `timeout` ms, it stalled. Runs after the poll phase (setImmediate), so
   * answers already received by the process are read first.
   */
  private onTimer(): void {
    this.timer = undefined;
    if (this.closed) return;
    setImmediate(() => this.checkDeadlines());
  }

  private checkDeadlines(): void {
    if (this.closed) return;
    const t = now();
    while (this.wHead < this.waiting.length) {
      const e = this.waiting[this.wHead]!;
      if (e.state === WAITING && e.deadline > t) break;
      this.waiting[this.wHead++] = undefined as unknown as Entry;
      if (e.state === WAITING) this.fail(e, Failure.DOWN, undefined);
    }
    this.compact();
    this.trimInflight();
    const list = this.inflight;
    let next = Infinity;
    for (let i = this.iHead; i < list.length; i++) {
      const e = list[i]!;
      if (e.state !== INFLIGHT) continue;
      if (e.deadline > t) {
        next = e.deadline;
        break;
      }
      // Overdue: the caller learns now; the entry stays counted until Redis answers it.
      e.state = OVERDUE;
      e.p.done(e.p, 0, undefined, Failure.UNCONFIRMED, undefined);
    }
    if (this.iHead < list.length && t - this.lastAnswer >= this.opts.timeout) {
      // Publishes in flight and not a single answer for `timeout` ms: Redis stalled. A fresh
      // connection replaces this one (what was in flight is released with it).
      this.stalls++;
      this.epoch++;
      this.failInflight();
      this.link.reset();
      this.lastAnswer = t;
    } else if (this.iHead < list.length) {
      next = Math.min(next, this.lastAnswer + this.opts.timeout);
    }
    const w = this.waiting[this.wHead];
    if (w && w.deadline < next) next = w.deadline;
    if (next !== Infinity) this.arm(next);
  }
}

/**
 * An ioredis rejection: refused by Redis, surely never written, or (when in doubt, e.g.
 * "Connection is closed", which ioredis also uses for commands flushed in flight) unconfirmed.
 */
function classify(err: Error): Failure {
  if (err.name === 'ReplyError') return Failure.REFUSED;
  const m = err.message;
  if (m.includes("isn't writeable") || m.includes("isn't ready") || m.includes('Cluster is ended') || m.includes('MaxRetriesPerRequest')) return Failure.DOWN;
  return Failure.UNCONFIRMED;
}
