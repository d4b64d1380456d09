import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decodeFrame,
  decodeJson,
  decodeMessage,
  encodeAckRequest,
  encodeAckResult,
  encodeClientConnect,
  encodeDisconnect,
  encodeError,
  encodeJoin,
  encodeJson,
  encodePing,
  encodeServerConnect,
  OFFSET_SIZE,
  parseClientHello,
  parseRecoveryAnswer,
  parseServerHello,
  readOffset,
  withOffset,
} from '../src/index';
import { concat, hex, toHex, utf8 } from './helpers';

/**
 * The code blocks of docs/protocol.md §7, as byte arrays. Each line is hex, with a trailing
 * `{…}` JSON body shown as text allowed; the lines under a hex line that are not hex are labels.
 */
function examples(): Uint8Array[][] {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8');
  const start = doc.indexOf('## 7. Examples');
  expect(start).toBeGreaterThan(0);
  const end = doc.indexOf('\n## ', start + 5);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.map((block) =>
    block
      .split('\n')
      .filter((line) => /^[0-9a-f]{2}( |$)/.test(line))
      .map((line) => {
        const json = line.indexOf('{');
        return json < 0 ? hex(line) : concat(hex(line.slice(0, json)), utf8(line.slice(json)));
      }),
  );
}

describe('docs/protocol.md §7 examples, byte for byte', () => {
  const blocks = examples();

  it('has the nine example blocks', () => {
    expect(blocks.map((b) => b.length)).toEqual([1, 1, 2, 2, 3, 2, 1, 2, 3]);
  });

  it('JSON event chat {"t":"hi"} (21 bytes)', () => {
    const doc = blocks[0]![0]!;
    expect(doc.length).toBe(21);
    expect(toHex(encodeJson('chat', { t: 'hi' }))).toBe(toHex(doc));
  });

  it('the same frame on WebSocket: 0x82, length 17, the frame from offset 4', () => {
    const doc = blocks[1]![0]!;
    const frame = encodeJson('chat', { t: 'hi' });
    const msg = frame.subarray(4);
    expect(toHex(doc)).toBe(toHex(concat(new Uint8Array([0x82, msg.length]), msg)));
    expect(decodeMessage(doc.subarray(2)).event).toBe('chat');
  });

  it('request sum id 7 {"a":1,"b":2} and its answer 3', () => {
    const [req, res] = blocks[2]!;
    expect(toHex(encodeAckRequest(7, 'sum', { a: 1, b: 2 }))).toBe(toHex(req!));
    expect(toHex(encodeAckResult(7, 'sum', 3))).toBe(toHex(res!));
  });

  it('JOIN lobby id 1 and its acceptance', () => {
    const [join, ack] = blocks[3]!;
    expect(toHex(encodeJoin('lobby', 1))).toBe(toHex(join!));
    expect(toHex(encodeAckResult(1, 'lobby', true))).toBe(toHex(ack!));
  });

  it('PING, and a refused session (ERROR then DISCONNECT)', () => {
    const [ping, error, disconnect] = blocks[4]!;
    expect(toHex(encodePing())).toBe(toHex(ping!));
    expect(toHex(encodeError('UNAUTHORIZED', 'bad token'))).toBe(toHex(error!));
    expect(toHex(encodeDisconnect(4001, 'bad token'))).toBe(toHex(disconnect!));
  });

  it('recovery: a client opting in, and the answer of a server with recovery on', () => {
    const [optIn, answer] = blocks[5]!;
    expect(toHex(encodeClientConnect(undefined, {}))).toBe(toHex(optIn!));
    const hello = { v: 1, id: 'Wq2xRk9pLm3nTb7Z', heartbeat: 25000, maxFrame: 1048576, recovery: { token: 'q3Jd0fYk8wZr5TnB2xLc7hVe', recovered: false, rx: 0 } };
    expect(toHex(encodeServerConnect(hello))).toBe(toHex(answer!));
    expect(parseClientHello(decodeFrame(optIn!).payload)).toEqual({ v: 1, recover: {} });
    expect(parseRecoveryAnswer(parseServerHello(decodeFrame(answer!).payload))).toEqual(hello.recovery);
  });

  it('recovery: chat {"t":"hi"} at offset 1000 (29 bytes)', () => {
    const doc = blocks[6]![0]!;
    expect(doc.length).toBe(29);
    expect(toHex(withOffset(encodeJson('chat', { t: 'hi' }), { hi: 0, lo: 1000 }))).toBe(toHex(doc));
    const f = decodeFrame(doc);
    expect(readOffset(f.payload)).toEqual({ hi: 0, lo: 1000 });
    expect(new TextDecoder().decode(f.payload.subarray(OFFSET_SIZE))).toBe('{"t":"hi"}');
  });

  it('recovery: a resume with token and offset, and its answer', () => {
    const [resume, answer] = blocks[7]!;
    expect(toHex(encodeClientConnect(undefined, { token: 'q3Jd0fYk8wZr5TnB2xLc7hVe', offset: { hi: 0, lo: 1000 } }))).toBe(toHex(resume!));
    expect(parseClientHello(decodeFrame(resume!).payload).recover).toEqual({ token: 'q3Jd0fYk8wZr5TnB2xLc7hVe', offset: { hi: 0, lo: 1000 } });
    const hello = { v: 1, id: 'Wq2xRk9pLm3nTb7Z', heartbeat: 25000, maxFrame: 1048576, recovery: { token: 'Hs4vN1cQ9rXw6mGp0aKy3uEj', recovered: true, rx: 12 } };
    expect(toHex(encodeServerConnect(hello))).toBe(toHex(answer!));
  });

  it('img {b: bytes 1 2 3} in the attachment form (38 bytes, lines of one frame)', () => {
    const doc = concat(...blocks[8]!);
    expect(doc.length).toBe(38);
    expect(toHex(encodeJson('img', { b: new Uint8Array([1, 2, 3]) }))).toBe(toHex(doc));
    const got = decodeJson(decodeFrame(doc).payload) as { b: Uint8Array };
    expect(got.b).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('every example frame decodes under the strict decoder', () => {
    for (const [i, block] of blocks.entries()) {
      if (i === 8) {
        decodeFrame(concat(...block));
        continue;
      }
      for (const bytes of block) {
        if (i === 1) decodeMessage(bytes.subarray(2));
        else decodeFrame(bytes);
      }
    }
  });
});
