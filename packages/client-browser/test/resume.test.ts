// The browser engine's side of connection-state recovery (docs/protocol.md §8) on a scripted
// WebSocket, for what the Chromium tests (test/recovery.test.ts) cannot force: the CONNECT it
// sends, offsets kept and presented, the ring of sent frames and its bounds, what it sends again
// after `rx`, and malformed answers.
import { describe, expect, it } from 'vitest';
import { encodeFrame, encodeJson, FrameType, withOffset } from '@stelar/codec-tcp';
import { createClient, type StelarClient } from '../src/index';
import { ScriptedSocket } from './scripted';

const macrotask = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const text = new TextDecoder();
const TOKEN = 'tok_0123456789abcdefghij';

/** The server's CONNECT, with a `recovery` answer when given. */
const hello = (id: string, recovery?: unknown): Uint8Array => encodeFrame(FrameType.CONNECT, '', new TextEncoder().encode(JSON.stringify({ v: 1, id, heartbeat: 0, maxFrame: 1 << 20, recovery })));
/** The JSON of a CONNECT the client sent (a WebSocket message: type, eventLen, payload). */
const connectOf = (f: number[]): Record<string, unknown> => JSON.parse(text.decode(new Uint8Array(f.slice(3)))) as Record<string, unknown>;
/** The JSON payloads of the JSON frames a socket got (event 'chat'). */
const chats = (ws: ScriptedSocket): unknown[] => ws.sent.filter((f) => f[0] === FrameType.JSON).map((f) => JSON.parse(text.decode(new Uint8Array(f.slice(3 + f[2]!)))));

/** A client on a scripted socket whose session opted in to recovery (the server answered with a token). */
async function session(options = {}): Promise<[StelarClient, ScriptedSocket, string[]]> {
  const log: string[] = [];
  const c = createClient('ws://127.0.0.1:9/', { WebSocket: ScriptedSocket as never, reconnect: { baseDelay: 1, maxDelay: 1 }, heartbeat: false, ...options });
  c.onLifecycle('connected', (i) => void log.push(`connected ${i.id} ${i.recovered}`));
  c.onLifecycle('recovery_failed', (i) => void log.push(`recovery_failed ${i.id} ${i.previousId}`));
  c.onLifecycle('error', (e) => void log.push(`error ${e.code} ${e.message}`));
  const up = c.connect();
  const ws = ScriptedSocket.last!;
  ws.open();
  ws.receive(hello('s1', { token: TOKEN, recovered: false, rx: 0 }));
  await up;
  return [c, ws, log];
}

/** Ends the link without a close frame and opens the next one (after the 1 ms retry delay). */
async function relink(ws: ScriptedSocket): Promise<ScriptedSocket> {
  ws.end(1006);
  for (let t = Date.now(); ScriptedSocket.last === ws && Date.now() - t < 5000; ) await macrotask();
  const next = ScriptedSocket.last!;
  next.open();
  return next;
}

describe('connection-state recovery in the browser engine', () => {
  it('opts in with recover: {}, keeps the last non-zero offset (a zero one is not recoverable), presents it with the token, and strips offsets before handlers', async () => {
    const [c, ws, log] = await session();
    expect(connectOf(ws.sent[0]!)).toEqual({ v: 1, recover: {} });
    const got: unknown[] = [];
    c.on('news', (m) => void got.push(m));
    ws.receive(withOffset(encodeJson('news', 1), { hi: 0, lo: 0x1234 }));
    ws.receive(withOffset(encodeJson('news', 2), { hi: 0, lo: 0 })); // volatile: no offset
    ws.receive(withOffset(encodeFrame(FrameType.BINARY, 'news', new Uint8Array([7])), { hi: 1, lo: 0 }));
    ws.receive(withOffset(encodeJson('news', 4), { hi: 0, lo: 0 }));
    await macrotask();
    expect(got).toEqual([1, 2, new Uint8Array([7]), 4]);
    const next = await relink(ws);
    expect(connectOf(next.sent[0]!)).toEqual({ v: 1, recover: { token: TOKEN, offset: '0000000100000000' } });
    next.receive(hello('s1', { token: 'tok_second_token_abcdefgh', recovered: true, rx: 0 }));
    await macrotask();
    expect(log).toEqual(['connected s1 false', 'connected s1 true']);
    c.close();
  });

  it('after a resume, sends again what the server did not get (after rx) in order, minus settled requests; reports what the bounded ring no longer has; offline sends follow', async () => {
    const [c, ws, log] = await session({ recovery: { maxMessages: 3 } });
    for (let n = 1; n <= 6; n++) c.emit('chat', n);
    const timedOut = c.request('sum', 1, { timeout: 1 }).catch((e: { code: string }) => e.code);
    await new Promise((r) => setTimeout(r, 10));
    expect(await timedOut).toBe('TIMEOUT');
    const next = await relink(ws);
    c.emit('chat', 'offline'); // queued: goes after what is sent again
    // The server got 2 of the 7 frames: 3 to 6 and the request are missing; the ring kept the last 3 (5, 6, the request).
    next.receive(hello('s1', { token: TOKEN, recovered: true, rx: 2 }));
    await macrotask();
    expect(chats(next)).toEqual([5, 6, 'offline']); // the timed-out request is not sent again
    expect(log).toContain('error QUEUE_FULL 2 message(s) sent before the link was lost were not kept to send again');
    expect(c.messagesSent).toBe(8); // 6 chats, the request, the offline chat: each once
    c.close();
  });

  it('a resume that fails (a new id): recovery_failed, requests on the wire fail with DISCONNECTED (retry ones are sent again), rooms joined again, count and offset start over', async () => {
    const [c, ws, log] = await session();
    const joined = c.join('lobby');
    const join = ws.sent.find((f) => f[0] === FrameType.JOIN)!;
    ws.receive(encodeFrame(FrameType.ACK_RES, 'lobby', new Uint8Array([...join.slice(3 + join[2]!), 0])));
    await joined;
    ws.receive(withOffset(encodeJson('news', 1), { hi: 0, lo: 9 }));
    const plain = c.request('sum', 1).catch((e: { code: string }) => e.code);
    const retried = c.request('sum', 2, { retry: true });
    const next = await relink(ws);
    await macrotask();
    expect(await Promise.race([plain, macrotask().then(() => 'pending')])).toBe('pending'); // kept until the answer
    next.receive(hello('s2', { token: TOKEN, recovered: false, rx: 0 }));
    await macrotask();
    expect(await plain).toBe('DISCONNECTED');
    expect(log.slice(-2)).toEqual(['recovery_failed s2 s1', 'connected s2 false']);
    const types = next.sent.slice(1).map((f) => f[0]);
    expect(types).toEqual([FrameType.JOIN, FrameType.ACK_REQ]); // rooms first (as core's engine), then the queue: the retry request first in it
    const req = next.sent[2]!;
    next.receive(encodeFrame(FrameType.ACK_RES, 'sum', new Uint8Array([...req.slice(6, 10), 0, ...new TextEncoder().encode('4')])));
    expect(await retried).toBe(4);
    // The next resume presents a zero offset (nothing received in this session yet).
    const third = await relink(next);
    expect(connectOf(third.sent[0]!)).toEqual({ v: 1, recover: { token: TOKEN, offset: '0000000000000000' } });
    c.close();
  });

  it('recovery: false sends no recover field; a malformed recovery answer or a JSON frame too short for its offset is a protocol error (1002)', async () => {
    const c = createClient('ws://127.0.0.1:9/', { WebSocket: ScriptedSocket as never, reconnect: false, heartbeat: false, recovery: false });
    void c.connect().catch(() => undefined);
    const ws = ScriptedSocket.last!;
    ws.open();
    expect(connectOf(ws.sent[0]!)).toEqual({ v: 1 });
    ws.receive(hello('s1', { token: 5, recovered: 'yes' }));
    expect(ws.closedWith).toEqual([1000, 'bad recovery']); // 1002 goes on the wire as 1000 (browsers), the reason kept
    c.close();
    const [c2, ws2] = await session();
    ws2.receive(encodeFrame(FrameType.JSON, 'news', new Uint8Array([1, 2, 3])));
    expect(ws2.closedWith).toEqual([1000, 'no offset']);
    c2.close();
  });
});
