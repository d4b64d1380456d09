/**
 * Hardening (issue 10, item 4): unfinished messages. Before the fix, 300 connections each holding
 * an unfinished 1 MiB message raised the process by ~300 MiB, and a fragmented message kept
 * open with pings lived forever. Now the bytes held in unfinished messages share one budget
 * (`maxUnfinishedBytes`, 64 MiB by default; the connection that would exceed it is closed with
 * 1013) and a started message must finish within `messageTimeout` (30 s by default; 1008).
 */
import { encodeBinary, encodeClientConnect, parseDisconnect } from '@stelar/codec-tcp';
import { InputGuard } from '@stelar/transport-node';
import type { StelarClient } from '@stelar/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { OP } from '../src/wire';
import { gc, KiB, MiB, RawTcp, rawWs, retained, served, startServer, witness, wsMessage, type Harness } from './helpers';

const CONNECT = wsMessage(encodeClientConnect());

function rss(): number {
  gc();
  gc();
  return process.memoryUsage().rss;
}

describe('hardening: unfinished messages (both transports)', { timeout: 60_000 }, () => {
  let h: Harness;
  let good: StelarClient;
  beforeAll(async () => {
    // Default limits: maxFrameSize 1 MiB, the process-wide guard (64 MiB, 30 s).
    h = await startServer({ closeTimeout: 1000 });
    good = await witness(`ws://127.0.0.1:${h.port}/`);
  });
  afterAll(async () => {
    good?.close();
    await h?.close();
  });

  it('300 connections each holding an unfinished 1 MiB message: held bytes stay within the 64 MiB budget, the rest get 1013', async () => {
    const guard = InputGuard.shared;
    expect(guard.maxUnfinishedBytes).toBe(64 * MiB);
    const perTransport = 150;
    const ws = await Promise.all(Array.from({ length: perTransport }, () => rawWs(h.port).then((r) => r.tester)));
    const tcp = await Promise.all(Array.from({ length: perTransport }, () => RawTcp.open(h.tcpPort)));
    for (const t of ws) t.send({ opcode: OP.BINARY, payload: CONNECT });
    for (const t of tcp) t.hello();
    await Promise.all(ws.map((t) => t.waitData(1, 5000)));
    await until(() => tcp.every((t) => t.frames.length >= 1), 'TCP CONNECT answers');
    const rssBefore = rss();
    const before = await retained();

    // One binary frame of 1 MiB - 64 bytes (under the 1 MiB limit), all but its last 100 bytes.
    const frame = encodeBinary('up', Buffer.alloc(MiB - 64 - 9, 0x55));
    const wsWhole = ws[0]!.frame({ opcode: OP.BINARY, payload: wsMessage(frame) });
    const wsBytes = wsWhole.subarray(0, wsWhole.length - 100);
    const tcpBytes = Buffer.from(frame.subarray(0, frame.length - 100));
    const t0 = performance.now();
    ws.forEach((t, i) => {
      t.write(wsBytes);
      tcp[i]!.write(tcpBytes);
    });
    const settled = (): number =>
      ws.filter((t) => t.peerClosed !== undefined || t.tcpClosed).length + tcp.filter((t) => t.closed || t.disconnectCode !== undefined).length;
    // Everything is either held (counted by the guard) or refused.
    await until(() => settled() + guard.unfinishedMessages >= 2 * perTransport, 'every connection held or refused', 20_000);
    let last = -1;
    await until(
      () => {
        const now = guard.unfinishedBytes;
        const stable = now === last;
        last = now;
        return stable;
      },
      'held bytes stable',
      10_000,
    );
    const ms = performance.now() - t0;
    const held = guard.unfinishedBytes;
    const grownRss = rss() - rssBefore;
    const grown = (await retained()) - before;
    const refused = { ws: ws.filter((t) => t.peerClosed?.code === 1013).length, tcp: tcp.filter((t) => t.disconnectCode === 1013).length };
    console.log(
      `unfinished messages: 300 x ~1 MiB sent in ${ms.toFixed(0)} ms; ${guard.unfinishedMessages} held (${(held / MiB).toFixed(1)} MiB), ${refused.ws} WS + ${refused.tcp} TCP refused with 1013; RSS +${(grownRss / MiB).toFixed(0)} MiB, heap+buffers +${(grown / MiB).toFixed(0)} MiB`,
    );
    expect(held).toBeLessThanOrEqual(64 * MiB);
    expect(refused.ws + refused.tcp).toBeGreaterThanOrEqual(300 - 66);
    expect(guard.unfinishedMessages + refused.ws + refused.tcp).toBe(300);
    // The 64 MiB held, at most 2x retained, plus slack for 300 sockets: far from +300 MiB.
    expect(grown).toBeLessThan(140 * MiB);
    expect(grownRss).toBeLessThan(200 * MiB);
    // The refused ones got a reason: ERROR OVERLOADED before the DISCONNECT on TCP.
    const refusedTcp = tcp.find((t) => t.disconnectCode === 1013)!;
    const error = refusedTcp.frames.find((f) => f.type === 0x0b)!;
    expect(JSON.parse(new TextDecoder().decode(error.payload)).code).toBe('OVERLOADED');
    await served(good);

    for (const t of ws) t.destroy();
    for (const t of tcp) t.destroy();
    await until(() => guard.unfinishedBytes === 0 && h.server.getStats().connections.open === 1, 'all released', 10_000);
    await until(() => !guard.sweeping, 'sweep timer stopped');
  });

  it('a message kept open with pings (WebSocket) or a stalled frame (TCP) is closed 1008 at messageTimeout', async () => {
    const s = await startServer({ messageTimeout: 400, closeTimeout: 1000 });
    const codes: number[] = [];
    s.server.onDisconnect((_c, code) => codes.push(code));
    try {
      const { tester } = await rawWs(s.port);
      tester.send({ opcode: OP.BINARY, payload: CONNECT });
      await tester.waitData(1, 3000);
      const tcp = await RawTcp.open(s.tcpPort);
      tcp.hello();
      await until(() => tcp.frames.length >= 1, 'TCP CONNECT answer');

      const t0 = performance.now();
      const msg = wsMessage(encodeBinary('up', Buffer.alloc(10 * KiB)));
      tester.send({ opcode: OP.BINARY, payload: msg.subarray(0, 100), fin: false });
      tcp.write(encodeBinary('up', Buffer.alloc(10 * KiB)).subarray(0, 100));
      // Pings and complete control frames between fragments do not extend the deadline.
      const pinger = setInterval(() => {
        tester.ping('still here');
        tester.send({ opcode: OP.CONT, payload: Buffer.alloc(0), fin: false });
      }, 50);
      try {
        await tester.waitPeerGone(5000);
        await until(() => tcp.disconnectCode !== undefined, 'TCP DISCONNECT', 5000);
      } finally {
        clearInterval(pinger);
      }
      const ms = performance.now() - t0;
      expect(tester.peerClosed?.code).toBe(1008);
      expect(tcp.disconnectCode).toBe(1008);
      expect(ms).toBeGreaterThanOrEqual(380);
      expect(ms).toBeLessThan(4000);
      const wsError = tester.log.find((e): e is Extract<typeof e, { kind: 'message' }> => e.kind === 'message' && e.data[0] === 0x0b);
      expect(wsError && new TextDecoder().decode(wsError.data).includes('WS_MESSAGE_TIMEOUT')).toBe(true);
      const tcpError = tcp.frames.find((f) => f.type === 0x0b)!;
      expect(JSON.parse(new TextDecoder().decode(tcpError.payload)).code).toBe('MESSAGE_TIMEOUT');
      expect(parseDisconnect(tcp.frames.find((f) => f.type === 0x08)!.payload)?.code).toBe(1008);
      await until(() => codes.length === 2, 'both disconnects reported');
      expect(codes.sort()).toEqual([1008, 1008]);
      tester.destroy();
      tcp.destroy();

      // A client that keeps sending whole messages is never cut, however long it talks.
      const c = await witness(`ws://127.0.0.1:${s.port}/`);
      const end = Date.now() + 1000;
      while (Date.now() < end) {
        await served(c, { pad: 'p'.repeat(200 * KiB) });
        await sleep(20);
      }
      c.close();
    } finally {
      await s.close();
    }
  });
});
