import type { BroadcastTarget } from '@stelar/core/internal';
import type { Failure, Publication } from './broker';
import type { Channels } from './channels';
import { encodeBroadcast, Flag, resentCopy } from './envelope';
import type { Losses } from './losses';
import type { Outbox } from './outbox';
import type { Sequencer } from './sequencing';

/** What publishing broadcasts needs of the node. */
export interface PublisherContext {
  readonly sharded: boolean;
  readonly outbox: Outbox;
  readonly seq: Sequencer;
  readonly losses: Losses;
  readonly counters: { published: number };
  header(): Uint8Array;
  channels(): Channels;
  /** Whether `name` is a room with local members, or the id of a local connection. */
  isRoom(name: string): boolean;
  isConnection(name: string): boolean;
}

/**
 * Publishing this node's broadcasts to the others (without recovery's log): each numbered in its
 * stream (the global one, or a room's on a sharded broker) so receivers count what they miss; a
 * failed publish marks its stream for the next heartbeat. Sharded: a room broadcast nobody
 * subscribes to goes once more on the global channel.
 */
export class Publisher {
  constructor(private readonly ctx: PublisherContext) {}

  publish(frame: Uint8Array, target: BroadcastTarget): void {
    const ctx = this.ctx;
    const single = target.rooms.length === 1 ? target.rooms[0]! : undefined;
    // A name that is a connection of this node (and no room here) is addressed here only.
    if (single !== undefined && !ctx.isRoom(single) && ctx.isConnection(single)) return;
    const room = ctx.sharded ? single : undefined;
    const flags = Flag.SEQUENCED | (target.volatile ? Flag.VOLATILE : 0) | (room !== undefined ? Flag.ROOM_STREAM : 0) | (target.compress === false ? Flag.UNCOMPRESSED : 0);
    const { epoch, seq } = ctx.seq.next(room);
    const msg = encodeBroadcast(ctx.header(), flags, epoch, seq, target, frame);
    if (room === undefined) ctx.outbox.send({ channel: ctx.channels().global, msg, done: this.onBroadcastDone }, true);
    else ctx.outbox.send({ channel: ctx.channels().room(room), msg, tag: room, done: this.onRoomBroadcastDone }, true);
  }

  private readonly onBroadcastDone = (_p: Publication, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure === 0) return void this.ctx.counters.published++;
    this.ctx.seq.failed();
    this.ctx.losses.lost(failure, 'broadcast');
  };

  private readonly onRoomBroadcastDone = (p: Publication, receivers: number, _c: number[] | undefined, failure: Failure | 0): void => {
    const ctx = this.ctx;
    const room = p.tag as string;
    if (failure !== 0) {
      ctx.seq.failed(room);
      ctx.losses.lost(failure, 'broadcast');
      return;
    }
    ctx.seq.delivered(room, receivers);
    if (receivers > 0) return void ctx.counters.published++;
    // Nobody subscribes to this room's channel: the name may be a connection id, or its nodes
    // may be resubscribing. The same message goes once more on the global channel, which every
    // node reads.
    ctx.outbox.send({ channel: ctx.channels().global, msg: resentCopy(p.msg, ctx.header()), done: this.onBroadcastResent });
  };

  private readonly onBroadcastResent = (_p: Publication, _r: number, _c: number[] | undefined, failure: Failure | 0): void => {
    if (failure === 0) this.ctx.counters.published++;
    else this.ctx.losses.lost(failure, 'broadcast');
  };
}
