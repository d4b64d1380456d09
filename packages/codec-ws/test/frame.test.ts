import { describe, it, expect } from 'vitest';
import {
  encodeFrame,
  encodeFrameHeader,
  frameHeaderLength,
  Opcode,
  parseFrameHeader,
  randomMaskKey,
  WsError,
  encodeMessage,
  encodeControlFrame,
  encodeCloseFrame,
} from '../src/index';
import type { FrameHeader } from '../src/index';
import { bytes, hex } from './helpers';

const KEY = bytes(0x37, 0xfa, 0x21, 0x3d);
const cat = (f: [Buffer, Buffer]): string => Buffer.concat(f).toString('hex');

describe('RFC 6455 §5.7 examples (encoding)', () => {
  it('single-frame unmasked text "Hello"', () => {
    expect(cat(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.TEXT, role: 'server' }))).toBe('810548656c6c6f');
  });
  it('single-frame masked text "Hello"', () => {
    expect(cat(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.TEXT, role: 'client', maskKey: KEY }))).toBe(
      '818537fa213d7f9f4d5158',
    );
  });
  it('fragmented unmasked text "Hel" + "lo"', () => {
    expect(cat(encodeFrame(Buffer.from('Hel'), { opcode: Opcode.TEXT, role: 'server', fin: false }))).toBe('010348656c');
    expect(cat(encodeFrame(Buffer.from('lo'), { opcode: Opcode.CONTINUATION, role: 'server' }))).toBe('80026c6f');
  });
  it('unmasked ping and masked pong with body "Hello"', () => {
    expect(cat(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.PING, role: 'server' }))).toBe('890548656c6c6f');
    expect(cat(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.PONG, role: 'client', maskKey: KEY }))).toBe(
      '8a8537fa213d7f9f4d5158',
    );
  });
  it('256 bytes binary in a single unmasked frame: 0x82 0x7E 0x0100', () => {
    const [h, p] = encodeFrame(Buffer.alloc(256, 7), { opcode: Opcode.BINARY, role: 'server' });
    expect(h.toString('hex')).toBe('827e0100');
    expect(p.length).toBe(256);
  });
  it('64 KiB binary in a single unmasked frame: 0x82 0x7F 0x0000000000010000', () => {
    const [h, p] = encodeFrame(Buffer.alloc(65536, 7), { opcode: Opcode.BINARY, role: 'server' });
    expect(h.toString('hex')).toBe('827f0000000000010000');
    expect(p.length).toBe(65536);
  });
});

describe('frame headers', () => {
  it('uses the minimal length encoding at the 7/16/64-bit boundaries', () => {
    for (const [len, hdr] of [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
      [2 ** 32 + 5, 10],
    ] as const) {
      expect(frameHeaderLength(len, false)).toBe(hdr);
      expect(encodeFrameHeader(Opcode.BINARY, len).length).toBe(hdr);
      expect(encodeFrameHeader(Opcode.BINARY, len, { maskKey: KEY }).length).toBe(hdr + 4);
    }
    expect(encodeFrameHeader(Opcode.BINARY, 2 ** 32 + 5).toString('hex')).toBe('827f0000000100000005');
  });
  it('sets FIN and RSV1 bits', () => {
    expect(encodeFrameHeader(Opcode.TEXT, 0, { fin: false })[0]).toBe(0x01);
    expect(encodeFrameHeader(Opcode.TEXT, 0, { rsv1: true })[0]).toBe(0xc1);
  });
  it('refuses bad opcodes, lengths and control frames it cannot encode', () => {
    for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf, 16]) {
      expect(() => encodeFrameHeader(op, 0)).toThrow(WsError);
    }
    expect(() => encodeFrameHeader(Opcode.BINARY, -1)).toThrow(WsError);
    expect(() => encodeFrameHeader(Opcode.BINARY, 2 ** 53)).toThrow(WsError);
    expect(() => encodeFrameHeader(Opcode.PING, 126)).toThrow(WsError);
    expect(() => encodeFrameHeader(Opcode.CLOSE, 2, { fin: false })).toThrow(WsError);
    expect(() => encodeControlFrame(Opcode.PING, Buffer.alloc(126), 'server')).toThrow(/125/);
    expect(() => encodeFrame(Buffer.alloc(1), { opcode: Opcode.BINARY, role: 'client', maskKey: bytes(1, 2) })).toThrow(WsError);
  });
  it('parses what it encodes, and asks for more bytes when incomplete', () => {
    const h = Buffer.concat([encodeFrameHeader(Opcode.BINARY, 70000, { maskKey: KEY, rsv1: true })]);
    for (let i = 0; i < h.length; i++) expect(parseFrameHeader(h.subarray(0, i))).toBeUndefined();
    const parsed = parseFrameHeader(h) as FrameHeader;
    expect(parsed).toMatchObject({ fin: true, rsv1: true, rsv2: false, rsv3: false, opcode: 2, masked: true, payloadLength: 70000, headerLength: 14 });
    expect(parsed.maskKey?.toString('hex')).toBe('37fa213d');
    expect((parseFrameHeader(hex('ff 7e 00 10'), 0) as FrameHeader).payloadLength).toBe(16);
  });
  it('rejects a 64-bit length with its most significant bit set (1002)', () => {
    const r = parseFrameHeader(hex('82 7f 80 00 00 00 00 00 00 01'));
    expect(r).toBeInstanceOf(WsError);
    expect((r as WsError).code).toBe('WS_BAD_LENGTH');
    expect((r as WsError).closeCode).toBe(1002);
    const big = parseFrameHeader(hex('82 7f 00 20 00 00 00 00 00 00'));
    expect((big as WsError).closeCode).toBe(1009);
  });
});

describe('encoding for a role', () => {
  it('server frames reuse the payload; client frames mask a copy', () => {
    const data = Buffer.from('payload');
    const [, p1] = encodeFrame(data, { opcode: Opcode.BINARY, role: 'server' });
    expect(p1).toBe(data);
    const [h2, p2] = encodeFrame(data, { opcode: Opcode.BINARY, role: 'client' });
    expect(p2).not.toBe(data);
    expect(data.toString()).toBe('payload');
    const key = h2.subarray(2, 6);
    expect(Buffer.from(p2.map((b, i) => b ^ key[i & 3]!)).toString()).toBe('payload');
    expect(h2[1]! & 0x80).toBe(0x80);
  });
  it('masks in place when asked', () => {
    const data = Buffer.from('abcdef');
    const [, p] = encodeFrame(data, { opcode: Opcode.BINARY, role: 'client', maskKey: KEY, maskInPlace: true });
    expect(p).toBe(data);
    expect(data.toString()).not.toBe('abcdef');
  });
  it('random masks come from a pool and vary', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(randomMaskKey().toString('hex'));
    expect(seen.size).toBeGreaterThan(4900);
  });
  it('encodeMessage chooses text for strings and binary for bytes', () => {
    expect(encodeMessage('hi', 'server')[0][0]).toBe(0x81);
    expect(encodeMessage(new Uint8Array([1]), 'server')[0][0]).toBe(0x82);
    expect(encodeMessage('hi', 'server', true)[0][0]).toBe(0x82);
  });
  it('close frames: code + reason, truncated to 125 bytes on a character boundary', () => {
    const [h, p] = encodeCloseFrame('server', 1000, 'bye');
    expect(Buffer.concat([h, p]).toString('hex')).toBe('880503e8627965');
    const long = 'é'.repeat(100); // 200 bytes
    const [h2, p2] = encodeCloseFrame('server', 4000, long);
    expect(p2.length).toBe(124); // 2 + 122 (61 × 2-byte chars, not 123: no split)
    expect(h2[1]).toBe(124);
    expect(p2.subarray(2).toString('utf8')).toBe('é'.repeat(61));
    expect(Buffer.concat(encodeCloseFrame('server')).toString('hex')).toBe('8800');
    expect(() => encodeCloseFrame('server', 1005)).toThrow(WsError);
    const [ch, cp] = encodeCloseFrame('client', 1001, 'x');
    expect(ch.length).toBe(6);
    expect(cp.length).toBe(3);
  });
});
