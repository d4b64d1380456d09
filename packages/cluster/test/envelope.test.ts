import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { encodeJson } from '@stelar/codec-tcp';
import {
  decodeBatch,
  decodeBroadcast,
  decodeControl,
  encodeBatch,
  encodeBroadcast,
  encodeControl,
  EnvelopeError,
  Flag,
  headerFor,
  isFrom,
  Kind,
  peekKind,
  resentCopy,
} from '../src/envelope';
import { readUtf8, utf8Length, writeUtf8 } from '../src/utf8';

describe('envelope', () => {
  const header = headerFor('node-Ä1');

  it('round-trips a broadcast; the frame is a view of the same bytes, not re-encoded', () => {
    const frame = encodeJson('chat', { t: 'hi' });
    const target = { rooms: ['lobby', 'ünïcode 🚀'], exceptRooms: ['muted'], exceptIds: ['abc', 'def'] };
    const msg = encodeBroadcast(header, Flag.VOLATILE | Flag.SEQUENCED, 0x01020304, 0xfffffffe, target, frame);
    // header (3 + 8) + flags/epoch/seq 9 + lists + frame: a few dozen bytes of overhead, no base64.
    expect(msg.length).toBe(11 + 9 + (2 + 2 + 5 + 2 + Buffer.byteLength('ünïcode 🚀')) + (2 + 2 + 5) + (2 + 2 + 3 + 2 + 3) + frame.length);
    expect(peekKind(msg)).toBe(Kind.BROADCAST);
    const env = decodeBroadcast(msg);
    expect(env).toMatchObject({ origin: 'node-Ä1', flags: 3, epoch: 0x01020304, seq: 0xfffffffe, ...target });
    const again = resentCopy(msg, header);
    expect(decodeBroadcast(again).flags).toBe(3 | Flag.RESENT);
    expect(decodeBroadcast(msg).flags).toBe(3); // a copy: the original is left as it was
    expect(Buffer.from(env.frame).equals(Buffer.from(frame))).toBe(true);
    expect(env.frame.buffer).toBe(msg.buffer);
    expect(isFrom(msg, header)).toBe(true);
    expect(isFrom(msg, headerFor('node-Ä2'))).toBe(false);
    expect(isFrom(msg, headerFor('node'))).toBe(false);
  });

  it('round-trips control messages with and without a body', () => {
    const req = encodeControl(header, Kind.REQUEST, { id: 7, op: 'fetch' });
    expect(decodeControl(req)).toEqual({ kind: Kind.REQUEST, origin: 'node-Ä1', body: { id: 7, op: 'fetch' } });
    expect(decodeControl(encodeControl(header, Kind.BYE))).toEqual({ kind: Kind.BYE, origin: 'node-Ä1', body: undefined });
  });

  it('a batch carries several envelopes, read back as views', () => {
    const a = encodeControl(header, Kind.HEARTBEAT, { epoch: 1, seq: 2 });
    const b = encodeBroadcast(header, 0, 0, 0, { rooms: [], exceptRooms: [], exceptIds: [] }, encodeJson('x', 1));
    const batch = encodeBatch(header, [a, b]);
    expect(peekKind(batch)).toBe(Kind.BATCH);
    const parts = decodeBatch(batch);
    expect(parts.map((p) => Buffer.from(p))).toEqual([Buffer.from(a), Buffer.from(b)]);
    expect(parts[1]!.buffer).toBe(batch.buffer);
    expect(() => decodeBatch(batch.subarray(0, batch.length - 1))).toThrow(EnvelopeError);
    expect(() => decodeControl(batch)).toThrow(EnvelopeError);
  });

  it('refuses foreign or truncated messages with EnvelopeError', () => {
    const frame = encodeJson('x', 1);
    const good = encodeBroadcast(header, 0, 0, 1, { rooms: ['a'], exceptRooms: [], exceptIds: [] }, frame);
    expect(() => peekKind(Buffer.from('nope'))).toThrow(EnvelopeError);
    expect(() => peekKind(Buffer.from([1, 1, 1, 65]))).toThrow(/version/); // version 1: the previous release
    expect(() => peekKind(Buffer.from([2, 9, 1, 65]))).toThrow(/kind/);
    for (let cut = 3; cut < good.length - frame.length + 6; cut++) {
      expect(() => decodeBroadcast(good.subarray(0, cut)), `cut at ${cut}`).toThrow(EnvelopeError);
    }
    const bad = Buffer.concat([Buffer.from(encodeControl(header, Kind.HEARTBEAT)), Buffer.from('{oops')]);
    expect(() => decodeControl(bad)).toThrow(EnvelopeError);
    expect(() => headerFor('')).toThrow(RangeError);
    expect(() => headerFor('x'.repeat(256))).toThrow(RangeError);
  });

  it('names are UTF-8 exactly as Node encodes them (any string, lone surrogates included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        const expected = Buffer.from(s, 'utf8');
        expect(utf8Length(s)).toBe(expected.length);
        const buf = new Uint8Array(expected.length + 4);
        expect(writeUtf8(buf, 2, s)).toBe(expected.length);
        expect(Buffer.from(buf.subarray(2, 2 + expected.length)).equals(expected)).toBe(true);
        expect(readUtf8(buf, 2, 2 + expected.length)).toBe(expected.toString('utf8'));
      }),
      { numRuns: 500 },
    );
  });

  it('a name or list too long for its u16 length is refused before anything is written', () => {
    const long = 'x'.repeat(0x10000);
    const frame = encodeJson('x', 1);
    expect(() => encodeBroadcast(header, 0, 0, 1, { rooms: [long], exceptRooms: [], exceptIds: [] }, frame)).toThrow(RangeError);
    expect(() => encodeBroadcast(header, 0, 0, 1, { rooms: Array.from({ length: 0x10000 }, () => 'a'), exceptRooms: [], exceptIds: [] }, frame)).toThrow(RangeError);
  });
});
