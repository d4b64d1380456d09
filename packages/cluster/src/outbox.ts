import { Failure, type Broker, type Publication } from './broker';
import { encodeBatch } from './envelope';
import { soon } from './util';

interface Held {
  list: Publication[];
  bytes: number;
}

/**
 * Every publication of the adapter goes through here, in order. The first one of an event-loop
 * turn goes to the broker at once (before the local fan-out of a broadcast); broadcasts that
 * follow in the same turn are held until its end and published as one batch envelope per
 * channel (each still settled on its own, with the batch's outcome). Anything that is not a
 * broadcast first flushes what is held, so the order of a channel is kept. What one channel
 * holds is published as soon as it reaches `maxBatchBytes`, so a long turn holds little.
 */
export class Outbox {
  /** Publishes that carried more than one broadcast. */
  batches = 0;
  private turn = false;
  private open = new Map<string, Held>();
  private closed = false;

  constructor(
    private readonly broker: Broker,
    /** This node's envelope header (known once the adapter is attached). */
    private readonly header: () => Uint8Array,
    private readonly maxBatchBytes: number,
  ) {}

  /** `batchable`: a broadcast, which may share one publish with others of its channel. */
  send(p: Publication, batchable = false): void {
    if (this.closed) return p.done(p, 0, undefined, Failure.CLOSED, undefined);
    if (batchable && this.turn) {
      let held = this.open.get(p.channel);
      if (!held) this.open.set(p.channel, (held = { list: [], bytes: 0 }));
      held.list.push(p);
      held.bytes += p.msg.length;
      if (held.bytes >= this.maxBatchBytes) {
        this.open.delete(p.channel);
        this.publish(p.channel, held);
      }
      return;
    }
    if (this.open.size > 0) this.flush();
    this.broker.publish(p);
    if (!this.turn) {
      this.turn = true;
      soon(this.endTurn);
    }
  }

  private readonly endTurn = (): void => {
    this.turn = false;
    if (this.open.size > 0) this.flush();
  };

  /** Publishes what this turn holds: one publish per channel. */
  private flush(): void {
    const open = this.open;
    this.open = new Map();
    for (const [channel, held] of open) this.publish(channel, held);
  }

  private publish(channel: string, held: Held): void {
    const { list } = held;
    if (list.length === 1) return this.broker.publish(list[0]!);
    this.batches++;
    this.broker.publish({ channel, msg: encodeBatch(this.header(), list.map((p) => p.msg)), weight: list.length, tag: list, done: settleMembers });
  }

  /** What is held is settled CLOSED; later publications too. */
  close(): void {
    this.closed = true;
    const open = this.open;
    this.open = new Map();
    for (const held of open.values()) for (const p of held.list) p.done(p, 0, undefined, Failure.CLOSED, undefined);
  }
}

/** A batch's outcome is each of its broadcasts'. */
function settleMembers(batch: Publication, receivers: number, counts: number[] | undefined, failure: Failure | 0, error: Error | undefined): void {
  for (const p of batch.tag as Publication[]) p.done(p, receivers, counts, failure, error);
}
