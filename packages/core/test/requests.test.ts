import { decodeFrame, encodeAckError, encodeAckResult, parseAckResponse } from '@stelar/codec-tcp';
import { describe, expect, it, vi } from 'vitest';
import { StelarError } from '../src/errors';
import { RequestTracker, type PendingRequest } from '../src/requests';

/** A request and its outcome, as a promise that never rejects. */
function pending(event = 'e', signal?: AbortSignal) {
  let outcome!: Promise<{ ok: boolean; value: unknown }>;
  let p!: PendingRequest;
  outcome = new Promise((done) => {
    p = { event, id: 0, timer: undefined, signal, onAbort: undefined, settled: false, resolve: (value) => done({ ok: true, value }), reject: (value) => done({ ok: false, value }) };
  });
  return { p, outcome };
}

/** The body of an encoded ACK_RES frame. */
const body = (frame: Uint8Array): Uint8Array => parseAckResponse(decodeFrame(frame).payload).body;

describe('RequestTracker', () => {
  it('gives ids unique among the requests on the wire, from 1, and settles from ACK_RES bodies', async () => {
    const counts: number[] = [];
    const t = new RequestTracker({ onCount: (d) => counts.push(d) });
    const a = pending('a');
    const b = pending('b');
    t.track(a.p, undefined);
    t.track(b.p, undefined);
    expect([t.assign(a.p), t.assign(b.p)]).toEqual([1, 2]);
    expect(t.size).toBe(2);
    t.answer(1, true, new TextEncoder().encode('{"x":1}'));
    t.answer(2, false, new TextEncoder().encode('{"code":"NOPE","message":"no"}'));
    t.answer(3, true, new Uint8Array()); // unknown id: ignored
    expect(await a.outcome).toEqual({ ok: true, value: { x: 1 } });
    const e = await b.outcome;
    expect(e.ok).toBe(false);
    expect(e.value).toBeInstanceOf(StelarError);
    expect(e.value).toMatchObject({ code: 'NOPE', message: 'no' });
    expect(counts).toEqual([1, 1, -1, -1]);
    expect(t.size).toBe(0);
  });

  it('a body that does not decode rejects the request with the decoding error (BAD_JSON, BAD_PAYLOAD)', async () => {
    const t = new RequestTracker();
    const a = pending();
    const b = pending();
    t.track(a.p, undefined);
    t.track(b.p, undefined);
    t.answer(t.assign(a.p), true, new TextEncoder().encode('{nope'));
    t.answer(t.assign(b.p), false, new TextEncoder().encode('[1,2]'));
    expect(await a.outcome).toMatchObject({ ok: false, value: { code: 'BAD_JSON' } });
    expect(await b.outcome).toMatchObject({ ok: false, value: { code: 'BAD_PAYLOAD' } });
  });

  it('times out with TIMEOUT (hook first), clears the timer when answered', async () => {
    vi.useFakeTimers();
    try {
      const timeouts: string[] = [];
      const t = new RequestTracker({ onTimeout: (e) => timeouts.push(e) });
      const slow = pending('slow');
      const fast = pending('fast');
      t.track(slow.p, 50);
      t.track(fast.p, 50);
      t.assign(slow.p);
      t.answer(t.assign(fast.p), true, new TextEncoder().encode('1'));
      expect(fast.p.timer).toBeUndefined();
      await vi.advanceTimersByTimeAsync(50);
      expect(await slow.outcome).toMatchObject({ ok: false, value: { code: 'TIMEOUT', message: 'request "slow" timed out after 50 ms' } });
      expect(timeouts).toEqual(['slow']);
      expect(vi.getTimerCount()).toBe(0);
      // No timer for 0, negative, Infinity or none.
      for (const ms of [0, -1, Infinity, undefined]) {
        const x = pending();
        t.track(x.p, ms);
        expect(x.p.timer).toBeUndefined();
        t.settle(x.p, true, 1);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('abort: a pre-aborted signal rejects at once and is never counted; a later abort rejects with ABORTED and the reason', async () => {
    const counts: number[] = [];
    const t = new RequestTracker({ onCount: (d) => counts.push(d) });
    const pre = pending('e', AbortSignal.abort(new Error('gone')));
    expect(t.track(pre.p, 1000)).toBe(false);
    expect(await pre.outcome).toMatchObject({ ok: false, value: { code: 'ABORTED', message: 'gone' } });
    expect(counts).toEqual([]);
    const ac = new AbortController();
    const later = pending('e', ac.signal);
    t.track(later.p, undefined);
    t.assign(later.p);
    ac.abort('no Error');
    expect(await later.outcome).toMatchObject({ ok: false, value: { code: 'ABORTED', message: 'request aborted', details: 'no Error' } });
    expect(counts).toEqual([1, -1]);
    // The client's choice of error.
    const own = new RequestTracker({ abortError: () => new StelarError('ABORTED', 'request aborted') });
    const x = pending('e', AbortSignal.abort(new Error('why')));
    own.track(x.p, undefined);
    expect(await x.outcome).toMatchObject({ value: { message: 'request aborted' } });
  });

  it('settles once: the timer and abort listener go, a second settle is ignored', async () => {
    const counts: number[] = [];
    const t = new RequestTracker({ onCount: (d) => counts.push(d) });
    const ac = new AbortController();
    const a = pending('e', ac.signal);
    t.track(a.p, 10_000);
    t.assign(a.p);
    t.settle(a.p, true, 'first');
    t.settle(a.p, false, 'second');
    ac.abort();
    t.fail(1, 'late');
    expect(await a.outcome).toEqual({ ok: true, value: 'first' });
    expect(a.p.timer).toBeUndefined();
    expect(a.p.onAbort).toBeUndefined();
    expect(counts).toEqual([1, -1]);
  });

  it('failAll rejects what is on the wire; detachAll takes requests off it (ids back to 0) but keeps tracking them', async () => {
    const offWire: PendingRequest[] = [];
    const t = new RequestTracker({ settledOffWire: (p) => offWire.push(p) });
    const [a, b, c] = [pending('a'), pending('b'), pending('c')];
    for (const x of [a, b, c]) t.track(x.p, undefined);
    t.assign(a.p);
    t.assign(b.p);
    const detached = t.detachAll();
    expect(detached).toEqual([a.p, b.p]);
    expect([a.p.id, b.p.id]).toEqual([0, 0]);
    expect(t.size).toBe(3);
    t.answer(1, true, new TextEncoder().encode('1')); // the old id means nothing now
    t.settle(a.p, false, 'dropped');
    expect(offWire).toEqual([a.p]);
    t.assign(b.p);
    t.failAll('all');
    expect(await b.outcome).toEqual({ ok: false, value: 'all' });
    expect(t.size).toBe(1); // c was never on the wire
    t.settle(c.p, true, 3);
    expect(offWire).toEqual([a.p, c.p]);
  });

  it('ids skip those still on the wire and wrap after 2^32 - 1', () => {
    const t = new RequestTracker();
    const first = pending();
    t.track(first.p, undefined);
    expect(t.assign(first.p)).toBe(1);
    (t as unknown as { nextId: number }).nextId = 0xffff_ffff;
    const [x, y] = [pending(), pending()];
    t.track(x.p, undefined);
    t.track(y.p, undefined);
    expect(t.assign(x.p)).toBe(0xffff_ffff);
    expect(t.assign(y.p)).toBe(2); // 1 is taken
  });

  it('answers encoded by the shared reply encoder settle the requests they name', async () => {
    const t = new RequestTracker();
    const a = pending('sum');
    t.track(a.p, undefined);
    const id = t.assign(a.p);
    t.answer(id, true, body(encodeAckResult(id, 'sum', 5)));
    expect(await a.outcome).toEqual({ ok: true, value: 5 });
    const b = pending('sum');
    t.track(b.p, undefined);
    const id2 = t.assign(b.p);
    t.answer(id2, false, body(encodeAckError(id2, 'sum', 'X', 'y')));
    expect(await b.outcome).toMatchObject({ ok: false, value: { code: 'X', message: 'y' } });
  });
});
