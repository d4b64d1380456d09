/**
 * Hardening (issue 10, item 4, zlib): permessage-deflate memory is bounded per process. Before,
 * every compressing connection kept its own inflater and compressor for its whole life (≈ 56 KiB
 * + 280 KiB at window 15, memLevel 8): 600 connections ≈ 200 MiB, unbounded. Now one pool per
 * process runs at most 10 zlib operations at a time and keeps at most 64 MiB of zlib streams
 * between messages (idle compressors are released and recreated; once half of it is reserved by
 * inflaters that keep their context, new connections get `client_no_context_takeover`).
 *
 * The server runs in a child process so that its memory is measured without the testers' own
 * zlib streams; every echoed message is checked.
 */
import { decodeMessage, encodeAckRequest, encodeClientConnect } from '@stelar/codec-tcp';
import { DEFAULT_ZLIB_CONCURRENCY, DEFAULT_ZLIB_MEMORY, deflateMemory } from '@stelar/codec-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tester } from '../src/tester';
import { OP } from '../src/wire';
import { MiB, rawWs, serverProcess, wsMessage, type ServerProcess } from './helpers';

const CONNECT = wsMessage(encodeClientConnect());

describe('hardening: zlib contexts (WebSocket permessage-deflate)', { timeout: 90_000 }, () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await serverProcess({ ws: { perMessageDeflate: true }, heartbeat: false });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('600 compressing connections: zlib memory stays within the pool (64 MiB), every echo is exact', async () => {
    const n = 600;
    const conns: { tester: Tester; nct: boolean }[] = [];
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => rawWs(srv.port, { deflate: true })));
      for (const { tester, answer } of batch) conns.push({ tester, nct: /client_no_context_takeover/i.test(answer.head) });
    }
    for (const { tester } of conns) tester.send({ opcode: OP.BINARY, payload: CONNECT });
    await Promise.all(conns.map(({ tester }) => tester.waitData(1, 10_000)));
    const base = await srv.mem();
    expect(base.zlibStreams).toBe(0); // streams are created on first use

    const t0 = performance.now();
    let checked = 0;
    for (let round = 0; round < 3; round++) {
      const sent = conns.map(({ tester }, i) => {
        // ~6 KiB of compressible JSON, different per connection and round; the reply (≥ 1 KiB) is compressed too.
        const data = { round, i, text: `connection ${i} round ${round} `.repeat(200) };
        void tester.message(wsMessage(encodeAckRequest(round + 1, 'echo', data)), { compress: true });
        return data;
      });
      await Promise.all(conns.map(({ tester }) => tester.waitData(2 + round, 20_000)));
      conns.forEach(({ tester }, i) => {
        const reply = tester.dataEvents[1 + round];
        expect(reply?.kind, `connection ${i} round ${round}`).toBe('message');
        const m = reply as Extract<typeof reply, { kind: 'message' }>;
        expect(m.compressed).toBe(true);
        const frame = decodeMessage(m.data, { maxFrameSize: 16 * MiB });
        expect(frame.type).toBe(0x06);
        const body = JSON.parse(new TextDecoder().decode(frame.payload.subarray(5))) as unknown;
        expect(body).toEqual(sent[i]);
        checked++;
      });
    }
    const ms = performance.now() - t0;
    const after = await srv.mem();
    const grown = after.rss - base.rss;
    const nct = conns.filter((c) => c.nct).length;
    const bound = DEFAULT_ZLIB_MEMORY + DEFAULT_ZLIB_CONCURRENCY * deflateMemory(15, 8, 16 * 1024);
    console.log(
      `zlib: ${n} compressing connections, ${checked} compressed echoes in ${ms.toFixed(0)} ms; server zlib streams ${after.zlibStreams}, ` +
        `charged ${(after.zlibMemory / MiB).toFixed(1)} MiB (reserved for inflaters ${(after.zlibPinned / MiB).toFixed(1)} MiB), ` +
        `${nct} connections answered client_no_context_takeover; server RSS +${(grown / MiB).toFixed(0)} MiB`,
    );
    expect(checked).toBe(3 * n);
    expect(after.zlibMemory).toBeLessThanOrEqual(bound);
    expect(after.zlibPinned).toBeLessThanOrEqual(DEFAULT_ZLIB_MEMORY / 2);
    expect(nct).toBeGreaterThan(0);
    // Without the pool: ≈ 600 × 336 KiB ≈ 197 MiB. The pool's 64 MiB, plus what it takes to run.
    expect(grown).toBeLessThan(110 * MiB);

    for (const { tester } of conns) tester.destroy();
    for (let i = 0; i < 100; i++) {
      const m = await srv.mem();
      if (m.open === 0) {
        expect(m.zlibMemory).toBe(0);
        expect(m.zlibStreams).toBe(0);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('connections did not close');
  });
});
