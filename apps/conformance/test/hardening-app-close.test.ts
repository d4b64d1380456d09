/**
 * Hardening of peer close codes (issue 10, item 5): a client's DISCONNECT code must be one a
 * client may send (docs/protocol.md §5), else it is a protocol error (ERROR PROTOCOL, then 1002);
 * a client cannot claim the server's own decisions (4006 slow consumer, 4001–4005, 1012–1014),
 * on TCP or in a WebSocket close frame; the reason reaching `onDisconnect` is at most 123 bytes.
 */
import { encodeClientConnect, encodeDisconnect, FrameType, parseErrorBody } from '@stelar/codec-tcp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { OP } from '../src/wire';
import { RawTcp, rawWs, served, startServer, witness, wsMessage, type Harness } from './helpers';
import type { StelarClient } from '@stelar/client-node';

/** A DISCONNECT frame with a raw JSON body (for codes JSON.stringify cannot write, like 1e999). */
function rawDisconnect(json: string): Uint8Array {
  const body = Buffer.from(json);
  const f = Buffer.alloc(7 + body.length);
  f.writeUInt32BE(f.length, 0);
  f[4] = FrameType.DISCONNECT;
  body.copy(f, 7);
  return f;
}

describe('hardening: peer close codes', { timeout: 30_000 }, () => {
  let h: Harness;
  let good: StelarClient;
  const closes: { code: number; reason: string }[] = [];
  beforeAll(async () => {
    h = await startServer({ closeTimeout: 500 });
    h.server.onDisconnect((_c, code, reason) => closes.push({ code, reason }));
    good = await witness(`tcp://127.0.0.1:${h.tcpPort}`);
  });
  afterAll(async () => {
    good.close();
    await h.close();
  });

  /** Opens a TCP session, sends `disconnect`, and returns what the server answered and reported. */
  async function tcpClose(disconnect: Uint8Array): Promise<{ answer: number | undefined; error: string | undefined; reported: { code: number; reason: string } }> {
    const n = closes.length;
    const t = await RawTcp.open(h.tcpPort);
    t.hello();
    await until(() => t.frames.some((f) => f.type === FrameType.CONNECT), 'CONNECT answer');
    t.write(disconnect);
    await until(() => closes.length > n, 'onDisconnect');
    await until(() => t.closed || t.disconnectCode !== undefined, 'server answer');
    const err = t.frames.find((f) => f.type === FrameType.ERROR);
    t.destroy();
    return { answer: t.disconnectCode, error: err && parseErrorBody(err.payload).code, reported: closes[n]! };
  }

  it('TCP: codes a client may not send get ERROR PROTOCOL and 1002, and are reported as 1002', async () => {
    const bad: [string, Uint8Array][] = [
      ...[99999, -1, 1.5, 1e308, 0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 2999, 4000, 4001, 4003, 4004, 4005, 4006, 4099, 5000].map(
        (c) => [String(c), encodeDisconnect(c, 'bye')] as [string, Uint8Array],
      ),
      ['1e999 (Infinity)', rawDisconnect('{"code":1e999,"reason":"x"}')],
    ];
    const before = h.server.getStats();
    for (const [name, frame] of bad) {
      const r = await tcpClose(frame);
      expect({ name, ...r }).toEqual({ name, answer: 1002, error: 'PROTOCOL', reported: { code: 1002, reason: 'invalid close code' } });
    }
    const after = h.server.getStats();
    expect(after.backpressure.slowConsumerDisconnects).toBe(before.backpressure.slowConsumerDisconnects);
    expect((after.errors['PROTOCOL'] ?? 0) - (before.errors['PROTOCOL'] ?? 0)).toBe(bad.length);
    await served(good);
  });

  it('TCP: a malformed DISCONNECT body is a protocol error too', async () => {
    for (const [json, error, code] of [
      ['{"code":"1000"}', 'BAD_PAYLOAD', 1002],
      ['[]', 'BAD_PAYLOAD', 1002],
      ['{', 'BAD_JSON', 1007],
    ] as const) {
      const r = await tcpClose(rawDisconnect(json));
      expect({ json, answer: r.answer, error: r.error, reported: r.reported.code }).toEqual({ json, answer: code, error, reported: code });
    }
  });

  it('TCP: codes a client may send reach onDisconnect as sent; the server answers 1000', async () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4100, 4999]) {
      const r = await tcpClose(encodeDisconnect(code, `bye ${code}`));
      expect({ code, ...r }).toEqual({ code, answer: 1000, error: undefined, reported: { code, reason: `bye ${code}` } });
    }
    // No body: no code (1005).
    expect((await tcpClose(rawDisconnect(''))).reported.code).toBe(1005);
  });

  it('TCP: a long reason is cut to 123 bytes of UTF-8 (never inside a character)', async () => {
    const r = await tcpClose(encodeDisconnect(4100, 'é'.repeat(100_000)));
    expect(r.reported.code).toBe(4100);
    expect(r.reported.reason).toBe('é'.repeat(61));
    expect(Buffer.byteLength(r.reported.reason)).toBe(122);
  });

  it('DISCONNECT before CONNECT is checked the same way', async () => {
    const t = await RawTcp.open(h.tcpPort);
    t.write(encodeDisconnect(4006, 'slow?'));
    await until(() => t.closed, 'closed');
    expect(t.disconnectCode).toBe(1002);
    t.destroy();
  });

  it('WebSocket: a close frame with 4006 (or another server code) is not counted as a slow consumer; reported as 1002', async () => {
    const before = h.server.getStats();
    for (const code of [4006, 4001, 1013]) {
      const n = closes.length;
      const { tester } = await rawWs(h.port);
      tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeClientConnect()) });
      await tester.waitData(1, 2000);
      tester.close(code, 'claimed');
      await until(() => closes.length > n, 'onDisconnect');
      expect(closes[n]).toEqual({ code: 1002, reason: 'invalid close code from the peer' });
      tester.destroy();
    }
    const after = h.server.getStats();
    expect(after.backpressure.slowConsumerDisconnects).toBe(before.backpressure.slowConsumerDisconnects);
    expect((after.errors['PROTOCOL'] ?? 0) - (before.errors['PROTOCOL'] ?? 0)).toBe(3);
  });

  it('WebSocket: allowed codes reach onDisconnect as sent', async () => {
    for (const code of [1000, 1001, 3000, 4100]) {
      const n = closes.length;
      const { tester } = await rawWs(h.port);
      tester.send({ opcode: OP.BINARY, payload: wsMessage(encodeClientConnect()) });
      await tester.waitData(1, 2000);
      tester.close(code, 'fine');
      await until(() => closes.length > n, 'onDisconnect');
      expect(closes[n]).toEqual({ code, reason: 'fine' });
      tester.destroy();
    }
    await sleep(10);
    await served(good);
  });
});
