import { encodeAckRequest, encodeFrame, FrameType, parseAckResponse } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { StelarError } from '../src/index';
import { useHubs } from './fixtures';
import { tick, until } from './memory-link';

type Events = {
  chat: (m: { text: string }) => void;
  sum: (a: { a: number; b: number }) => number;
  fail: () => void;
  slow: (ms: number) => string;
  blob: (b: Uint8Array) => void;
  echo: (x: unknown) => unknown;
  work: (n: number) => number;
  block: () => number;
};

const setup = useHubs();

describe('delivery of events and requests', () => {
  it('requests: the handler’s result, sync or async; its error code and message; NO_HANDLER; a plain Error is INTERNAL_ERROR without its message', async () => {
    const { hub, client } = setup<Events>();
    hub.on('sum', ({ a, b }) => a + b);
    hub.on('slow', async (ms) => {
      await tick(ms);
      return 'done';
    });
    hub.on('fail', () => {
      throw new StelarError('NOPE', 'not today');
    });
    hub.on('echo', () => {
      throw new Error('boom');
    });
    const c = client();
    await c.connect();
    await expect(c.request('sum', { a: 2, b: 3 })).resolves.toBe(5);
    await expect(c.request('slow', 5)).resolves.toBe('done');
    await expect(c.request('fail')).rejects.toMatchObject({ code: 'NOPE', message: 'not today' });
    await expect(c.request('echo', 1)).rejects.toMatchObject({ code: 'INTERNAL_ERROR', message: 'internal server error' });
    await expect(c.request('work', 1)).rejects.toMatchObject({ code: 'NO_HANDLER', message: 'no handler for "work"' });
    expect(hub.getStats().errors).toMatchObject({ NOPE: 1, INTERNAL_ERROR: 1 });
    expect(hub.getStats().acks.inFlightHandlers).toBe(0);
  });

  it('binary data arrives as Uint8Array; data that is not JSON is answered BAD_JSON (an error reply to a request)', async () => {
    const { hub, client, raw } = setup<Events>();
    let got: Uint8Array | undefined;
    hub.on('blob', (b) => void (got = b));
    hub.on('echo', (x) => x);
    const c = client();
    await c.connect();
    c.emit('blob', new Uint8Array([1, 2, 3]));
    await until(() => got !== undefined);
    expect([...got!]).toEqual([1, 2, 3]);
    const r = raw();
    r.hello();
    const req = encodeAckRequest(5, 'echo', 0);
    req[req.length - 1] = 0x7b; // the data becomes `{`
    r.send(req);
    r.send(encodeFrame(FrameType.JSON, 'echo', new TextEncoder().encode('{')));
    await until(() => r.frames.length === 3);
    expect(parseAckResponse(r.frames[1]!.payload)).toMatchObject({ id: 5, ok: false });
    expect(r.frames[2]!.type).toBe(FrameType.ERROR);
    expect(hub.getStats().errors['BAD_JSON']).toBe(2);
  });

  it('event middleware can transform, drop, or reject; requests learn why', async () => {
    const { hub, client } = setup<Events>();
    hub.useEvent(async (ctx, next) => {
      if (ctx.event === 'echo' && ctx.data === 'drop') return;
      if (ctx.event === 'echo' && ctx.data === 'reject') throw new StelarError('FORBIDDEN', 'no echo for you');
      if (ctx.event === 'echo') ctx.data = { wrapped: ctx.data };
      await next();
    });
    hub.on('echo', (x) => x);
    const c = client();
    await c.connect();
    await expect(c.request('echo', 'hi')).resolves.toEqual({ wrapped: 'hi' });
    await expect(c.request('echo', 'drop')).rejects.toMatchObject({ code: 'REJECTED' });
    await expect(c.request('echo', 'reject')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const errors: string[] = [];
    c.onLifecycle('error', (e) => errors.push(e.code));
    c.emit('echo', 'reject');
    await until(() => errors.length === 1);
    expect(errors).toEqual(['FORBIDDEN']);
  });

  it('keeps per-connection order through async middleware', async () => {
    const { hub, client } = setup<Events>();
    hub.useEvent(async (_ctx, next) => {
      await tick(Math.random() * 3);
      await next();
    });
    const got: number[] = [];
    hub.on('echo', (x) => void got.push(x as number));
    const c = client();
    await c.connect();
    for (let i = 0; i < 50; i++) c.emit('echo', i);
    await until(() => got.length === 50);
    expect(got).toEqual([...Array(50).keys()]);
  });

  it('maxConcurrentRequests: requests waiting for a slot are dropped when their connection closes (no busy loop)', async () => {
    const { hub, client } = setup<Events>({ maxConcurrentRequests: 2 });
    let started = 0;
    hub.on('slow', async (ms) => {
      started++;
      await tick(ms);
      return 'done';
    });
    const c = client();
    await c.connect();
    const all = [c.request('slow', 50), c.request('slow', 50), c.request('slow', 50), c.request('slow', 50)];
    await until(() => started === 2);
    c.close();
    await Promise.allSettled(all);
    await tick(100); // the event loop still turns: the in-flight handlers finish
    expect(started).toBe(2);
    expect(hub.getStats().acks.inFlightHandlers).toBe(0);
  });

  it('maxHandlersInFlight: requests over it wait in order and are all answered', async () => {
    const { hub, client } = setup<Events>({ maxHandlersInFlight: 2 });
    let running = 0;
    let most = 0;
    hub.on('work', async (n) => {
      running++;
      most = Math.max(most, running);
      await tick(5);
      running--;
      return n;
    });
    const cs = [client(), client(), client()];
    await Promise.all(cs.map((c) => c.connect()));
    const replies = await Promise.all(cs.flatMap((c, i) => [1, 2, 3].map((k) => c.request('work', i * 10 + k))));
    expect(replies).toEqual([1, 2, 3, 11, 12, 13, 21, 22, 23]);
    expect(most).toBe(2);
    expect(hub.getStats().acks.inFlightHandlers).toBe(0);
  });

  it('a connection that closes while waiting for a handler slot leaves the line', async () => {
    const { hub, client } = setup<Events>({ maxHandlersInFlight: 1 });
    let release: () => void = () => undefined;
    hub.on('block', () => new Promise<number>((r) => (release = () => r(1))));
    hub.on('work', (n) => n);
    const [a, b, c] = [client(), client(), client()];
    await Promise.all([a.connect(), b.connect(), c.connect()]);
    const blocked = a.request('block');
    await until(() => hub.getStats().acks.inFlightHandlers === 1);
    const lost = b.request('work', 1);
    await tick(5);
    const kept = c.request('work', 2);
    await tick(5);
    b.close();
    await expect(lost).rejects.toMatchObject({ code: 'DISCONNECTED' });
    release();
    await expect(blocked).resolves.toBe(1);
    await expect(kept).resolves.toBe(2);
  });

  it('while draining, new requests are answered SHUTTING_DOWN', async () => {
    const { hub, client } = setup<Events>();
    hub.on('slow', async (ms) => {
      await tick(ms);
      return 'finished';
    });
    const c = client();
    await c.connect();
    const inflight = c.request('slow', 50);
    await until(() => hub.getStats().acks.inFlightHandlers === 1);
    const drained = hub.drain({ timeout: 2000 });
    await expect(c.request('slow', 1)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(inflight).resolves.toBe('finished');
    await expect(drained).resolves.toBe(true);
  });
});

describe('rate limits', () => {
  it('token bucket drops with RATE_LIMITED (ERROR for an event, an error reply to a request) and counts hits', async () => {
    const { hub, client } = setup<Events>({ rateLimit: { connection: { rate: 1, burst: 3 } } });
    let n = 0;
    hub.on('chat', () => void n++);
    hub.on('sum', ({ a, b }) => a + b);
    const c = client();
    const errors: string[] = [];
    c.onLifecycle('error', (e) => errors.push(e.code));
    await c.connect();
    for (let i = 0; i < 5; i++) c.emit('chat', { text: String(i) });
    await until(() => errors.length === 2);
    expect(n).toBe(3);
    await expect(c.request('sum', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(hub.getStats().rateLimit.hits).toBe(3);
  });

  it('per-event limits, per-connection override, disconnect policy (4005)', async () => {
    const { hub, client } = setup<Events>({ rateLimit: { events: { chat: { rate: 1, burst: 1 } }, connection: { rate: 1, burst: 2 }, onExceeded: 'disconnect' } });
    hub.onConnection((conn) => {
      if ((conn.auth as string) === 'vip') conn.setRateLimit(null);
    });
    hub.on('echo', (x) => x);
    const vip = client({ auth: 'vip' });
    await vip.connect();
    for (let i = 0; i < 5; i++) await expect(vip.request('echo', i)).resolves.toBe(i);
    const c = client();
    const closes: number[] = [];
    c.onLifecycle('disconnected', (i) => closes.push(i.code));
    await c.connect();
    c.emit('chat', { text: '1' });
    c.emit('chat', { text: '2' });
    await until(() => c.state === 'disconnected');
    expect(closes).toEqual([4005]);
    expect(hub.getStats().rateLimit.disconnects).toBe(1);
  });

  it('connection middleware can already override the rate limit', async () => {
    const { hub, client } = setup<Events>({ rateLimit: { connection: { rate: 1, burst: 1 } } });
    hub.use(async (conn, next) => {
      if (conn.auth === 'trusted') conn.setRateLimit(null);
      await next();
    });
    hub.on('echo', (x) => x);
    const c = client({ auth: 'trusted' });
    await c.connect();
    for (let i = 0; i < 5; i++) await expect(c.request('echo', i)).resolves.toBe(i);
  });

  it('a pluggable limiter, sync or async, sees the connection and the event; release is called on close', async () => {
    let calls = 0;
    const released: string[] = [];
    const { hub, client } = setup<Events>({
      rateLimit: {
        limiter: {
          consume: (subject, event) => (event === 'chat' ? subject.transport === 'mem' : Promise.resolve(++calls <= 2)),
          release: (subject) => void released.push(subject.id),
        },
      },
    });
    hub.on('echo', (x) => x);
    let chats = 0;
    hub.on('chat', () => void chats++);
    const c = client();
    await c.connect();
    c.emit('chat', { text: 'x' });
    await expect(c.request('echo', 1)).resolves.toBe(1);
    await expect(c.request('echo', 2)).resolves.toBe(2);
    await expect(c.request('echo', 3)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(chats).toBe(1);
    const id = c.id!;
    c.close();
    await until(() => released.length === 1);
    expect(released).toEqual([id]);
  });

  it('event rules are own keys only: an event named "constructor" is not limited by Object', async () => {
    const { hub, client } = setup({ rateLimit: { events: { chat: { rate: 1, burst: 1 } } } });
    let got = 0;
    hub.on('constructor', () => void got++);
    const c = client();
    await c.connect();
    for (let i = 0; i < 5; i++) c.emit('constructor', i);
    await until(() => got === 5);
  });
});
