/**
 * The tester must catch a peer that compresses with a bigger LZ77 window than it agreed to
 * (RFC 7692 §7.1.2.1): zlib alone lets back-references reach past the window as long as they
 * stay inside its current output chunk, so the tester checks distances itself (see
 * src/deflate.ts). A deliberately broken echo server agrees to server_max_window_bits=9 and
 * compresses with 15; the same server compressing with 9 must pass.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { deflateRawSync, constants as zc } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CATALOGUE } from '../src/cases';
import { TesterDeflater, TesterInflater } from '../src/deflate';
import type { Case, CaseResult } from '../src/model';
import type { EchoServer } from '../src/peers';
import { runCatalogue } from '../src/runner';
import { buildFrame, FrameParser, OP, RSV1 } from '../src/wire';

/** A raw deflate stream of `data` with the sync-flush trailer removed (RFC 7692 §7.2.1). */
function compressed(data: Buffer, windowBits: number): Buffer {
  const out = deflateRawSync(data, { windowBits, finishFlush: zc.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

describe('TesterInflater: back-references beyond the negotiated window', () => {
  // 576 = the 512-byte window + 64: the shortest overshoot the check guarantees to see.
  for (const distance of [576, 600, 1000, 2048, 4096]) {
    it(`window bits 9: a repeat ${distance} bytes back (compressed with window 15) is refused`, async () => {
      const block = randomBytes(distance);
      const payload = compressed(Buffer.concat([block, block]), 15);
      await expect(new TesterInflater(9, false).inflate(payload)).rejects.toThrow(/window/);
      // The same bytes are fine where the window is 15 (the payload is valid DEFLATE).
      await expect(new TesterInflater(15, false).inflate(payload)).resolves.toEqual(Buffer.concat([block, block]));
    });
  }

  it('window bits 9: a repeat 500 bytes back is inside the window and passes, whatever compressed it', async () => {
    const block = randomBytes(500);
    const m = Buffer.concat([block, block, block]);
    await expect(new TesterInflater(9, false).inflate(compressed(m, 15))).resolves.toEqual(m);
  });

  it('window bits 9: a peer that stays in its window passes, across messages with context takeover', async () => {
    const deflater = new TesterDeflater(9, false);
    const inflater = new TesterInflater(9, false);
    const a = randomBytes(300);
    for (const msg of [Buffer.concat([a, a]), Buffer.concat([a.subarray(100), randomBytes(50), a.subarray(0, 200)]), Buffer.alloc(5000, 7)]) {
      expect(await inflater.inflate(await deflater.compress(msg))).toEqual(msg);
    }
  });

  it('window bits 9, context takeover: a reference into the previous message beyond the window is refused', async () => {
    // The peer's compressor keeps a 32 KiB window: the second message repeats the first, 2000 bytes back.
    const deflater = new TesterDeflater(15, false);
    const inflater = new TesterInflater(9, false);
    const first = randomBytes(2000);
    expect(await inflater.inflate(await deflater.compress(first))).toEqual(first);
    await expect(inflater.inflate(await deflater.compress(first))).rejects.toThrow(/window/);
  });
});

/**
 * An echo server that accepts whatever permessage-deflate offer it gets (answering it verbatim)
 * and compresses its echoes with `windowBits`, whatever was agreed.
 */
function deflateEchoServer(windowBits: number): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let parser: FrameParser | undefined;
    const inflater = new TesterInflater(15, false);
    let deflater = new TesterDeflater(windowBits, false);
    let chain = Promise.resolve();
    let parts: Buffer[] = [];
    let opcode = -1;
    let closed = false;
    s.on('data', (chunk: Buffer) => {
      if (parser) return parser.push(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const text = head.subarray(0, end).toString('latin1');
      const key = /sec-websocket-key:\s*(\S+)/i.exec(text)![1]!;
      const offer = /sec-websocket-extensions:\s*([^\r\n]+)/i.exec(text)?.[1]?.split(',')[0]?.trim();
      // It honours server_no_context_takeover: the window is its only fault.
      if (offer?.includes('server_no_context_takeover')) deflater = new TesterDeflater(windowBits, true);
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
          `${offer ? `Sec-WebSocket-Extensions: ${offer}\r\n` : ''}\r\n`,
      );
      parser = new FrameParser(
        (f) => {
          if (closed) return;
          if (f.opcode === OP.PING) return void s.write(buildFrame({ opcode: OP.PONG, payload: f.payload }, false));
          if (f.opcode === OP.CLOSE) {
            closed = true;
            chain = chain.then(() => {
              s.write(buildFrame({ opcode: OP.CLOSE, payload: f.payload.subarray(0, 2) }, false));
              s.end();
            });
            return;
          }
          if (f.opcode !== OP.CONT) opcode = f.opcode;
          parts.push(f.payload);
          if (!f.fin) return;
          const data = Buffer.concat(parts);
          const op = opcode;
          parts = [];
          chain = chain.then(async () => {
            const plain = await inflater.inflate(data);
            s.write(buildFrame({ opcode: op, rsv: RSV1, payload: await deflater.compress(plain) }, false));
          });
        },
        () => s.destroy(),
      );
      const rest = head.subarray(end + 4);
      if (rest.length > 0) parser.push(rest);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        open: 0,
        idle: async () => 0,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

/**
 * Only references inside one message, 600 to 4096 bytes back, at window bits 9 without context
 * takeover: the overshoot zlib alone does not see (the catalogue's 13.x messages also repeat
 * 20 000 bytes back, which zlib does catch).
 */
const SHORT_REACH: Case = {
  id: '99.1',
  title: 'window bits 9, no context takeover: each message repeats itself 600-4096 bytes back',
  rfc: 'RFC 7692 §7.1.2.1',
  deflate: { params: { serverMaxWindowBits: 9, clientMaxWindowBits: 9, serverNoContextTakeover: true, clientNoContextTakeover: true } },
  expect: { kind: 'echo' },
  run: async (t) => {
    for (const distance of [600, 1000, 2048, 4096]) {
      const block = randomBytes(distance);
      const m = Buffer.concat([block, block]);
      await t.message(m, { compress: true });
      t.expectMessage(m);
    }
  },
};

async function verdicts(windowBits: number, only: readonly string[]): Promise<Map<string, CaseResult>> {
  const target = await deflateEchoServer(windowBits);
  try {
    const report = await runCatalogue([SHORT_REACH, ...CATALOGUE], { roles: ['server'], target, only, maxWait: 3000 });
    return new Map(report.results.map((r) => [r.id, r]));
  } finally {
    await target.close();
  }
}

describe('the tester fails a peer that compresses with a bigger window than agreed', { timeout: 60_000 }, () => {
  // 99.1 above; 13.2.1: both window bits 9; 13.4.4: server_max_window_bits=9 only; 13.3.1:
  // window bits 9 without context takeover; 13.1.1: no limit (15).
  const ONLY = ['99.1', '13.2.1', '13.4.4', '13.3.1', '13.1.1'];

  it('agreed server_max_window_bits=9, compresses with 15: FAIL', async () => {
    const r = await verdicts(15, ONLY);
    for (const id of ['99.1', '13.2.1', '13.4.4', '13.3.1']) {
      expect(r.get(id)?.verdict, id).toBe('FAIL');
      expect(r.get(id)?.detail, id).toMatch(/does not inflate with the negotiated parameters.*window/);
    }
    // Where 15 was agreed the same server is right.
    expect(r.get('13.1.1')?.verdict).toBe('PASS');
  });

  it('the same server compressing with 9: PASS', async () => {
    const r = await verdicts(9, ONLY);
    for (const id of ONLY) expect(r.get(id)?.verdict, `${id}: ${r.get(id)?.detail}`).toBe('PASS');
  });
});
