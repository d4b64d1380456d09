/**
 * Hardening (issue 10, item 3): WebSocket fragments must not retain whole socket reads. An
 * attacker sends a message as 1 KiB fragments, each one in its own 64 KiB read (the rest of the
 * read is empty continuation frames). Before the fix every fragment kept its whole read alive:
 * 64x the message. Now a connection holds at most about 2x its unfinished message.
 */
import { decodeMessage, encodeAckRequest, encodeClientConnect } from '@stelar/codec-tcp';
import type { StelarClient } from '@stelar/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP } from '../src/wire';
import { KiB, MiB, rawWs, retained, served, startServer, witness, wsMessage, type Harness } from './helpers';

const CONNECT = wsMessage(encodeClientConnect());
const READ = 64 * KiB;

describe('hardening: fragment retention (WebSocket)', { timeout: 60_000 }, () => {
  let h: Harness;
  let good: StelarClient;
  beforeAll(async () => {
    h = await startServer({ closeTimeout: 1000 });
    good = await witness(`ws://127.0.0.1:${h.port}/`);
  });
  afterAll(async () => {
    good?.close();
    await h?.close();
  });

  it('1 KiB fragments each in a 64 KiB read: held bytes per connection stay ≤ 2x the message, and the message is exact', async () => {
    const conns = 4;
    const fragments = 256; // a 256 KiB message per connection, 16 MiB of reads
    // A request whose body is sent in 1 KiB pieces; the server echoes it when it completes.
    const body = 'x'.repeat(fragments * KiB - 64);
    const request = wsMessage(encodeAckRequest(1, 'echo', body));
    const testers = await Promise.all(Array.from({ length: conns }, () => rawWs(h.port).then((r) => r.tester)));
    for (const t of testers) {
      t.send({ opcode: OP.BINARY, payload: CONNECT });
      await t.waitData(1, 3000);
    }
    const before = await retained();
    const pieces = Math.ceil(request.length / KiB);
    for (const t of testers) {
      const empty = t.frame({ opcode: OP.CONT, payload: Buffer.alloc(0), fin: false });
      const pad = (frame: Buffer): Buffer => Buffer.concat([frame, ...Array.from({ length: Math.floor((READ - frame.length) / empty.length) }, () => empty)]);
      // All but the last piece: the message stays unfinished.
      for (let i = 0; i < pieces - 1; i++) {
        const payload = request.subarray(i * KiB, (i + 1) * KiB);
        t.write(pad(t.frame({ opcode: i === 0 ? OP.BINARY : OP.CONT, payload, fin: false })));
        if (i % 16 === 15) await new Promise<void>((r) => setImmediate(r));
      }
      // A ping behind them: once its pong is back, the server has parsed everything before it.
      t.ping('sync');
    }
    await Promise.all(testers.map((t) => t.waitFor(() => t.log.some((e) => e.kind === 'pong'), 20_000)));
    const held = (await retained()) - before;
    const message = (pieces - 1) * KiB;
    const perConnection = held / conns;
    console.log(
      `fragment retention: ${conns} connections x ${pieces - 1} 1 KiB fragments in 64 KiB reads hold ${(perConnection / KiB).toFixed(0)} KiB each for ${(message / KiB).toFixed(0)} KiB of message (${(perConnection / message).toFixed(2)}x)`,
    );
    expect(perConnection).toBeLessThan(2 * message + 128 * KiB);

    // The messages complete: each echo is the exact body.
    for (const t of testers) t.send({ opcode: OP.CONT, payload: request.subarray((pieces - 1) * KiB), fin: true });
    await Promise.all(testers.map((t) => t.waitFor(() => t.log.some((e) => e.kind === 'message' && e.data.length > 1000), 10_000)));
    for (const t of testers) {
      const reply = t.log.find((e) => e.kind === 'message' && e.data.length > 1000);
      expect(reply?.kind).toBe('message');
      const frame = decodeMessage((reply as { data: Buffer }).data, { maxFrameSize: 2 * MiB });
      expect(frame.event).toBe('echo');
      expect(Buffer.from(frame.payload).includes(Buffer.from(body))).toBe(true);
      t.destroy();
    }
    await served(good);
  });
});
