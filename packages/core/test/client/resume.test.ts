import { describe, expect, it } from 'vitest';
import { ClientResume } from '../../src/client/resume';

/** A payload with the 8-byte offset `hi`/`lo` in front of `body`. */
function withOffset(hi: number, lo: number, body: number[]): Uint8Array {
  const p = new Uint8Array(8 + body.length);
  const v = new DataView(p.buffer);
  v.setUint32(0, hi);
  v.setUint32(4, lo);
  p.set(body, 8);
  return p;
}
const TOKEN = 'abcdefghijklmnop';

describe('client/resume', () => {
  it('inactive (the server offered no recovery): nothing counted, payloads untouched, CONNECT opts in', () => {
    const r = new ClientResume<string>({});
    expect(r.connectField()).toEqual({});
    r.record(new Uint8Array(3), undefined);
    const p = new Uint8Array([1, 2, 3]);
    expect(r.strip(p)).toBe(p);
    expect(r.answered(undefined, 's1')).toEqual({ resumed: false, lost: undefined });
    expect(r.takeResend(0)).toEqual({ frames: [], lost: 0 });
  });

  it('strips offsets and presents the last non-zero one with the token', () => {
    const r = new ClientResume<string>({});
    r.answered({ token: TOKEN, recovered: false, rx: 0 }, 's1');
    expect(r.connectField()).toEqual({ token: TOKEN, offset: { hi: 0, lo: 0 } });
    expect([...r.strip(withOffset(0, 7, [9, 9]))]).toEqual([9, 9]);
    expect([...r.strip(withOffset(0, 0, [1]))]).toEqual([1]); // zero: not logged, the offset stays
    expect(r.connectField()).toEqual({ token: TOKEN, offset: { hi: 0, lo: 7 } });
    r.strip(withOffset(1, 2, []));
    expect(r.connectField()).toEqual({ token: TOKEN, offset: { hi: 1, lo: 2 } });
  });

  it('a resume of the same session keeps the count; another id means the asked one is lost', () => {
    const r = new ClientResume<string>({});
    r.answered({ token: TOKEN, recovered: false, rx: 0 }, 's1');
    r.record(new Uint8Array(1), 'a');
    expect(r.answered({ token: TOKEN, recovered: true, rx: 0 }, 's1')).toEqual({ resumed: true, lost: undefined });
    expect(r.takeResend(0).frames.map((f) => f.req)).toEqual(['a']);
    expect(r.answered({ token: TOKEN, recovered: false, rx: 0 }, 's2')).toEqual({ resumed: false, lost: 's1' });
    expect(r.takeResend(0)).toEqual({ frames: [], lost: 0 }); // a new session: nothing to send again
  });

  it('takeResend: what the server did not get, in order; what fell out of the ring is counted lost', () => {
    const r = new ClientResume<number>({ maxMessages: 3 });
    r.answered({ token: TOKEN, recovered: false, rx: 0 }, 's1');
    for (let i = 1; i <= 5; i++) r.record(new Uint8Array([i]), i);
    // Sent 5, the ring keeps 3..5; the server got 1: 2..5 are missing, 2 is no longer kept.
    const { frames, lost } = r.takeResend(1);
    expect(frames.map((f) => [f.seq, f.req, f.frame[0]])).toEqual([
      [3, 3, 3],
      [4, 4, 4],
      [5, 5, 5],
    ]);
    expect(lost).toBe(1);
    r.record(new Uint8Array([6]), 6); // counted from rx again
    expect(r.takeResend(1).frames.map((f) => f.seq)).toEqual([2]);
  });

  it('keeps a copy of a frame carved from a shared buffer; reset forgets everything', () => {
    const r = new ClientResume<undefined>({});
    r.answered({ token: TOKEN, recovered: false, rx: 0 }, 's1');
    const slab = new Uint8Array([1, 2, 3, 4]);
    r.record(slab.subarray(1, 3), undefined);
    slab[1] = 99;
    expect([...r.takeResend(0).frames[0]!.frame]).toEqual([2, 3]);
    r.reset();
    expect([r.active, r.token, r.connectField()]).toEqual([false, null, {}]);
  });
});
