/**
 * Connection-state recovery on one node (docs/protocol.md §8), in memory: the hub keeps a session
 * whose link is lost, the client engine resumes it; what each side missed is replayed or sent
 * again exactly once; the bounds hold.
 */
import { decodeJson, encodeClientConnect, encodeFrame, encodeJson, FrameType, OFFSET_SIZE, parseErrorBody, parseRecoveryAnswer, parseServerHello, readOffset, type Frame } from '@stelar/codec-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientEngine, type ClientOptions, type Dialer, type StelarError } from '../src/client/index';
import { Hub, MemoryAdapter, type Connection, type HubOptions } from '../src/index';
import { linkOf, SendStatus, type LinkHandler } from '../src/internal';
import { linkPair, memoryDialer, tick, until } from './memory-link';

type Ev = { n: (i: number) => void; up: (i: number) => void; work: (i: number) => number; slow: (i: number) => number };

const hubs: Hub<Ev>[] = [];
const clients: ClientEngine<Ev>[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const h of hubs.splice(0)) {
    await h.drain({ timeout: 200 });
    await h.dispose();
  }
});

function hub(options: HubOptions = {}): Hub<Ev> {
  const h = new Hub<Ev>({ heartbeat: false, recovery: true, ...options });
  hubs.push(h);
  return h;
}

/**
 * A client engine that reconnects at once; `cut(lose)` drops its current link, `away()` does too
 * and keeps the hub unreachable until `back()`.
 */
function client(h: Hub<Ev>, opts: ClientOptions = {}) {
  let reachable = true;
  const dialer = memoryDialer(() => (reachable ? h : null));
  const c = new ClientEngine<Ev>(dialer, { heartbeat: false, reconnect: { baseDelay: 1, maxDelay: 2 }, ...opts });
  clients.push(c);
  const got: number[] = [];
  c.on('n', (i) => void got.push(i));
  const connected: { id: string; recovered?: boolean }[] = [];
  const failed: { id: string; previousId: string }[] = [];
  c.onLifecycle('connected', (i) => void connected.push(i));
  c.onLifecycle('recovery_failed', (i) => void failed.push(i));
  const cut = (lose = true): void => dialer.lastCut!(lose);
  const away = (): void => {
    reachable = false;
    cut();
  };
  const back = (): void => {
    reachable = true;
  };
  return { c, got, connected, failed, cut, away, back };
}

/** A raw link: frames the hub sends, decoded. */
function raw(h: Hub<Ev>) {
  const pair = linkPair();
  const frames: Frame[] = [];
  const closed: { code?: number } = {};
  const handler: LinkHandler = {
    onFrame: (f) => void frames.push(f),
    onProtocolError() {},
    onPong() {},
    onDrain() {},
    onClose: (code) => void (closed.code = code),
  };
  pair.attachClient(handler);
  pair.attachServer(h.accept(pair.server));
  return { send: (f: Uint8Array) => pair.client.send(f), frames, bytes: pair.serverSent, closed, cut: pair.cut };
}

const hello = (f: Frame | undefined) => parseServerHello(f!.payload);

describe('connection-state recovery: opting in', () => {
  it('off by default: no recovery field, frames unchanged, no stats', async () => {
    const h = new Hub<Ev>({ heartbeat: false });
    hubs.push(h);
    const r = raw(h);
    r.send(encodeClientConnect(undefined, {}));
    await until(() => r.frames.length === 1);
    expect(parseRecoveryAnswer(hello(r.frames[0]))).toBeUndefined();
    h.emit('n', 1);
    await until(() => r.frames.length === 2);
    expect(decodeJson(r.frames[1]!.payload)).toBe(1);
    expect(h.getStats().recovery).toBeUndefined();
    expect(h.metricsText()).not.toContain('recovery');
  });

  it('on: only sessions that opt in get a token and offsets; the others get the same bytes as without recovery', async () => {
    const h = hub();
    const plain = raw(h);
    plain.send(encodeClientConnect());
    const opted = raw(h);
    opted.send(encodeClientConnect(undefined, {}));
    await until(() => plain.frames.length === 1 && opted.frames.length === 1);
    expect(parseRecoveryAnswer(hello(plain.frames[0]))).toBeUndefined();
    const answer = parseRecoveryAnswer(hello(opted.frames[0]))!;
    expect(answer).toMatchObject({ recovered: false, rx: 0 });
    expect(answer.token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(answer.token).not.toBe(hello(opted.frames[0]).id);
    h.emit('n', 7);
    h.volatile.emit('n', 8);
    await until(() => plain.frames.length === 3 && opted.frames.length === 3);
    // Byte for byte what a hub without recovery sends.
    expect([...plain.bytes[1]!]).toEqual([...encodeJson('n', 7)]);
    expect([...plain.bytes[2]!]).toEqual([...encodeJson('n', 8)]);
    expect(readOffset(opted.frames[1]!.payload)).toEqual({ hi: 0, lo: 1 });
    expect(decodeJson(opted.frames[1]!.payload.subarray(OFFSET_SIZE))).toBe(7);
    // Volatile: not logged, offset zero.
    expect(readOffset(opted.frames[2]!.payload)).toEqual({ hi: 0, lo: 0 });
    expect(h.getStats().recovery).toMatchObject({ absentSessions: 0, logEntries: 1, recovered: 0, failed: 0 });
  });

  it('a malformed recover field is a protocol error (1002); a stolen public id does not resume anything', async () => {
    const h = hub();
    const bad = raw(h);
    bad.send(encodeFrame(FrameType.CONNECT, '', new TextEncoder().encode('{"v":1,"recover":{"token":"short","offset":"0"}}')));
    await until(() => bad.closed.code !== undefined);
    expect(bad.closed.code).toBe(1002);
    expect(parseErrorBody(bad.frames[0]!.payload).code).toBe('BAD_PAYLOAD');

    // A client that asked for recovery sends no message before the answer (the counts would differ).
    h.use(async (_conn, next) => {
      await tick(20);
      await next();
    });
    const early = raw(h);
    early.send(encodeClientConnect(undefined, {}));
    early.send(encodeJson('up', 1));
    await until(() => early.closed.code !== undefined);
    expect(early.closed.code).toBe(1002);
    expect(parseErrorBody(early.frames[0]!.payload).code).toBe('PROTOCOL');

    const { c, cut } = client(h);
    await c.connect();
    const id = c.id!;
    cut();
    // Someone who knows the id (public: it is in every broadcast a handler makes about it) tries.
    const thief = raw(h);
    thief.send(encodeClientConnect(undefined, { token: `${id}AAAAAAAA`, offset: { hi: 0, lo: 0 } }));
    await until(() => thief.frames.length === 1);
    const answer = hello(thief.frames[0]);
    expect(answer.id).not.toBe(id);
    expect(parseRecoveryAnswer(answer)).toMatchObject({ recovered: false });
  });

  it('a hub with recovery refuses an adapter that overrides broadcast without a log of its own', () => {
    class Forwarding extends MemoryAdapter {
      override broadcast(frame: Uint8Array, target: Parameters<MemoryAdapter['broadcast']>[1]): void {
        super.broadcast(frame, target);
      }
    }
    expect(() => new Hub({ recovery: true, adapter: new Forwarding() })).toThrow(/does not support connection-state recovery/);
    expect(() => new Hub({ recovery: { maxMessages: -1 } })).toThrow(/recovery.maxMessages/);
  });
});

describe('connection-state recovery: a lost link', () => {
  it('the session waits (no onDisconnect), then comes back: same id, rooms, data; missed messages in order, then live; middleware runs again with conn.recovered', async () => {
    const h = hub();
    const seen: [string, boolean][] = [];
    h.use(async (conn, next) => {
      seen.push([conn.id, conn.recovered]);
      await next();
    });
    const connections: string[] = [];
    const disconnects: number[] = [];
    h.onConnection((conn) => {
      connections.push(conn.id);
      conn.data['user'] = 'ada';
      void conn.join('room');
    });
    h.onDisconnect((_c, code) => void disconnects.push(code));
    const { c, got, connected, away, back } = client(h);
    await c.connect();
    const id = c.id!;
    const conn = h.getConnection(id)!;
    h.to('room').emit('n', 1);
    await until(() => got.length === 1);
    away();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    expect(h.getConnection(id)).toBeUndefined();
    expect(conn.isOpen).toBe(false);
    expect(h.getStats().connections.open).toBe(0);
    // Messages while it is away: to its room, to its id, a direct emit.
    h.to('room').emit('n', 2);
    h.to(id).emit('n', 3);
    conn.emit('n', 4);
    h.to('elsewhere').emit('n', -1);
    h.except('room').emit('n', -2);
    back();
    await until(() => c.connected);
    h.to('room').emit('n', 5);
    await until(() => got.length === 5).catch((e) => {
      throw new Error(`${String(e)} got=${JSON.stringify(got)} connected=${JSON.stringify(connected)} stats=${JSON.stringify(h.getStats().recovery)}`);
    });
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(c.id).toBe(id);
    expect(h.getConnection(id)).toBe(conn);
    expect(conn.recovered).toBe(true);
    expect(conn.data['user']).toBe('ada');
    expect([...conn.rooms]).toEqual(['room']);
    expect(connected).toEqual([
      { id, recovered: false },
      { id, recovered: true },
    ]);
    expect(seen).toEqual([
      [id, false],
      [id, true],
    ]);
    expect(connections).toEqual([id]);
    expect(disconnects).toEqual([]);
    expect(h.getStats().recovery).toMatchObject({ absentSessions: 0, recovered: 1, failed: 0 });
    expect(h.getStats().connections).toMatchObject({ open: 1, total: 1 });
  });

  it('frames lost in the socket at the drop are replayed (server → client) and sent again (client → server), exactly once', async () => {
    const h = hub();
    const ups: number[] = [];
    h.on('up', (i) => void ups.push(i));
    h.onConnection((conn) => void conn.join('room'));
    const { c, got, cut } = client(h);
    await c.connect();
    for (let round = 0; round < 20; round++) {
      // Both directions in flight when the link dies: some frames of each are lost with it.
      for (let k = 0; k < 5; k++) {
        h.to('room').emit('n', round * 10 + k);
        c.emit('up', round * 10 + k);
      }
      cut(true);
      for (let k = 5; k < 10; k++) {
        h.to('room').emit('n', round * 10 + k);
        c.emit('up', round * 10 + k);
      }
      await until(() => c.connected && got.length === (round + 1) * 10 && ups.length === (round + 1) * 10);
    }
    const want = Array.from({ length: 200 }, (_, i) => i);
    expect(got).toEqual(want);
    expect(ups).toEqual(want);
    expect(h.getStats().recovery).toMatchObject({ recovered: 20, failed: 0 });
  });

  it('a retry request whose reply was lost is answered from the reply cache, not run twice; a handler still running answers after the resume', async () => {
    const h = hub();
    const runs = new Map<number, number>();
    h.on('work', (i) => {
      runs.set(i, (runs.get(i) ?? 0) + 1);
      return i * 2;
    });
    let release: (() => void) | undefined;
    h.on('slow', async (i) => {
      runs.set(i, (runs.get(i) ?? 0) + 1);
      await new Promise<void>((r) => (release = r));
      return i * 3;
    });
    const { c, cut, away, back } = client(h);
    await c.connect();
    // The reply to `work` is sent, then the link dies with it in flight.
    const conn = h.getConnection(c.id!)!;
    const link = linkOf(conn);
    const send = link.send.bind(link);
    let cutOnReply = true;
    (link as { send: typeof link.send }).send = (frame, volatile) => {
      const st = send(frame, volatile);
      if (cutOnReply && frame[4] === FrameType.ACK_RES) {
        cutOnReply = false;
        cut(true);
      }
      return st;
    };
    const answer = c.request('work', 21, { retry: true });
    expect(await answer).toBe(42);
    expect(runs.get(21)).toBe(1);
    // A request whose handler is still running when the link goes: its reply comes on the next link.
    const slow = c.request('slow', 5);
    await until(() => release !== undefined);
    away();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    release!();
    await tick(5);
    back();
    expect(await slow).toBe(15);
    expect(runs.get(5)).toBe(1);
  });

  it('past maxDisconnection the session ends (onDisconnect, code 1006) and the client is told it got a fresh one', async () => {
    const h = hub({ recovery: { maxDisconnection: 60 } });
    const disconnects: [string, number][] = [];
    h.onDisconnect((conn, code) => void disconnects.push([conn.id, code]));
    h.onConnection((conn) => void conn.join('room'));
    const { c, failed, connected, away, back } = client(h);
    await c.connect();
    const id = c.id!;
    away();
    await until(() => disconnects.length === 1, 3000);
    back();
    expect(disconnects).toEqual([[id, 1006]]);
    await until(() => connected.length === 2, 3000);
    expect(c.id).not.toBe(id);
    expect(failed).toEqual([{ id: c.id, previousId: id }]);
    expect(connected[1]).toEqual({ id: c.id, recovered: false });
    expect(h.getStats().recovery).toMatchObject({ absentSessions: 0, recovered: 0, failed: 1, expired: 1 });
  });

  it('a normal close, a server disconnect and a protocol error end the session at once', async () => {
    const h = hub();
    const codes: number[] = [];
    h.onDisconnect((_c, code) => void codes.push(code));
    const a = client(h);
    await a.c.connect();
    a.c.close();
    const b = client(h, { reconnect: false });
    await b.c.connect();
    h.getConnection(b.c.id!)!.disconnect(4100, 'bye');
    await until(() => codes.length === 2);
    expect(codes.sort()).toEqual([1000, 4100]);
    expect(h.getStats().recovery!.absentSessions).toBe(0);
  });

  it('the client resumes before the server saw its old link go: the old link is cut, nothing is lost', async () => {
    const h = hub();
    h.onConnection((conn) => void conn.join('room'));
    const { c, got } = client(h);
    await c.connect();
    const id = c.id!;
    const oldServerLink = linkOf(h.getConnection(id)!);
    // Only the client side notices: the server's link still looks open.
    const r = raw(h);
    h.to('room').emit('n', 1);
    await until(() => got.length === 1);
    const token = (c as unknown as { session: { resume: { token: string } } }).session.resume.token;
    r.send(encodeClientConnect(undefined, { token, offset: { hi: 0, lo: 0 } }));
    await until(() => r.frames.length >= 2);
    expect(hello(r.frames[0]).id).toBe(id);
    const answer = parseRecoveryAnswer(hello(r.frames[0]))!;
    expect(answer).toMatchObject({ recovered: true });
    // Every answer carries a new token; the one just used is no longer valid.
    expect(answer.token).not.toBe(token);
    const replay = raw(h);
    replay.send(encodeClientConnect(undefined, { token, offset: { hi: 0, lo: 0 } }));
    await until(() => replay.frames.length >= 1);
    expect(hello(replay.frames[0]).id).not.toBe(id);
    expect(parseRecoveryAnswer(hello(replay.frames[0]))).toMatchObject({ recovered: false });
    // Offset 0: the message already received on the old link is replayed on the new one.
    expect(decodeJson(r.frames[1]!.payload.subarray(OFFSET_SIZE))).toBe(1);
    expect(oldServerLink.send(encodeJson('n', 2), false)).toBe(SendStatus.CLOSED);
  });
});

describe('connection-state recovery: bounds', () => {
  it('a replay over maxMessages gives a fresh session (and the old one ends)', async () => {
    const h = hub({ recovery: { maxMessages: 3 } });
    const disconnects: number[] = [];
    h.onDisconnect((_c, code) => void disconnects.push(code));
    h.onConnection((conn) => void conn.join('room'));
    const { c, away, back, failed } = client(h);
    await c.connect();
    const id = c.id!;
    away();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    for (let i = 0; i < 4; i++) h.to('room').emit('n', i);
    back();
    await until(() => failed.length === 1, 3000);
    expect(c.id).not.toBe(id);
    expect(disconnects).toEqual([1006]);
  });

  it('maxSessions: past it the longest-absent session ends', async () => {
    const h = hub({ recovery: { maxSessions: 2 } });
    const ended: string[] = [];
    h.onDisconnect((conn) => void ended.push(conn.id));
    const rs = [raw(h), raw(h), raw(h)];
    const ids: string[] = [];
    for (const r of rs) {
      r.send(encodeClientConnect(undefined, {}));
      await until(() => r.frames.length === 1);
      ids.push(hello(r.frames[0]).id);
    }
    for (const r of rs) {
      r.cut();
      await tick(2);
    }
    await until(() => ended.length === 1);
    expect(ended).toEqual([ids[0]]);
    expect(h.getStats().recovery!.absentSessions).toBe(2);
  });

  it('maxLogBytes: the oldest entries go; a session that needs them gets a fresh one', async () => {
    const h = hub({ recovery: { maxLogBytes: 4096 } });
    h.onConnection((conn) => void conn.join('room'));
    const { c, away, back, failed } = client(h);
    await c.connect();
    away();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    for (let i = 0; i < 100; i++) h.to('room').emit('n', i);
    back();
    const s = h.getStats().recovery!;
    expect(s.logBytes).toBeLessThanOrEqual(4096);
    expect(s.logEntries).toBeLessThan(100);
    await until(() => failed.length === 1, 3000);
  });

  it('what an absent session holds is bounded by maxBytes: past it, it ends', async () => {
    const h = hub({ recovery: { maxBytes: 300 } });
    const ended: number[] = [];
    h.onDisconnect((_c, code) => void ended.push(code));
    const r = raw(h);
    r.send(encodeClientConnect(undefined, {}));
    await until(() => r.frames.length === 1);
    const conn = [...h.connections.values()][0] as Connection<Ev>;
    r.cut();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    // Requests to the absent client are kept for it, up to the bound.
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) pending.push(conn.request('work', i, { timeout: 5000 }).catch((e: { code: string }) => e.code));
    expect(h.getStats().recovery!.heldBytes).toBeLessThanOrEqual(300);
    await until(() => ended.length === 1);
    expect(await Promise.all(pending)).toContain('DISCONNECTED');
    expect(h.getStats().recovery).toMatchObject({ absentSessions: 0, heldBytes: 0 });
  });

  it('conn.disconnect() on an absent session ends it with that code', async () => {
    const h = hub();
    const codes: number[] = [];
    h.onDisconnect((_c, code) => void codes.push(code));
    const r = raw(h);
    r.send(encodeClientConnect(undefined, {}));
    await until(() => r.frames.length === 1);
    const conn = [...h.connections.values()][0] as Connection<Ev>;
    r.cut();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    conn.disconnect(4100, 'banned');
    await until(() => codes.length === 1);
    expect(codes).toEqual([4100]);
    expect(h.getStats().recovery).toMatchObject({ absentSessions: 0 });
  });

  it('drain ends absent sessions at once (1001); /metrics shows the gauges', async () => {
    const h = hub();
    const codes: number[] = [];
    h.onDisconnect((_c, code) => void codes.push(code));
    const r = raw(h);
    r.send(encodeClientConnect(undefined, {}));
    await until(() => r.frames.length === 1);
    r.cut();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    const text = h.metricsText();
    expect(text).toContain('stelar_recovery_absent_sessions 1');
    expect(text).toContain('stelar_recovery_log_bytes 0');
    expect(await h.drain({ timeout: 500 })).toBe(true);
    expect(codes).toEqual([1001]);
  });
});

/** A dialer to `h` while `reachable()`, counting the frame types its links wrote and delivered. */
function countingDialer(h: Hub<Ev>, reachable: () => boolean) {
  const sent = new Map<number, number>();
  const got = new Map<number, number>();
  const bump = (m: Map<number, number>, type: number): void => void m.set(type, (m.get(type) ?? 0) + 1);
  let cut: ((lose?: boolean) => void) | undefined;
  const dialer: Dialer = async (handler) => {
    if (!reachable()) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const pair = linkPair();
    pair.attachClient({
      ...handler,
      onFrame: (f, n) => {
        bump(got, f.type);
        handler.onFrame(f, n);
      },
    });
    pair.attachServer(h.accept(pair.server));
    const link = pair.client;
    const send = link.send.bind(link);
    (link as { send: typeof link.send }).send = (frame, volatile) => {
      const st = send(frame, volatile);
      if (st !== SendStatus.CLOSED && st !== SendStatus.DROPPED) bump(sent, frame[4]!);
      return st;
    };
    cut = pair.cut;
    return link;
  };
  return { dialer, sent: (t: number) => sent.get(t) ?? 0, got: (t: number) => got.get(t) ?? 0, cut: (lose = true) => cut!(lose) };
}

describe('connection-state recovery and the client’s failed attempts, connect() and counters', () => {
  it('a resume attempt that fails is a connect_error and the lastError; a connect() timeout ends that wait only; the next attempt resumes and resolves the other waits', async () => {
    const h = hub();
    h.on('work', (i) => i * 2);
    const { c, connected, away, back } = client(h);
    const errors: [string, { attempt: number; willRetry: boolean }][] = [];
    c.onLifecycle('connect_error', (err, info) => void errors.push([err.message, info]));
    await c.connect();
    const id = c.id!;
    away();
    await until(() => errors.length >= 2);
    expect(errors.slice(0, 2)).toEqual([
      ['connect ECONNREFUSED', { attempt: 1, willRetry: true }],
      ['connect ECONNREFUSED', { attempt: 2, willRetry: true }],
    ]);
    expect(c.lastError?.message).toBe('connect ECONNREFUSED');
    const pending = c.request('work', 4);
    await expect(c.connect({ timeout: 20 })).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('(last attempt: connect ECONNREFUSED)') });
    expect(['connecting', 'reconnecting']).toContain(c.state); // still trying
    const waiting = c.connect({ timeout: 0 });
    back();
    await waiting;
    expect(c.id).toBe(id);
    expect(connected.at(-1)).toEqual({ id, recovered: true });
    expect(await pending).toBe(8);
  });

  it('a resume the server fails (its middleware crashes: INTERNAL_ERROR, 1011) is a connect_error and retried; the next answer is a fresh session', async () => {
    const h = hub({ logger: false });
    let crash = false;
    h.use(async (conn, next) => {
      if (crash && conn.recovered) {
        crash = false;
        throw new Error('boom');
      }
      await next();
    });
    const { c, connected, failed, cut } = client(h);
    const errors: [string | undefined, boolean][] = [];
    c.onLifecycle('connect_error', (err, info) => void errors.push([(err as StelarError).code, info.willRetry]));
    await c.connect();
    const id = c.id!;
    crash = true;
    cut();
    await until(() => connected.length === 2);
    expect(errors).toEqual([['INTERNAL_ERROR', true]]);
    expect(failed).toEqual([{ id: c.id, previousId: id }]);
    expect(connected[1]).toEqual({ id: c.id, recovered: false });
  });

  it('NOT_STELAR on a resume attempt is still final: connect() rejects, requests kept for the resume fail, no more attempts', async () => {
    const h = hub();
    h.on('slow', () => new Promise<number>(() => undefined));
    let impostor = false;
    let dials = 0;
    let cut: (() => void) | undefined;
    let open: (() => void) | undefined;
    const gate = new Promise<void>((r) => (open = r));
    const dialer: Dialer = async (handler) => {
      dials++;
      if (impostor) await gate; // the test's connect() waits before the attempt ends
      const pair = linkPair();
      pair.attachClient(handler);
      if (impostor) pair.server.send(encodeJson('hello', 'not a Stelar server'), false);
      else {
        pair.attachServer(h.accept(pair.server));
        cut = () => pair.cut(true);
      }
      return pair.client;
    };
    const c = new ClientEngine<Ev>(dialer, { heartbeat: false, reconnect: { baseDelay: 1, maxDelay: 2 } });
    clients.push(c);
    const errors: [string | undefined, boolean][] = [];
    c.onLifecycle('connect_error', (err, info) => void errors.push([(err as StelarError).code, info.willRetry]));
    await c.connect();
    const slow = c.request('slow', 1).catch((e: StelarError) => e.code);
    await tick(5);
    impostor = true;
    cut!();
    await until(() => dials === 2);
    const waiting = c.connect({ timeout: 0 });
    open!();
    await expect(waiting).rejects.toMatchObject({ code: 'NOT_STELAR' });
    expect(await slow).toBe('DISCONNECTED');
    expect(errors).toEqual([['NOT_STELAR', false]]);
    await tick(10);
    expect([dials, c.state]).toEqual([2, 'disconnected']);
  });

  it('messagesSent / messagesReceived count each message once: frames sent again after a resume, a request asked again and its repeated answer are not counted twice', async () => {
    const h = hub();
    const ups: number[] = [];
    h.on('up', (i) => void ups.push(i));
    h.onConnection((conn) => void conn.join('room'));
    let release: (() => void) | undefined;
    h.on('slow', async (i) => {
      await new Promise<void>((r) => (release = r));
      return i * 3;
    });
    let reachable = true;
    const wire = countingDialer(h, () => reachable);
    const c = new ClientEngine<Ev>(wire.dialer, { heartbeat: false, reconnect: { baseDelay: 1, maxDelay: 2 } });
    clients.push(c);
    const got: number[] = [];
    c.on('n', (i) => void got.push(i));
    await c.connect();
    for (let round = 0; round < 10; round++) {
      // Five each way are lost with the link: replayed by the server, sent again by the client.
      for (let k = 0; k < 5; k++) {
        h.to('room').emit('n', round * 10 + k);
        c.emit('up', round * 10 + k);
      }
      wire.cut();
      for (let k = 5; k < 10; k++) {
        h.to('room').emit('n', round * 10 + k);
        c.emit('up', round * 10 + k);
      }
      await until(() => c.connected && got.length === (round + 1) * 10 && ups.length === (round + 1) * 10);
    }
    expect(wire.sent(FrameType.JSON)).toBeGreaterThanOrEqual(150); // 100 messages, 5 of each round written twice
    expect([c.messagesSent, c.messagesReceived]).toEqual([100, 100]);

    // A retry request whose handler ends while the client is away: the server keeps the answer and
    // sends it after the resume; the client asks again (same id) and the server answers again.
    const slow = c.request('slow', 5, { retry: true });
    await until(() => release !== undefined);
    expect(c.messagesSent).toBe(101);
    reachable = false;
    wire.cut();
    await until(() => h.getStats().recovery!.absentSessions === 1);
    release!();
    await tick(5);
    const acks = wire.got(FrameType.ACK_RES);
    const asks = wire.sent(FrameType.ACK_REQ);
    reachable = true;
    expect(await slow).toBe(15);
    await until(() => wire.got(FrameType.ACK_RES) === acks + 2);
    expect(wire.sent(FrameType.ACK_REQ)).toBe(asks + 1);
    await tick(10);
    expect([c.messagesSent, c.messagesReceived]).toEqual([101, 101]);
  });
});
