/** Batching: the Outbox in front of a fake broker that records what it is asked to publish. */
import { describe, expect, it } from 'vitest';
import { Failure, type Broker, type Publication } from '../src/broker';
import { decodeBatch, headerFor } from '../src/envelope';
import { Outbox } from '../src/outbox';
import { tick } from './helpers';

class Recorder {
  readonly published: Publication[] = [];
  readonly publish = (p: Publication): void => void this.published.push(p);
  /** Settles every publication so far (each once), with `receivers` or a failure. */
  settle(receivers: number, failure: Failure | 0 = 0): void {
    for (const p of this.published.splice(0)) p.done(p, receivers, undefined, failure, undefined);
  }
}

const header = headerFor('me');

function outbox(maxBatchBytes = 1 << 20): { box: Outbox; broker: Recorder } {
  const broker = new Recorder();
  return { box: new Outbox(broker as unknown as Broker, () => header, maxBatchBytes), broker };
}

function msg(n: number, size = 10): Uint8Array {
  return new Uint8Array(size).fill(n);
}

describe('Outbox (batching)', () => {
  it('the first publication of a turn goes out at once; broadcasts after it are held and published as one batch per channel, each settled on its own', async () => {
    const { box, broker } = outbox();
    const got: string[] = [];
    const send = (channel: string, n: number, batchable = true): void =>
      box.send({ channel, msg: msg(n), done: (_p, r, _c, f) => void got.push(`${channel}${n}:${f === 0 ? r : `F${f}`}`) }, batchable);
    send('a', 1); // at once
    send('a', 2);
    send('a', 3);
    send('b', 4);
    expect(broker.published.map((p) => p.channel)).toEqual(['a']);
    send('c', 5, false); // not a broadcast: what is held goes first, in order
    expect(broker.published.map((p) => [p.channel, p.weight ?? 1])).toEqual([
      ['a', 1],
      ['a', 2],
      ['b', 1],
      ['c', 1],
    ]);
    expect(box.batches).toBe(1);
    const batch = broker.published[1]!;
    expect(decodeBatch(batch.msg).map((m) => m[0])).toEqual([2, 3]);
    broker.settle(7);
    expect(got).toEqual(['a1:7', 'a2:7', 'a3:7', 'b4:7', 'c5:7']);

    // Next turn: the held broadcasts go out at its end, without a further publication.
    await tick(0);
    send('a', 6);
    send('a', 7);
    send('a', 8);
    expect(broker.published).toHaveLength(1);
    await tick(0);
    expect(broker.published.map((p) => p.weight ?? 1)).toEqual([1, 2]);
    broker.settle(0, Failure.DOWN);
    expect(got.slice(5)).toEqual(['a6:F1', 'a7:F1', 'a8:F1']);
  });

  it('a channel holding maxBatchBytes is published at once; close settles what is held as CLOSED', () => {
    const { box, broker } = outbox(25);
    const got: (number | string)[] = [];
    for (let i = 0; i < 5; i++) box.send({ channel: 'a', msg: msg(i), done: (_p, r, _c, f) => void got.push(f === 0 ? r : `F${f}`) }, true);
    // #0 at once; #1..#3 held until 30 bytes >= 25: published as a batch; #4 held.
    expect(broker.published.map((p) => p.weight ?? 1)).toEqual([1, 3]);
    box.close();
    expect(got).toEqual([`F${Failure.CLOSED}`]);
    box.send({ channel: 'a', msg: msg(9), done: (_p, _r, _c, f) => void got.push(`F${f}`) });
    expect(got).toEqual([`F${Failure.CLOSED}`, `F${Failure.CLOSED}`]);
    expect(broker.published).toHaveLength(2);
  });
});
