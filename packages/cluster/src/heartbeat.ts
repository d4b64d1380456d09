import { StelarError } from '@stelar/core';
import { Failure, type Broker, type Publication } from './broker';
import { encodeControl, Kind } from './envelope';
import type { Losses } from './losses';
import type { Membership } from './membership';
import { ClusterErrorCode } from './options';
import type { Outbox } from './outbox';
import type { Sequencer } from './sequencing';
import { cancelSoon, soon } from './util';

/** What membership traffic needs of the node. */
export interface HeartbeatContext {
  readonly broker: Broker;
  readonly outbox: Outbox;
  readonly seq: Sequencer;
  readonly peers: Membership;
  readonly losses: Losses;
  header(): Uint8Array;
  /** The request channel (heartbeats, hellos), this node's response channel, a room's channel. */
  req(): string;
  res(): string;
  room(room: string): string;
  closed(): boolean;
}

/**
 * Membership traffic: hellos (with the count of the nodes that received them), heartbeats (each
 * carries the global stream's last number, so receivers count what they missed) and marks (the
 * last number of a room stream whose publish failed). None of it is a message of the users:
 * what does not go out is counted in `dropped` only.
 */
export class Heartbeat {
  /** Heartbeats, hellos and marks not sent. */
  dropped = 0;
  private pending: unknown;

  constructor(private readonly ctx: HeartbeatContext) {}

  send(): void {
    const ctx = this.ctx;
    if (ctx.closed() || !ctx.broker.publisherUp) return;
    ctx.outbox.send({ channel: ctx.req(), msg: encodeControl(ctx.header(), Kind.HEARTBEAT, ctx.seq.globalMark()), done: this.onSent });
  }

  private readonly onSent = (_p: Publication, receivers: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0) {
      if (failure !== Failure.CLOSED) this.dropped++;
      return;
    }
    // Fewer subscribers than nodes known (this one included): someone's connection is gone.
    // (Where a publish counts one broker node's subscribers only, always check.)
    const { peers, broker } = this.ctx;
    if (this.ctx.closed()) return;
    if (!broker.exactReceivers || receivers < peers.size + 1 || peers.anySilent) void peers.probe();
  };

  /** A heartbeat after the current I/O (once, however many ask). */
  soon(): void {
    if (this.pending !== undefined || this.ctx.closed()) return;
    this.pending = soon(() => {
      this.pending = undefined;
      this.send();
    });
  }

  /** Says hello; resolves with the number of other nodes the broker had subscribed at that moment. */
  hello(): Promise<number> {
    const ctx = this.ctx;
    return new Promise<number>((resolve, reject) => {
      if (ctx.closed()) return reject(new StelarError(ClusterErrorCode.ADAPTER_CLOSED, 'closed'));
      ctx.outbox.send({
        channel: ctx.req(),
        msg: encodeControl(ctx.header(), Kind.HELLO, ctx.seq.globalMark()),
        probe: [ctx.res()],
        done: (_p, receivers, counts, failure, error) => {
          if (failure === 0) return resolve(Math.max(0, receivers - ((counts?.[0] ?? 0) > 0 ? 1 : 0)));
          if (failure !== Failure.CLOSED) this.dropped++;
          reject(error ?? ctx.losses.error(failure, 'hello'));
        },
      });
    });
  }

  /** Marks: tell each room's receivers the last number of a stream whose publish failed. */
  marks(): void {
    const ctx = this.ctx;
    if (!ctx.broker.publisherUp) return;
    for (const m of ctx.seq.marks()) {
      ctx.outbox.send({ channel: ctx.room(m.room), msg: encodeControl(ctx.header(), Kind.MARK, m), done: this.onMarkSent });
    }
  }

  private readonly onMarkSent = (_p: Publication, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure !== 0 && failure !== Failure.CLOSED) this.dropped++;
  };

  cancel(): void {
    if (this.pending !== undefined) cancelSoon(this.pending);
    this.pending = undefined;
  }
}
