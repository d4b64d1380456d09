import { describe, expect, it } from 'vitest';
import { encodeFrame, encodePong, FrameType } from '@stelar/codec-tcp';
import { linkOf } from '@stelar/core/internal';
import { client, rawTcpServer, SCHEMES, serverHello, startServer, tick, until, useFixtures } from './helpers';

useFixtures();

describe('dead-server detection', () => {
  it('a server that completes CONNECT and then ignores everything is dropped after interval + timeout, and the client reconnects', async () => {
    // Answers each CONNECT, then never says another word (no PONG, nothing).
    const { port, sessions } = await rawTcpServer((s, f) => {
      if (f.type === FrameType.CONNECT) s.send(serverHello(`s${sessions.indexOf(s) + 1}`));
    });
    const c = client(`tcp://127.0.0.1:${port}`, { heartbeat: { interval: 100, timeout: 150 }, reconnect: { baseDelay: 5, maxDelay: 10 } });
    await c.connect();
    expect(c.id).toBe('s1');
    const connectedAt = Date.now();
    const lost = await new Promise<{ code: number; willReconnect: boolean }>((r) => c.onLifecycle('disconnected', r));
    const after = Date.now() - connectedAt;
    expect(lost).toMatchObject({ code: 1006, willReconnect: true });
    expect(after).toBeGreaterThanOrEqual(240);
    expect(after).toBeLessThan(2000);
    // It asked once (PING after `interval` of silence), then gave up.
    expect(sessions[0]!.frames.map((f) => f.type)).toEqual([FrameType.CONNECT, FrameType.PING]);
    await until(() => c.id === 's2' && c.connected, 'the reconnection');
    await until(() => sessions[0]!.socket.destroyed, 'the dead socket to be closed');
  });

  it.each(SCHEMES)('over %s://: a live server keeps the session through many heartbeats; a server that stops reading is detected', async (scheme) => {
    const secure = scheme === 'wss' || scheme === 'tls';
    const { server, url } = await startServer({ secure });
    const c = client(url(scheme), { heartbeat: { interval: 40, timeout: 80 }, reconnect: { baseDelay: 5, maxDelay: 10 } });
    const drops: number[] = [];
    c.onLifecycle('disconnected', ({ code }) => void drops.push(code));
    await c.connect();
    const firstId = c.id!;
    const inBefore = server.getStats().messages.in;
    await tick(400); // ten intervals: the server answers every PING
    expect(drops).toEqual([]);
    expect(c.id).toBe(firstId);
    expect(server.getStats().messages.in - inBefore).toBeGreaterThanOrEqual(3); // the client's PINGs

    // The server process hangs (its link stops reading): no PONG comes back.
    const stuck = linkOf(server.getConnection(firstId)!);
    stuck.pause();
    await until(() => drops.length === 1, 'the client to give up on the stuck server', 3000);
    expect(drops).toEqual([1006]);
    await until(() => c.connected && c.id !== firstId, 'the reconnection');
    stuck.resume(); // lets the old server link see that the client went away
  });

  it("the server's heartbeat interval from CONNECT is the default; PINGs from the server are answered", async () => {
    const { port, sessions } = await rawTcpServer((s, f) => {
      if (f.type === FrameType.CONNECT) {
        s.send(serverHello('hb', 60));
        s.send(encodeFrame(FrameType.PING, '', new TextEncoder().encode('are you there')));
      } else if (f.type === FrameType.PING) s.send(encodePong(f.payload));
    });
    const c = client(`tcp://127.0.0.1:${port}`, { heartbeat: { timeout: 100 } });
    await c.connect();
    await tick(400);
    const frames = sessions[0]!.frames;
    const pong = frames.find((f) => f.type === FrameType.PONG);
    expect(new TextDecoder().decode(pong!.payload)).toBe('are you there');
    const pings = frames.filter((f) => f.type === FrameType.PING).length;
    expect(pings).toBeGreaterThanOrEqual(2); // about one per 60 ms of silence
    expect(pings).toBeLessThanOrEqual(8);
    expect(c.state).toBe('connected');
    expect(sessions).toHaveLength(1);
  });

  it.each(SCHEMES)("over %s://: the client answers the server's heartbeats, so a strict server keeps it", async (scheme) => {
    const secure = scheme === 'wss' || scheme === 'tls';
    const closes: number[] = [];
    const { url } = await startServer({ secure, heartbeat: { interval: 40, timeout: 60 } }, (s) => s.onDisconnect((_c, code) => void closes.push(code)));
    const c = client(url(scheme), { heartbeat: false }); // only the server probes
    await c.connect();
    const id = c.id;
    await tick(400);
    expect(closes).toEqual([]);
    expect(c.id).toBe(id);
    expect(c.state).toBe('connected');
  });

  it('heartbeat: false sends no PING and never drops a silent server', async () => {
    const { port, sessions } = await rawTcpServer((s, f) => {
      if (f.type === FrameType.CONNECT) s.send(serverHello('quiet', 30));
    });
    const c = client(`tcp://127.0.0.1:${port}`, { heartbeat: false });
    await c.connect();
    await tick(300);
    expect(sessions[0]!.frames.map((f) => f.type)).toEqual([FrameType.CONNECT]);
    expect(c.state).toBe('connected');
  });
});
