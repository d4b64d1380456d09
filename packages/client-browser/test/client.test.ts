// The differences from core's engine that the README lists, checked in Node against a scripted
// WebSocket (the Chromium tests in parity.test.ts hold everything else to core's behaviour).
import { describe, expect, it } from 'vitest';
import { encodeJson, encodeServerConnect } from '@stelar/codec-tcp';
import { createClient, DialError, type StelarClient } from '../src/index';
import { ScriptedSocket } from './scripted';

const macrotask = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** A client with a session open on a scripted socket. */
async function session(options = {}): Promise<[StelarClient, ScriptedSocket]> {
  const c = createClient('ws://127.0.0.1:9/', { WebSocket: ScriptedSocket as never, reconnect: false, heartbeat: false, ...options });
  const up = c.connect();
  const ws = ScriptedSocket.last!;
  ws.open();
  ws.receive(encodeServerConnect({ v: 1, id: 's1', heartbeat: 0, maxFrame: 1 << 20 }));
  await up;
  return [c, ws];
}

describe('the browser client, where it differs from core\'s engine (README, Differences)', () => {
  it('calls event handlers a microtask after their message, in order, before the next message', async () => {
    const [c, ws] = await session();
    const got: unknown[] = [];
    c.on('news', (n) => void got.push(n));
    ws.receive(encodeJson('news', 1));
    expect(got).toEqual([]); // not while the message is handled
    await Promise.resolve();
    await Promise.resolve();
    expect(got).toEqual([1]);
    ws.receive(encodeJson('news', 2));
    ws.receive(encodeJson('news', 3));
    await macrotask();
    expect(got).toEqual([1, 2, 3]);
  });

  it('fails a request sent while the socket is closing once it has closed (DISCONNECTED), and keeps a retry: true one for the next session', async () => {
    const [c, ws] = await session({ reconnect: { baseDelay: 1, maxDelay: 1 } });
    ws.readyState = 2; // the server started closing
    const before = ws.sent.length;
    let plain: unknown;
    void c.request('sum', 1).catch((e: { code: string }) => (plain = e.code));
    const retried = c.request('sum', 2, { retry: true });
    await macrotask();
    expect([plain, ws.sent.length]).toEqual([undefined, before]); // not sent, not failed yet
    ws.end(1001, 'going away');
    await macrotask();
    expect(plain).toBe('DISCONNECTED');
    // The next session sends the retry: true request again and takes its reply.
    for (let t = Date.now(); ScriptedSocket.last === ws && Date.now() - t < 5000; ) await macrotask(); // the retry delay (at most 1 ms)
    const next = ScriptedSocket.last!;
    expect(next).not.toBe(ws);
    next.open();
    next.receive(encodeServerConnect({ v: 1, id: 's2', heartbeat: 0, maxFrame: 1 << 20 }));
    const req = next.sent.find((f) => f[0] === 5)!; // ACK_REQ: type, eventLen (2 bytes), "sum", id
    const id = req.slice(6, 10);
    next.receive(new Uint8Array([0, 0, 0, 0, 6, 0, 3, ...new TextEncoder().encode('sum'), ...id, 0, ...new TextEncoder().encode('4')]));
    await expect(retried).resolves.toBe(4);
    c.close();
  });

  it('passes on an error the WebSocket constructor throws as it is; a socket that closes before opening is a DialError', async () => {
    const refusing = createClient('ws://127.0.0.1:9/', {
      reconnect: false,
      WebSocket: class {
        constructor() {
          throw new SyntaxError('the subprotocol list is invalid');
        }
      } as never,
    });
    await expect(refusing.connect()).rejects.toBeInstanceOf(SyntaxError);
    const c = createClient('ws://127.0.0.1:9/', { WebSocket: ScriptedSocket as never, reconnect: false });
    const attempt = c.connect();
    ScriptedSocket.last!.end(1006);
    const err = await attempt.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect(err).toMatchObject({ code: 'WS_DIAL_FAILED', fatal: false });
  });
});
