import { decodeFrame, parseAckResponse, parseErrorBody } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { encodeReply } from '../src/replies';

const read = (frame: Uint8Array) => {
  const f = decodeFrame(frame);
  const r = parseAckResponse(f.payload);
  return { event: f.event, id: r.id, ok: r.ok, body: new TextDecoder().decode(r.body) };
};

describe('encodeReply', () => {
  it('a result, an error body, and a result JSON cannot encode (HANDLER_ERROR, the reason to onBadResult)', () => {
    expect(read(encodeReply(7, 'sum', { ok: true, value: { n: 5 } }))).toEqual({ event: 'sum', id: 7, ok: true, body: '{"n":5}' });
    const err = read(encodeReply(8, 'sum', { ok: false, error: { code: 'NOPE', message: 'no' } }));
    expect(err.ok).toBe(false);
    expect(parseErrorBody(new TextEncoder().encode(err.body))).toEqual({ code: 'NOPE', message: 'no' });
    const why: unknown[] = [];
    const bad = read(encodeReply(9, 'big', { ok: true, value: 10n }, (e) => why.push(e)));
    expect(bad.ok).toBe(false);
    expect(JSON.parse(bad.body)).toEqual({ code: 'HANDLER_ERROR', message: 'reply is not JSON-serialisable' });
    expect(why).toHaveLength(1);
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(read(encodeReply(10, 'c', { ok: true, value: cycle })).ok).toBe(false);
  });
});
