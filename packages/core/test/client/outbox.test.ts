import { ErrorCode } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/client/outbox';
import { StelarError } from '../../src/errors';

type Req = { readonly size: number; readonly name: string };
const req = (name: string, size = 1): Req => ({ size, name });
const frame = (n: number) => ({ size: n, frame: new Uint8Array(n) });

function outbox(options: ConstructorParameters<typeof Outbox<Req>>[0]) {
  const failed: [string, string][] = [];
  const box = new Outbox<Req>(options, (r, err) => void failed.push([r.name, err.code]));
  return { box, failed };
}

describe('client/outbox', () => {
  it('without a queue (false) nothing is kept: push and putFirst say no', () => {
    const { box } = outbox(false);
    expect(box.push(frame(1))).toBe(false);
    expect(box.putFirst([req('a')])).toBe(false);
    expect([box.length, box.shift(), box.clear()]).toEqual([0, undefined, []]);
  });

  it('keeps the order; a request evicted by drop-oldest fails with QUEUE_FULL, a frame silently', () => {
    const { box, failed } = outbox({ maxMessages: 2 });
    expect(box.push({ size: 1, req: req('r1') })).toBe(true);
    expect(box.push(frame(1))).toBe(true);
    expect(box.push(frame(2))).toBe(true); // evicts r1
    expect(failed).toEqual([['r1', ErrorCode.QUEUE_FULL]]);
    expect(box.push(frame(3))).toBe(true); // evicts a frame: nothing to fail
    expect(failed).toHaveLength(1);
    expect([box.shift()!.size, box.shift()!.size, box.shift()]).toEqual([2, 3, undefined]);
  });

  it('drop-newest refuses; error throws QUEUE_FULL', () => {
    const newest = outbox({ maxMessages: 1, policy: 'drop-newest' });
    expect(newest.box.push(frame(1))).toBe(true);
    expect(newest.box.push({ size: 1, req: req('r') })).toBe(false);
    expect(newest.failed).toEqual([]); // the caller fails what was refused
    const strict = outbox({ maxMessages: 1, policy: 'error' });
    strict.box.push(frame(1));
    expect(() => strict.box.push(frame(1))).toThrow(StelarError);
    try {
      strict.box.push(frame(1));
    } catch (err) {
      expect((err as StelarError).code).toBe(ErrorCode.QUEUE_FULL);
    }
  });

  it('putFirst puts requests back before what was queued; what no longer fits is failed', () => {
    const { box, failed } = outbox({ maxMessages: 3 });
    box.push(frame(1));
    box.push({ size: 1, req: req('q') });
    expect(box.putFirst([req('a'), req('b')])).toBe(true);
    // a, b, then frame(1), q: four for three places: the oldest (a) is dropped, and failed.
    const names = box.clear().map((x) => x.req?.name ?? `frame${x.size}`);
    expect(names).toEqual(['b', 'frame1', 'q']);
    expect(failed).toEqual([['a', ErrorCode.QUEUE_FULL]]);
  });

  it('remove forgets a request that settled while queued', () => {
    const { box } = outbox({});
    const r = req('r');
    box.push({ size: 1, req: r });
    box.push(frame(1));
    box.remove(r);
    expect(box.length).toBe(1);
    expect(box.shift()!.req).toBeUndefined();
  });
});
