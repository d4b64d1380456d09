import { describe, expect, it } from 'vitest';
import { encodeAckRequest, encodeJson } from '@stelar/codec-tcp';
import { StelarError } from '../src/index';
import { client, startServer, until, useFixtures, type Server } from './helpers';

useFixtures();

type Chat = { n: number; text: string };

/** A server that records the `chat` messages it receives, in order. */
async function recording(): Promise<{ url: string; got: number[]; server: Server }> {
  const got: number[] = [];
  const { url, server } = await startServer({}, (s) => {
    s.on('chat', (m) => void got.push(m.n));
    s.on('sum', ({ a, b }) => a + b);
  });
  return { url: url('tcp'), got, server };
}

const chat = (n: number, text = 'x'): Chat => ({ n, text });
/** Bytes one queued `chat` takes (the encoded frame). */
const frameSize = (m: Chat): number => encodeJson('chat', m).length;

describe('offline queue', () => {
  it('messages sent before the first connection are queued and delivered in order; volatile ones are dropped', async () => {
    const { url, got } = await recording();
    const c = client(url, { autoConnect: false });
    expect(c.emit('chat', chat(1))).toBe(true);
    expect(c.emit('chat', chat(2), { volatile: true })).toBe(false);
    expect(c.emit('chat', chat(3))).toBe(true);
    const sum = c.request('sum', { a: 1, b: 1 });
    expect(c.queued).toBe(3);
    await c.connect();
    await expect(sum).resolves.toBe(2);
    await until(() => got.length === 2);
    expect(got).toEqual([1, 3]);
    expect(c.queued).toBe(0);
  });

  it('maxMessages with drop-oldest (default) keeps the newest; an evicted request rejects with QUEUE_FULL', async () => {
    const { url, got } = await recording();
    const c = client(url, { autoConnect: false, queue: { maxMessages: 3 } });
    const evicted = c.request('sum', { a: 1, b: 2 });
    for (let n = 1; n <= 5; n++) expect(c.emit('chat', chat(n))).toBe(true);
    await expect(evicted).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(c.queued).toBe(3);
    await c.connect();
    await until(() => got.length === 3);
    expect(got).toEqual([3, 4, 5]);
  });

  it('maxMessages with drop-newest refuses new messages (emit returns false, requests reject QUEUE_FULL)', async () => {
    const { url, got } = await recording();
    const c = client(url, { autoConnect: false, queue: { maxMessages: 3, policy: 'drop-newest' } });
    const results = [1, 2, 3, 4, 5].map((n) => c.emit('chat', chat(n)));
    expect(results).toEqual([true, true, true, false, false]);
    await expect(c.request('sum', { a: 1, b: 2 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    await c.connect();
    await until(() => got.length === 3);
    expect(got).toEqual([1, 2, 3]);
  });

  it('maxMessages with the error policy: emit throws QUEUE_FULL, a request rejects with it', async () => {
    const { url, got } = await recording();
    const c = client(url, { autoConnect: false, queue: { maxMessages: 2, policy: 'error' } });
    c.emit('chat', chat(1));
    c.emit('chat', chat(2));
    let thrown: unknown;
    try {
      c.emit('chat', chat(3));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StelarError);
    expect(thrown).toMatchObject({ code: 'QUEUE_FULL' });
    await expect(c.request('sum', { a: 1, b: 2 }, { timeout: 200 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(c.queued).toBe(2);
    await c.connect();
    await until(() => got.length === 2);
    expect(got).toEqual([1, 2]);
  });

  describe('maxBytes', () => {
    const text = 'y'.repeat(100);
    const size = frameSize(chat(1, text)); // every chat(n < 10) has this size
    const maxBytes = Math.floor(size * 2.5); // room for two

    it('drop-oldest evicts until the new message fits', async () => {
      const { url, got } = await recording();
      const c = client(url, { autoConnect: false, queue: { maxBytes, maxMessages: 100 } });
      for (let n = 1; n <= 5; n++) expect(c.emit('chat', chat(n, text))).toBe(true);
      expect(c.queued).toBe(2);
      await c.connect();
      await until(() => got.length === 2);
      expect(got).toEqual([4, 5]);
    });

    it('drop-newest refuses what does not fit; the error policy throws', async () => {
      const { url, got } = await recording();
      const newest = client(url, { autoConnect: false, queue: { maxBytes, policy: 'drop-newest' } });
      expect([1, 2, 3].map((n) => newest.emit('chat', chat(n, text)))).toEqual([true, true, false]);
      // A small one still fits in what is left.
      const small = frameSize(chat(9, ''));
      expect(small).toBeLessThanOrEqual(maxBytes - 2 * size);
      expect(newest.emit('chat', chat(9, ''))).toBe(true);
      const strict = client(url, { autoConnect: false, queue: { maxBytes, policy: 'error' } });
      strict.emit('chat', chat(1, text));
      strict.emit('chat', chat(2, text));
      expect(() => strict.emit('chat', chat(3, text))).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
      await Promise.all([newest.connect(), strict.connect()]);
      await until(() => got.length === 5);
      expect(got.filter((n) => n === 9)).toHaveLength(1);
      expect(got.sort()).toEqual([1, 1, 2, 2, 9]);
    });

    it('a message bigger than maxBytes is never queued, whatever the policy', async () => {
      const { url, got } = await recording();
      const c = client(url, { autoConnect: false, queue: { maxBytes } });
      c.emit('chat', chat(1, text));
      expect(c.emit('chat', chat(2, 'z'.repeat(maxBytes)))).toBe(false);
      const big = c.request('echo', 'z'.repeat(maxBytes));
      const small = c.request('sum', { a: 1, b: 2 });
      await expect(big).rejects.toMatchObject({ code: 'QUEUE_FULL' });
      expect(c.queued).toBe(2);
      expect(frameSize(chat(1, text)) + encodeAckRequest(1, 'sum', { a: 1, b: 2 }).length).toBeLessThan(maxBytes);
      await c.connect();
      await expect(small).resolves.toBe(3);
      await until(() => got.length === 1);
      expect(got).toEqual([1]);
    });
  });

  it('queue: false drops messages sent while offline and rejects requests with QUEUE_FULL', async () => {
    const { url, got } = await recording();
    const c = client(url, { autoConnect: false, queue: false });
    expect(c.emit('chat', chat(1))).toBe(false);
    await expect(c.request('sum', { a: 1, b: 2 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(c.queued).toBe(0);
    await c.connect();
    c.emit('chat', chat(2));
    await until(() => got.length === 1);
    expect(got).toEqual([2]);
  });

  it('close() drops the queue and rejects queued requests with DISCONNECTED', async () => {
    const { url, got } = await recording();
    const c = client(url, { autoConnect: false });
    c.emit('chat', chat(1));
    const req = c.request('sum', { a: 1, b: 2 });
    c.close();
    await expect(req).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(c.queued).toBe(0);
    expect(c.emit('chat', chat(2))).toBe(false);
    await expect(c.request('sum', { a: 1, b: 2 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(got).toEqual([]);
  });
});
