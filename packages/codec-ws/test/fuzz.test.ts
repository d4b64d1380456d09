import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { until } from '@stelar/test-utils';
import {
  encodeFrame,
  formatExtensions,
  Opcode,
  parseExtensions,
  PerMessageDeflate,
  Sender,
  Utf8Validator,
  validateUpgradeRequest,
  WsError,
} from '../src/index';
import type { DeflateParams, Role } from '../src/index';
import { recorder } from './helpers';
import type { Event } from './helpers';

/**
 * Every property must complete its numRuns: a run cut short by the time limit is a failure
 * (markInterruptAsFailure), not a silent pass on fewer cases. Each property takes well under
 * 0.5 s on an idle 2-core machine; the 15 s limit leaves room for a loaded one and still stops a
 * failing property's shrinking before the test timeout.
 */
const LIMIT = { interruptAfterTimeLimit: 15_000, markInterruptAsFailure: true } as const;
const RUNS = { numRuns: 300, ...LIMIT };

/** Splits `data` at the given (sorted, deduplicated) cut points. */
function cut(data: Uint8Array, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of sorted) {
    out.push(Buffer.from(data.subarray(prev, p)));
    prev = p;
  }
  out.push(Buffer.from(data.subarray(prev)));
  return out;
}

function run(role: Role, chunks: Buffer[], limits: { maxFrameSize?: number; maxMessageSize?: number } = {}): Event[] {
  const { receiver, events } = recorder({ role, ...limits });
  let maxBuffered = 0;
  for (const c of chunks) {
    receiver.push(Buffer.from(c));
    maxBuffered = Math.max(maxBuffered, receiver.bufferedBytes);
  }
  expect(maxBuffered).toBeLessThanOrEqual(receiver.maxBufferedBytes);
  return events;
}

/** A byte stream that is mostly well-formed frames with random corruption. */
const frameLike = fc
  .array(
    fc.record({
      b0: fc.oneof(fc.constantFrom(0x81, 0x82, 0x01, 0x02, 0x00, 0x80, 0x88, 0x89, 0x8a), fc.integer({ min: 0, max: 255 })),
      masked: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 300 }),
    }),
    { maxLength: 8 },
  )
  .map((frames) => Buffer.concat(frames.map(({ b0, masked, payload }) => rawFrame(b0, masked, payload))));

/** Any frame header (no validation), masked with a fixed key when asked. */
function rawFrame(b0: number, masked: boolean, payload: Uint8Array): Buffer {
  const n = payload.length;
  const len = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 255] : [127, 0, 0, 0, 0, n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  if (masked) len[0]! |= 0x80;
  const key = [0x11, 0x22, 0x33, 0x44];
  const body = Buffer.from(payload);
  if (masked) for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from([b0, ...len, ...(masked ? key : [])]), body]);
}

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 2000 }), frameLike);

describe('fuzz: receiver robustness', () => {
  it('any input either decodes or yields one typed WsError, never throws, respects limits', () => {
    fc.assert(
      fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 10 }), fc.constantFrom<Role>('server', 'client'), (data, points, role) => {
        const events = run(role, cut(data, points), { maxFrameSize: 200, maxMessageSize: 400 });
        const errors = events.filter((e) => e.type === 'error');
        expect(errors.length).toBeLessThanOrEqual(1);
        const terminal = events.findIndex((e) => e.type === 'error' || e.type === 'close');
        if (terminal >= 0) expect(terminal).toBe(events.length - 1);
        for (const e of events) if (e.type === 'message') expect(e.data.length / 2).toBeLessThanOrEqual(400);
      }),
      RUNS,
    );
  });

  it('chunking a byte stream at random points yields the same events', () => {
    fc.assert(
      fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 20 }), fc.constantFrom<Role>('server', 'client'), (data, points, role) => {
        const whole = run(role, [Buffer.from(data)]);
        expect(run(role, cut(data, points))).toEqual(whole);
      }),
      RUNS,
    );
  });

  it('byte-at-a-time feeding matches whole feeding', () => {
    fc.assert(
      fc.property(frameLike, fc.constantFrom<Role>('server', 'client'), (data, role) => {
        const whole = run(role, [Buffer.from(data)]);
        const bytewise = run(role, Array.from(data, (b) => Buffer.from([b])));
        expect(bytewise).toEqual(whole);
      }),
      { numRuns: 100, ...LIMIT },
    );
  });
});

interface Msg {
  binary: boolean;
  data: Buffer;
  fragments: number[];
  pingBefore: boolean;
}

const message = fc
  .record({
    binary: fc.boolean(),
    bin: fc.uint8Array({ maxLength: 70000 }).filter((a) => a.length < 300 || a.length > 65535 || a.length % 997 === 0),
    str: fc.string({ unit: 'binary', maxLength: 200 }),
    fragments: fc.array(fc.nat(), { maxLength: 4 }),
    pingBefore: fc.boolean(),
  })
  .map(({ binary, bin, str, fragments, pingBefore }): Msg => ({
    binary,
    data: binary ? Buffer.from(bin) : Buffer.from(str, 'utf8'),
    fragments,
    pingBefore,
  }));

describe('fuzz: encode ∘ decode is the identity', () => {
  it('random messages, random fragmentation, interleaved pings, both roles', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 5 }), fc.constantFrom<Role>('server', 'client'), fc.array(fc.nat(), { maxLength: 6 }), (msgs, sender, points) => {
        const frames: Buffer[] = [];
        const expected: Event[] = [];
        for (const m of msgs) {
          const parts = cut(m.data, m.fragments);
          const ping = encodeFrame(Buffer.from('p'), { opcode: Opcode.PING, role: sender });
          if (m.pingBefore && parts.length === 1) frames.push(...ping);
          parts.forEach((part, i) => {
            const opcode = i === 0 ? (m.binary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION;
            frames.push(...encodeFrame(part, { opcode, role: sender, fin: i === parts.length - 1 }));
            // interleaved between fragments
            if (m.pingBefore && parts.length > 1 && i === 0) frames.push(...ping);
          });
          if (m.pingBefore) expected.push({ type: 'ping', data: '70' });
          expected.push({ type: 'message', data: m.data.toString('hex'), binary: m.binary });
        }
        const stream = Buffer.concat(frames);
        const receiverRole: Role = sender === 'server' ? 'client' : 'server';
        expect(run(receiverRole, cut(stream, points))).toEqual(expected);
      }),
      { numRuns: 150, ...LIMIT },
    );
  });
});

describe('fuzz: UTF-8 validator', () => {
  it('agrees with buffer.isUtf8 whatever the split', () => {
    const bytesish = fc.oneof(
      fc.uint8Array({ maxLength: 100 }),
      fc.string({ unit: 'binary', maxLength: 60 }).map((s) => new Uint8Array(Buffer.from(s))),
      fc
        .tuple(fc.string({ unit: 'binary', maxLength: 60 }), fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([s, i, b]) => {
          const buf = Buffer.from(s);
          if (buf.length > 0) buf[i % buf.length] = b;
          return new Uint8Array(buf);
        }),
    );
    fc.assert(
      fc.property(bytesish, fc.array(fc.nat(), { maxLength: 5 }), (data, points) => {
        const v = new Utf8Validator();
        let ok = true;
        for (const part of cut(data, points)) ok = v.write(part) && ok;
        expect(ok && v.end()).toBe(data.length === 0 || isUtf8(data));
      }),
      { numRuns: 1000, ...LIMIT },
    );
  });
});

describe('fuzz: parsers of handshake input never throw', () => {
  it('parseExtensions on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parseExtensions(s);
        if (r.ok) expect(parseExtensions(formatExtensions(r.offers))).toEqual(r);
      }),
      { numRuns: 1000, ...LIMIT },
    );
  });
  it('parseExtensions ∘ formatExtensions on generated offers', () => {
    const token = fc.stringMatching(/^[a-z0-9_-]{1,10}$/);
    const offer = fc.record({
      name: token,
      params: fc.array(fc.record({ name: token, value: fc.oneof(fc.constant(true as const), token) }), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(fc.array(offer, { maxLength: 5 }), (offers) => {
        expect(parseExtensions(formatExtensions(offers))).toEqual({ ok: true, offers });
      }),
      { numRuns: 300, ...LIMIT },
    );
  });
  it('validateUpgradeRequest on arbitrary headers', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 30 }), fc.string({ maxLength: 60 }), { maxKeys: 10 }), fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), (headers, method, httpVersion) => {
        const r = validateUpgradeRequest({ method, httpVersion, headers });
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500, ...LIMIT },
    );
  });
});

describe('fuzz: permessage-deflate', () => {
  const params = fc.record<DeflateParams>({
    serverNoContextTakeover: fc.boolean(),
    clientNoContextTakeover: fc.boolean(),
    serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
  });
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }),
    fc.string({ unit: 'binary', maxLength: 500 }).map((s) => new Uint8Array(Buffer.from(s.repeat(3)))),
  );

  it('deflate → inflate roundtrip with random parameters, through Sender and Receiver, with fragments', async () => {
    await fc.assert(
      fc.asyncProperty(
        params,
        fc.constantFrom<Role>('server', 'client'),
        fc.array(fc.record({ data: payload, split: fc.boolean(), binary: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 64 }),
        async (p, role, msgs, threshold) => {
          const peer: Role = role === 'server' ? 'client' : 'server';
          const tx = new PerMessageDeflate({ role, params: p, threshold });
          const rx = new PerMessageDeflate({ role: peer, params: p });
          const { receiver, events } = recorder({ role: peer, deflate: rx }, { drain: false });
          const sender = new Sender({ role, deflate: tx, write: (h, pl) => receiver.push(Buffer.concat([h, pl])) });
          const expected: Event[] = [];
          for (const m of msgs) {
            const data = Buffer.from(m.data);
            const binary = m.binary || !isUtf8(data);
            if (m.split && data.length > 1) {
              const mid = data.length >> 1;
              sender.send(data.subarray(0, mid), { binary, fin: false });
              sender.send(data.subarray(mid), { binary });
            } else sender.send(data, { binary });
            expected.push({ type: 'message', data: data.toString('hex'), binary });
          }
          await until(() => events.length >= expected.length || receiver.isErrored);
          tx.close();
          rx.close();
          expect(events).toEqual(expected);
        },
      ),
      { numRuns: 60, ...LIMIT },
    );
  });

  it('random bytes with RSV1 set yield a message or a typed error, never a throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 120 }), async (junk) => {
        const rx = new PerMessageDeflate({ role: 'client', params: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 } });
        const { receiver, events } = recorder({ role: 'client', deflate: rx, maxMessageSize: 10000 }, { drain: false });
        receiver.push(Buffer.concat([Buffer.from([0xc2, junk.length]), junk]));
        await until(() => events.length > 0);
        rx.close();
        const e = events[0]!;
        if (e.type === 'error') expect(['WS_INFLATE_FAILED', 'WS_MESSAGE_TOO_LARGE']).toContain(e.code);
        else expect(e.type).toBe('message');
      }),
      { numRuns: 100, ...LIMIT },
    );
  });
});

it('WsError is the only error type surfaced', () => {
  expect(new WsError('WS_BAD_OPCODE', 1002, 'x')).toBeInstanceOf(Error);
});
