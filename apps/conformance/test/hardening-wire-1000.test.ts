/**
 * Hardening (issue 10, item 5): 1,000 attacking connections of the wire classes at once, against
 * a `createServer` at its defaults (permessage-deflate on) in a child process, whose RSS is
 * measured from idle to under attack:
 *
 * - 250 fragment retention: 1 KiB fragments, each in its own 64 KiB read (empty continuation
 *   frames fill the rest of the read), message left open;
 * - 250 unfinished messages: a 1 MiB frame cut 100 bytes short (125 WebSocket, 125 TCP);
 * - 250 compression contexts: two compressed 6 KiB echo requests each (server inflater and
 *   compressor in use), then idle;
 * - 250 compressed and unfinished: the first compressed fragment of a message, then nothing.
 *
 * The bound asserted here is the one docs/security.md states.
 */
import * as zlib from 'node:zlib';
import { decodeMessage, encodeAckRequest, encodeBinary, encodeClientConnect } from '@stelar/codec-tcp';
import { connect } from '@stelar/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '@stelar/test-utils';
import type { Tester } from '../src/tester';
import { OP } from '../src/wire';
import { KiB, MiB, RawTcp, rawWs, serverProcess, wsMessage, type ServerProcess } from './helpers';

const CONNECT = wsMessage(encodeClientConnect());
/** RSS growth allowed for the 1,000 attackers (docs/security.md, "What each attack gets"). */
const BOUND = 320 * MiB;

async function batched<T>(n: number, open: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, open))));
  return out;
}

describe('hardening: 1,000 attacking connections (child process)', { timeout: 120_000 }, () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await serverProcess({ ws: { perMessageDeflate: true } });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('fragment retention, unfinished messages and zlib contexts: server RSS stays under the documented bound, and a client is served', async () => {
    const idle = await srv.mem();
    const t0 = performance.now();
    const retention = await batched(250, () => rawWs(srv.port).then((r) => r.tester));
    const unfinishedWs = await batched(125, () => rawWs(srv.port).then((r) => r.tester));
    const unfinishedTcp = await batched(125, () => RawTcp.open(srv.tcpPort));
    const compressing = await batched(250, () => rawWs(srv.port, { deflate: true }).then((r) => r.tester));
    const compressedOpen = await batched(250, () => rawWs(srv.port, { deflate: true }).then((r) => r.tester));
    const ws: Tester[] = [...retention, ...unfinishedWs, ...compressing, ...compressedOpen];
    for (const t of ws) t.send({ opcode: OP.BINARY, payload: CONNECT });
    for (const t of unfinishedTcp) t.hello();
    await Promise.all(ws.map((t) => t.waitData(1, 20_000)));
    await until(() => unfinishedTcp.every((t) => t.frames.length >= 1), 'TCP sessions', 20_000);
    const connected = await srv.mem();
    expect(connected.open).toBe(1000);

    // Compression contexts: two compressed echoes each, checked.
    for (let round = 0; round < 2; round++) {
      const sent = compressing.map((t, i) => {
        const data = { round, i, text: `attacker ${i} round ${round} `.repeat(250) };
        void t.message(wsMessage(encodeAckRequest(round + 1, 'echo', data)), { compress: true });
        return data;
      });
      await Promise.all(compressing.map((t) => t.waitData(2 + round, 30_000)));
      compressing.forEach((t, i) => {
        const m = t.dataEvents[1 + round] as Extract<Tester['log'][number], { kind: 'message' }>;
        const frame = decodeMessage(m.data, { maxFrameSize: 16 * MiB });
        expect(JSON.parse(new TextDecoder().decode(frame.payload.subarray(5)))).toEqual(sent[i]);
      });
    }

    // Fragment retention: 8 x 1 KiB fragments per connection, each in a 64 KiB read.
    const empty = retention[0]!.frame({ opcode: OP.CONT, payload: Buffer.alloc(0), fin: false });
    const pad = (f: Buffer): Buffer => Buffer.concat([f, ...Array.from({ length: Math.floor((64 * KiB - f.length) / empty.length) }, () => empty)]);
    const first = pad(retention[0]!.frame({ opcode: OP.BINARY, payload: Buffer.alloc(KiB, 1), fin: false }));
    const next = pad(retention[0]!.frame({ opcode: OP.CONT, payload: Buffer.alloc(KiB, 2), fin: false }));
    for (let k = 0; k < 8; k++) {
      for (const t of retention) t.write(k === 0 ? first : next);
      await new Promise<void>((r) => setImmediate(r));
    }
    for (const t of retention) t.ping('sync');
    await Promise.all(retention.map((t) => t.waitFor(() => t.log.some((e) => e.kind === 'pong') || t.tcpClosed, 30_000)));

    // Compressed and unfinished: the first fragment of a compressed message (a zlib stream of
    // incompressible data, so the inflater has work), then nothing.
    const noise = zlib.deflateRawSync(Buffer.from(Array.from({ length: 64 * KiB }, (_, i) => (i * 7919) & 255)), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    for (const t of compressedOpen) {
      t.send({ opcode: OP.BINARY, rsv: 4, fin: false, payload: noise.subarray(0, 2 * KiB) });
      // Answered once the fragment is inflated and counted (the server handles frames in order).
      t.ping('sync');
    }
    await Promise.all(compressedOpen.map((t) => t.waitFor(() => t.log.some((e) => e.kind === 'pong') || t.tcpClosed, 30_000)));

    // Unfinished 1 MiB messages on both transports.
    const frame = encodeBinary('up', Buffer.alloc(MiB - 64 - 9, 0x55));
    const wsWhole = unfinishedWs[0]!.frame({ opcode: OP.BINARY, payload: wsMessage(frame) });
    const wsBytes = wsWhole.subarray(0, wsWhole.length - 100);
    const tcpBytes = Buffer.from(frame.subarray(0, frame.length - 100));
    for (const t of unfinishedWs) t.write(wsBytes);
    for (const t of unfinishedTcp) t.write(tcpBytes);
    await Promise.all(unfinishedWs.map((t) => t.waitFor(() => t.tcpClosed || t.peerClosed !== undefined || t.socket.writableLength === 0, 30_000)));

    // Let the server settle (held bytes stable), then measure.
    let last = -1;
    let under = await srv.mem();
    for (let i = 0; i < 50 && under.unfinishedBytes !== last; i++) {
      last = under.unfinishedBytes;
      await new Promise((r) => setTimeout(r, 200));
      under = await srv.mem();
    }
    const ms = performance.now() - t0;
    const grown = under.rss - idle.rss;
    const closedWs = (ts: Tester[]): number => ts.filter((t) => t.tcpClosed || t.peerClosed !== undefined).length;
    const closed = { retention: closedWs(retention), compressing: closedWs(compressing), compressedOpen: closedWs(compressedOpen) };
    const refused = unfinishedWs.filter((t) => t.peerClosed?.code === 1013).length + unfinishedTcp.filter((t) => t.disconnectCode === 1013).length;
    console.log(
      `1000 attackers in ${(ms / 1000).toFixed(1)} s: server RSS ${(idle.rss / MiB).toFixed(0)} MiB idle → ${(connected.rss / MiB).toFixed(0)} MiB connected → ${(under.rss / MiB).toFixed(0)} MiB under attack (+${(grown / MiB).toFixed(0)} MiB); ` +
        `unfinished ${(under.unfinishedBytes / MiB).toFixed(1)} MiB held, ${refused} refused 1013; zlib ${(under.zlibMemory / MiB).toFixed(1)} MiB in ${under.zlibStreams} streams; ${under.open} open, closed by class: ${JSON.stringify(closed)}`,
    );
    expect(grown).toBeLessThan(BOUND);
    expect(under.unfinishedBytes).toBeLessThanOrEqual(64 * MiB);
    expect(refused).toBeGreaterThan(150);
    // The other classes fit the budgets: they are held, not refused.
    expect(closed).toEqual({ retention: 0, compressing: 0, compressedOpen: 0 });

    // A well-behaved client is served meanwhile.
    const good = connect(`ws://127.0.0.1:${srv.port}/`, { reconnect: false, heartbeat: false, requestTimeout: 5000 });
    await good.connect();
    expect(await good.request('echo' as never, { ok: 1 } as never)).toEqual({ ok: 1 });
    good.close();

    for (const t of ws) t.destroy();
    for (const t of unfinishedTcp) t.destroy();
    for (let i = 0; i < 100; i++) {
      const m = await srv.mem();
      if (m.open === 0) {
        expect(m.unfinishedBytes).toBe(0);
        expect(m.zlibMemory).toBe(0);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('attackers were not all released');
  });
});
