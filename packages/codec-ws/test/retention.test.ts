/**
 * What an unfinished message keeps alive: pieces taken out of big socket reads must not pin the
 * whole read (issue 10, item 3), and the counters a transport uses to bound unfinished input.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Receiver, type ReceiverHandlers } from '../src/index';
import { clientFrame } from './helpers';

const KiB = 1024;
const MiB = 1024 * KiB;

const gc: () => void = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

/** ArrayBuffer bytes alive after full collections. */
function arrayBuffers(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

const quiet = (messages: Buffer[] = []): ReceiverHandlers => ({
  onMessage: (d) => messages.push(Buffer.from(d)),
  onPing: () => undefined,
  onPong: () => undefined,
  onClose: () => undefined,
  onError: (e) => {
    throw e;
  },
});

/** A 64 KiB socket read: one `piece`-byte fragment, then empty continuation frames as filler. */
function read(size: number, fragment: Buffer, first: boolean): Buffer {
  const frag = clientFrame(first ? 0x02 : 0x00, fragment);
  const empty = clientFrame(0x00, Buffer.alloc(0));
  const fill = Math.floor((size - frag.length) / empty.length);
  return Buffer.concat([frag, ...Array.from({ length: fill }, () => empty)]);
}

describe('Receiver: bytes held by an unfinished message', () => {
  it('1 KiB fragments, each in its own 64 KiB read, keep about their own bytes, not the reads (≤ 2x)', () => {
    const r = new Receiver({ role: 'server', maxMessageSize: 2 * MiB }, quiet());
    const fragments = 512; // a 512 KiB message; the reads total 32 MiB
    const piece = Buffer.alloc(KiB, 0x61);
    const before = arrayBuffers();
    for (let i = 0; i < fragments; i++) r.push(read(64 * KiB, piece, i === 0));
    const held = arrayBuffers() - before;
    const message = fragments * KiB;
    console.log(`${fragments} x 1 KiB fragments in 64 KiB reads: ${(held / KiB).toFixed(0)} KiB held for a ${message / KiB} KiB message (${(held / message).toFixed(2)}x)`);
    expect(r.pendingBytes).toBe(message);
    expect(held).toBeLessThan(2 * message + 64 * KiB);
    r.destroy();
  });

  it('the same with 5 KiB fragments (kept as pieces, not gathered into blocks)', () => {
    const r = new Receiver({ role: 'server', maxMessageSize: 4 * MiB }, quiet());
    const piece = Buffer.alloc(5 * KiB, 0x62);
    const before = arrayBuffers();
    for (let i = 0; i < 200; i++) r.push(read(64 * KiB, piece, i === 0));
    const held = arrayBuffers() - before;
    expect(held).toBeLessThan(2 * 200 * 5 * KiB + 64 * KiB);
    r.destroy();
  });

  it('small fragments after big ones do not each keep a mostly empty block (≤ 2x)', () => {
    const r = new Receiver({ role: 'server', maxMessageSize: 8 * MiB }, quiet());
    const before = arrayBuffers();
    const parts: Buffer[] = [clientFrame(0x02, Buffer.alloc(1))];
    for (let i = 0; i < 400; i++) parts.push(clientFrame(0x00, Buffer.alloc(4 * KiB, 1)), clientFrame(0x00, Buffer.alloc(1, 2)));
    // Each frame in its own read, as a slow sender would deliver them.
    for (const p of parts) r.push(p);
    const held = arrayBuffers() - before;
    const message = 1 + 400 * (4 * KiB + 1);
    expect(r.pendingBytes).toBe(message);
    expect(held).toBeLessThan(2 * message + 64 * KiB);
    r.destroy();
  });

  it('one masked 4 MiB binary frame in 64 KiB reads: its own buffer comes at half of it, never over 2x held', async () => {
    const r = new Receiver({ role: 'server', maxMessageSize: 8 * MiB }, quiet());
    const size = 4 * MiB;
    const wire = clientFrame(0x82, Buffer.alloc(size, 0x63));
    // The temporaries of clientFrame (2 x 4 MiB) are freed off the main thread: let that finish.
    arrayBuffers();
    await new Promise((r) => setTimeout(r, 100));
    const before = arrayBuffers();
    const ratios: string[] = [];
    for (let at = 0; at < wire.length - 64 * KiB; at += 64 * KiB) {
      r.push(Buffer.from(wire.subarray(at, at + 64 * KiB)));
      const received = Math.min(at + 64 * KiB - 14, size);
      expect(r.pendingBytes).toBe(received);
      const held = arrayBuffers() - before;
      if ((at / (64 * KiB)) % 8 === 7) ratios.push((held / received).toFixed(2));
      expect(held, `after ${received} bytes`).toBeLessThan(2 * received + 64 * KiB);
    }
    console.log(`one 4 MiB masked frame in 64 KiB reads, held / received every 512 KiB: ${ratios.join(' ')}`);
    r.destroy();
  });

  it('the assembled message is exact, and a whole frame in one read is delivered as a view of it', () => {
    const messages: Buffer[] = [];
    const views: Buffer[] = [];
    const r = new Receiver({ role: 'server' }, { ...quiet(messages), onMessage: (d) => views.push(d) });
    const piece = (i: number): Buffer => Buffer.alloc(KiB + (i % 7), i & 255);
    const expected: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const p = piece(i);
      expected.push(p);
      const frag = clientFrame(i === 0 ? 0x02 : i === 49 ? 0x80 : 0x00, p);
      r.push(Buffer.concat([frag, clientFrame(0x89, Buffer.from('filler'))]));
    }
    expect(views).toHaveLength(1);
    expect(views[0]!.equals(Buffer.concat(expected))).toBe(true);
    const one = Buffer.concat([clientFrame(0x82, Buffer.alloc(3000, 5)), clientFrame(0x82, Buffer.alloc(10, 6))]);
    r.push(one);
    expect(views[1]!.buffer).toBe(one.buffer);
    expect(views[2]!.buffer).toBe(one.buffer);
  });

  it('pendingBytes and messagesReceived: what a transport needs to bound unfinished input', () => {
    const r = new Receiver({ role: 'server' }, quiet());
    expect(r.pendingBytes).toBe(0);
    r.push(clientFrame(0x82, Buffer.alloc(10)).subarray(0, 8)); // 2 + 4 + 2 bytes: header + 2 of 10
    expect(r.pendingBytes).toBe(2);
    expect(r.messagesReceived).toBe(0);
    expect(r.isIdle).toBe(false);
    r.push(Buffer.alloc(8)); // rest of it (masking garbage is fine for binary)
    expect(r.pendingBytes).toBe(0);
    expect(r.messagesReceived).toBe(1);
    expect(r.isIdle).toBe(true);
    r.push(clientFrame(0x89, Buffer.alloc(20)).subarray(0, 3)); // 2 header bytes + 1 of the mask key
    expect(r.pendingBytes).toBe(1);
    expect(r.isIdle).toBe(false);
    r.push(Buffer.alloc(3 + 20));
    expect(r.isIdle).toBe(true);
    r.push(clientFrame(0x82, Buffer.alloc(200)).subarray(0, 2)); // a header only: nothing held, but started
    expect(r.pendingBytes).toBe(0);
    expect(r.isIdle).toBe(false);
    r.destroy();
    expect(r.pendingBytes).toBe(0);
  });
});
