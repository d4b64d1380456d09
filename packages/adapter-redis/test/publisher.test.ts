/** The bounded publisher against a fake connection whose answers the test controls. */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Failure, type Publication } from '@stelar/cluster';
import { Publisher, type PublishLink } from '../src/publisher';
import { tick, until } from './helpers';

class FakeLink implements PublishLink {
  up = true;
  resets = 0;
  readonly sent: { channel: string; resolve(n: number): void; reject(e: Error): void }[] = [];
  ready(): boolean {
    return this.up;
  }
  publish(channel: string): Promise<number> {
    return new Promise<number>((resolve, reject) => this.sent.push({ channel, resolve, reject }));
  }
  publishProbe(channel: string): Promise<[number, number[]]> {
    return this.publish(channel).then((n) => [n, [1]]);
  }
  reset(): void {
    this.resets++;
    this.up = false;
  }
}

function entries(n: number, results: (Failure | number)[], weight = 1): Publication[] {
  return Array.from({ length: n }, (_, i) => ({
    channel: `c${i}`,
    msg: Buffer.alloc(10),
    weight,
    done: (_p: Publication, receivers: number, _c: number[] | undefined, failure: Failure | 0) => void results.push(failure === 0 ? receivers : -failure),
  }));
}

describe('Publisher', () => {
  it('answers settle in order; a full buffer refuses at once; close settles the rest', () => {
    const link = new FakeLink();
    const p = new Publisher(link, { timeout: 1_000, maxPending: 3, maxPendingBytes: 1_000 });
    const got: number[] = [];
    for (const e of entries(4, got)) p.send(e);
    expect(got).toEqual([-Failure.FULL]);
    expect(p.pending).toBe(3);
    link.sent[0]!.resolve(2);
    return tick(0).then(() => {
      expect(got).toEqual([-Failure.FULL, 2]);
      p.close();
      expect(got).toEqual([-Failure.FULL, 2, -Failure.CLOSED, -Failure.CLOSED]);
      expect(p.pending).toBe(0);
    });
  });

  it('waits while the connection is down, sends in order when it is back; what is still waiting at its deadline is DOWN', async () => {
    const link = new FakeLink();
    link.up = false;
    const p = new Publisher(link, { timeout: 150, maxPending: 100, maxPendingBytes: 10_000 });
    const got: number[] = [];
    const [a, b] = entries(2, got);
    p.send(a!);
    link.up = true;
    p.onReady();
    expect(link.sent.map((s) => s.channel)).toEqual(['c0']);
    link.sent[0]!.resolve(1);
    await tick(0);
    link.up = false;
    p.send(b!);
    await until(() => got.length === 2, 1_000);
    expect(got).toEqual([1, -Failure.DOWN]); // b waited 150 ms for a connection
    expect(link.sent).toHaveLength(1);
    expect(p.pending).toBe(0);
  });

  it('a publication carrying several messages (a batch) counts them all against the bound', () => {
    const link = new FakeLink();
    const p = new Publisher(link, { timeout: 1_000, maxPending: 10, maxPendingBytes: 1_000 });
    const got: number[] = [];
    const [batch, tooBig] = entries(2, got, 6);
    p.send(batch!);
    expect(p.pending).toBe(6);
    p.send(tooBig!); // 6 + 6 > 10: refused whole, counted by the caller message by message
    expect(got).toEqual([-Failure.FULL]);
    p.close();
    expect(p.pending).toBe(0);
  });

  it('a connection close settles what is in flight as UNCONFIRMED; a late answer is ignored', async () => {
    const link = new FakeLink();
    const p = new Publisher(link, { timeout: 1_000, maxPending: 100, maxPendingBytes: 10_000 });
    const got: number[] = [];
    for (const e of entries(2, got)) p.send(e);
    p.onClose();
    expect(got).toEqual([-Failure.UNCONFIRMED, -Failure.UNCONFIRMED]);
    link.sent[0]!.resolve(3);
    await tick(0);
    expect(got).toHaveLength(2);
    expect(p.pending).toBe(0);
  });

  it('overdue but answered later (a slow Redis): settled at the deadline, counted until answered, no reset while answers come', async () => {
    const link = new FakeLink();
    const p = new Publisher(link, { timeout: 400, maxPending: 100, maxPendingBytes: 10_000 });
    const got: number[] = [];
    for (const e of entries(3, got)) p.send(e);
    // Redis drains a backlog slowly: answers come, but further apart than the deadline allows.
    await tick(130);
    link.sent[0]!.resolve(1);
    await until(() => got.length === 3, 2_000); // the two others overdue at 400 ms
    expect(got).toEqual([1, -Failure.UNCONFIRMED, -Failure.UNCONFIRMED]);
    expect(p.pending).toBe(2); // still in the client's queue: still counted
    await tick(60);
    link.sent[1]!.resolve(1);
    await tick(130);
    link.sent[2]!.resolve(1);
    await tick(0);
    expect(got).toHaveLength(3);
    expect(p.pending).toBe(0);
    expect(link.resets).toBe(0);
    expect(p.stalls).toBe(0);
  });

  it('no answer at all for `timeout` while publishes are in flight: a stall, the connection is reset', async () => {
    const link = new FakeLink();
    const p = new Publisher(link, { timeout: 150, maxPending: 100, maxPendingBytes: 10_000 });
    const got: number[] = [];
    for (const e of entries(2, got)) p.send(e);
    await until(() => link.resets === 1, 1_000);
    expect(got).toEqual([-Failure.UNCONFIRMED, -Failure.UNCONFIRMED]);
    expect(p.stalls).toBe(1);
    expect(p.pending).toBe(0);
  });

  it('a process blocked longer than the timeout does not take its own lag for a stall', async () => {
    const link = new FakeLink();
    const p = new Publisher(link, { timeout: 100, maxPending: 100, maxPendingBytes: 10_000 });
    const got: number[] = [];
    const [e] = entries(1, got);
    p.send(e!);
    // The answer is on its way (as if in the socket's buffer) while the event loop is blocked.
    setImmediate(() => link.sent[0]!.resolve(1));
    const until0 = Date.now() + 250;
    while (Date.now() < until0) {
      /* busy: the deadline passes meanwhile */
    }
    await tick(50);
    expect(got).toEqual([1]);
    expect(link.resets).toBe(0);
  });
});
