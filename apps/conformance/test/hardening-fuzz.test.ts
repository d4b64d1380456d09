/**
 * Fuzzing (fast-check, bounded runs): both codecs with random and mutated input, then both live
 * listeners of `createServer` with random and mutated sessions. The codecs never throw anything
 * but their typed errors and hold bounded input; the server never crashes or hangs, its memory
 * stays bounded, its counters return to zero, and well-behaved clients keep getting answers.
 */
import * as net from 'node:net';
import {
  encodeAckRequest,
  encodeBinary,
  encodeClientConnect,
  encodeDisconnect,
  encodeJoin,
  encodeJson,
  encodeLeave,
  encodePing,
  FrameDecoder,
  FrameError,
} from '@stelar/codec-tcp';
import { PerMessageDeflate, Receiver, WsError, type Role } from '@stelar/codec-ws';
import type { StelarClient } from '@stelar/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { deflateOnce } from '../src/deflate';
import { buildFrame, closeBody, OP } from '../src/wire';
import { MiB, rawHttp, retained, served, startServer, upgradeRequest, witness, wsMessage, type Harness } from './helpers';

const RUNS = Number(process.env['STELAR_FUZZ_RUNS'] ?? 150);

/** A valid stream of WebSocket frames (masked for a server receiver), as a seed for mutations. */
function validWsStream(role: Role, compressed: boolean): Buffer {
  const mask = role === 'server';
  const parts = [
    buildFrame({ opcode: OP.TEXT, payload: 'Hello κόσμε' }, mask),
    buildFrame({ opcode: OP.BINARY, payload: Buffer.alloc(300, 1), fin: false }, mask),
    buildFrame({ opcode: OP.PING, payload: 'p' }, mask),
    buildFrame({ opcode: OP.CONT, payload: Buffer.alloc(70_000, 2) }, mask),
    buildFrame({ opcode: OP.PONG }, mask),
  ];
  if (compressed) parts.push(buildFrame({ opcode: OP.TEXT, rsv: 4, payload: deflateOnce(Buffer.from('compressed '.repeat(50))) }, mask));
  parts.push(buildFrame({ opcode: OP.CLOSE, payload: closeBody(1000, 'bye') }, mask));
  return Buffer.concat(parts);
}

/** Mutations: flip, overwrite, insert, delete bytes, and cut the stream. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(input: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'flip':
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        b[at] = m.value;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case 'cut':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** Splits `b` at the given (sorted, de-duplicated) cut points. */
function chop(b: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(b.subarray(prev, p));
    prev = p;
  }
  out.push(b.subarray(prev));
  return out.filter((x) => x.length > 0);
}

/** Feeds a Receiver; checks it never throws, reports at most one error, then stays silent. */
async function feedReceiver(role: Role, deflate: boolean, chunks: Buffer[]): Promise<void> {
  const pmd = deflate
    ? new PerMessageDeflate({
        role,
        params: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      })
    : undefined;
  const events: string[] = [];
  let afterEnd = 0;
  let ended = false;
  const note = (e: string): void => {
    if (ended) afterEnd++;
    events.push(e);
  };
  const r = new Receiver(
    { role, deflate: pmd, maxMessageSize: 256 * 1024 },
    {
      onMessage: () => note('message'),
      onPing: () => note('ping'),
      onPong: () => note('pong'),
      onClose: () => {
        note('close');
        ended = true;
      },
      onError: (err) => {
        expect(err).toBeInstanceOf(WsError);
        expect([1002, 1007, 1008, 1009]).toContain(err.closeCode);
        note('error');
        ended = true;
      },
      onDrain: () => undefined,
    },
  );
  for (const c of chunks) {
    r.push(Buffer.from(c)); // push takes ownership (unmasks in place)
    expect(r.bufferedBytes).toBeLessThanOrEqual(r.maxBufferedBytes);
    if (r.isBusy) await until(() => !r.isBusy, 'inflate', 2000);
  }
  if (r.isBusy) await until(() => !r.isBusy, 'inflate', 2000);
  expect(afterEnd).toBe(0);
  expect(events.filter((e) => e === 'error').length).toBeLessThanOrEqual(1);
  r.destroy();
  pmd?.close();
}

const tcpSeed = Buffer.concat([
  encodeClientConnect({ token: 'x' }),
  encodeJson('chat', { text: 'κόσμε' }),
  encodeAckRequest(7, 'echo', [1, 2, 3]),
  encodeBinary('bin', new Uint8Array(500)),
  encodeJoin('lobby', 3),
  encodeLeave('lobby'),
  encodePing(new Uint8Array([1, 2])),
  encodeDisconnect(1000, 'bye'),
]);

describe('fuzzing the codecs', { timeout: 60_000 }, () => {
  for (const role of ['server', 'client'] as const) {
    for (const deflate of [false, true]) {
      it(`codec-ws Receiver (${role}, deflate ${deflate ? 'on' : 'off'}): random bytes in random chunks`, async () => {
        await fc.assert(
          fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 8 }), async (bytes, cuts) => {
            await feedReceiver(role, deflate, chop(Buffer.from(bytes), cuts));
          }),
          { numRuns: RUNS },
        );
      });
      it(`codec-ws Receiver (${role}, deflate ${deflate ? 'on' : 'off'}): mutated valid streams`, async () => {
        const seed = validWsStream(role, deflate);
        await fc.assert(
          fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), async (ms, cuts) => {
            await feedReceiver(role, deflate, chop(mutate(seed, ms), cuts));
          }),
          { numRuns: RUNS },
        );
      });
    }
  }

  it('codec-tcp FrameDecoder: random bytes and mutated valid streams throw only FrameError, buffer at most maxFrameSize', () => {
    const check = (chunks: Buffer[]): void => {
      const d = new FrameDecoder(() => undefined, { maxFrameSize: 64 * 1024 });
      for (const c of chunks) {
        try {
          d.push(c);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
          return;
        }
        expect(d.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => check(chop(Buffer.from(bytes), cuts))),
      { numRuns: RUNS * 4 },
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (ms, cuts) =>
        check(chop(mutate(tcpSeed, ms), cuts)),
      ),
      { numRuns: RUNS * 4 },
    );
  });
});

describe('fuzzing the live listeners', { timeout: 90_000 }, () => {
  let h: Harness;
  const good: StelarClient[] = [];
  beforeAll(async () => {
    h = await startServer({ ws: { perMessageDeflate: true, handshakeTimeout: 1000 }, handshakeTimeout: 1000, closeTimeout: 500, maxFrameSize: 256 * 1024 });
    h.server.on('chat', (m: unknown, conn) => conn.to('lobby').emit('chat', m as never));
    good.push(await witness(`ws://127.0.0.1:${h.port}/`), await witness(`tcp://127.0.0.1:${h.tcpPort}`));
  });
  afterAll(async () => {
    for (const g of good) g.close();
    await h?.close();
  });

  /** Sends `chunks` on a socket (already upgraded or raw TCP), then waits for the server to close it, or closes it. */
  async function attack(socket: net.Socket, chunks: Buffer[]): Promise<void> {
    socket.on('error', () => undefined);
    socket.resume();
    for (const c of chunks) {
      if (socket.destroyed) break;
      socket.write(c);
      await new Promise<void>((r) => setImmediate(r));
    }
    // Whatever the input, the server ends the connection itself, or it is left for our close.
    await Promise.race([new Promise<void>((r) => socket.once('close', () => r())), sleep(50)]);
    socket.destroy();
  }

  const wsSeed = Buffer.concat([
    wsMessage(encodeClientConnect()),
    wsMessage(encodeJoin('lobby', 1)),
    wsMessage(encodeJson('chat', { text: 'hello' })),
    wsMessage(encodeAckRequest(2, 'echo', { a: 1 })),
  ].map((m) => buildFrame({ opcode: OP.BINARY, payload: m }, true)));

  it('WebSocket listener: random and mutated frames after a valid upgrade, and mutated upgrade requests', async () => {
    const before = await retained();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
          fc.record({ kind: fc.constant('frames' as const), ms: fc.array(mutation, { minLength: 1, maxLength: 5 }) }),
          fc.record({ kind: fc.constant('upgrade' as const), ms: fc.array(mutation, { minLength: 1, maxLength: 4 }) }),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (input, cuts) => {
          runs++;
          if (input.kind === 'upgrade') {
            const req = mutate(Buffer.from(upgradeRequest(h.port, { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' })), input.ms);
            const s = net.connect(h.port, '127.0.0.1');
            await new Promise<void>((r) => s.once('connect', () => r()));
            await attack(s, chop(Buffer.concat([req, wsSeed]), cuts));
            return;
          }
          const a = await rawHttp(h.port, upgradeRequest(h.port));
          expect(a.status).toBe(101);
          const body = input.kind === 'random' ? Buffer.from(input.bytes) : mutate(wsSeed, input.ms);
          await attack(a.socket, chop(body, cuts));
        },
      ),
      { numRuns: RUNS },
    );
    await until(() => h.server.getStats().connections.open === 2 && h.server.getStats().connections.opening === 0, 'fuzz connections gone', 5000);
    for (const g of good) await served(g);
    const growth = (await retained()) - before;
    console.log(`WebSocket fuzz: ${runs} sessions, memory +${(growth / MiB).toFixed(1)} MiB, stats ${JSON.stringify(h.server.getStats().connections)}`);
    expect(growth).toBeLessThan(16 * MiB);
    expect(h.server.getStats().rooms).toBe(0);
  });

  it('TCP listener: random bytes and mutated Stelar sessions', async () => {
    const before = await retained();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
          fc.array(mutation, { minLength: 1, maxLength: 6 }).map((ms) => mutate(tcpSeed, ms)),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (bytes, cuts) => {
          runs++;
          const s = net.connect(h.tcpPort, '127.0.0.1');
          await new Promise<void>((r) => s.once('connect', () => r()));
          await attack(s, chop(bytes, cuts));
        },
      ),
      { numRuns: RUNS },
    );
    await until(() => h.server.getStats().connections.open === 2 && h.server.getStats().connections.opening === 0, 'fuzz connections gone', 5000);
    for (const g of good) await served(g);
    const growth = (await retained()) - before;
    console.log(`TCP fuzz: ${runs} sessions, memory +${(growth / MiB).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(16 * MiB);
    expect(h.server.getStats().rooms).toBe(0);
    expect(h.server.getStats().acks.pending).toBe(0);
  });
});
