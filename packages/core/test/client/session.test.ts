import {
  decodeFrame,
  encodeAckError,
  encodeAckRequest,
  encodeAckResult,
  encodeError,
  encodeFrame,
  encodeJson,
  encodePing,
  encodeServerConnect,
  FrameType,
  parseAckRequest,
  parseAckResponse,
  parseRoomRequestId,
  type Frame,
} from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import type { ClientOptions } from '../../src/client/options';
import { ClientSession, type ClientSessionHost } from '../../src/client/session';
import type { StelarError } from '../../src/errors';
import { HandlerRegistry } from '../../src/registry';
import { SendStatus } from '../../src/link';
import { recordingLink } from '../fixtures';
import { tick, until } from '../memory-link';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => unknown;

function harness(opts: ClientOptions = {}) {
  const log: unknown[][] = [];
  const state = { closedForGood: false };
  const host: ClientSessionHost = {
    opened: (hello) => void log.push(['opened', hello.id]),
    refused: (err) => void log.push(['refused', err.code]),
    peerClosing: (info) => void log.push(['peerClosing', info]),
    error: (err: StelarError, event?: string) => void log.push(['error', err.code, event]),
    get closedForGood() {
      return state.closedForGood;
    },
  };
  const handlers = new HandlerRegistry<Fn, Fn>();
  const s = new ClientSession(handlers, { heartbeat: false, ...opts }, host);
  const hello = (maxFrame = 1 << 20) => decodeFrame(encodeServerConnect({ v: 1, id: 'sid', heartbeat: 0, maxFrame }));
  /** Attaches a new recording link and opens the session on it. */
  const connect = (maxFrame?: number) => {
    const rec = recordingLink();
    s.attach(rec.link);
    s.frame(hello(maxFrame));
    s.open({ v: 1, id: 'sid', heartbeat: 0, maxFrame: maxFrame ?? 1 << 20 });
    return rec;
  };
  const sentTypes = (rec: ReturnType<typeof recordingLink>) => rec.frames().map((f: Frame) => `${f.type}:${f.event}`);
  return { s, log, state, handlers, connect, sentTypes };
}

const settle = <T>(p: Promise<T>) => p.then((v) => ({ ok: true, v }), (e: { code?: string; message?: string }) => ({ ok: false, code: e.code, message: e.message }));

describe('ClientSession', () => {
  it('offline: emits and requests are queued (volatile dropped); on open, rooms are re-joined first, then the queue in order', async () => {
    const { s, connect, sentTypes } = harness();
    expect(s.emit('a', 1, undefined)).toBe(true);
    expect(s.emit('v', 1, { volatile: true })).toBe(false);
    const req = settle(s.request('ask', 2, {}));
    const joined = s.join('room');
    expect([s.queued, [...s.rooms]]).toEqual([2, ['room']]);
    const rec = connect();
    expect(sentTypes(rec)).toEqual([`${FrameType.JOIN}:room`, `${FrameType.JSON}:a`, `${FrameType.ACK_REQ}:ask`]);
    s.frame(decodeFrame(encodeAckResult(1, 'room', true)));
    s.frame(decodeFrame(encodeAckResult(2, 'ask', 'yes')));
    await joined;
    expect(await req).toEqual({ ok: true, v: 'yes' });
    expect([s.live, s.id, s.queued]).toEqual([true, 'sid', 0]);
  });

  it('a dropped link: retry requests go back to the front of the queue, others fail; rooms are re-joined on the next open', async () => {
    const { s, connect, sentTypes, state } = harness();
    connect();
    s.frame(decodeFrame(encodeAckResult(1, 'room', true))); // nothing pending with id 1: ignored
    const joined = s.join('room');
    const lost = settle(s.request('lost', 0, {}));
    const kept = settle(s.request('kept', 0, { retry: true }));
    s.emit('queued-later', 0, undefined);
    expect(s.detach(4100, 'restart')).toBe(true);
    expect(await lost).toEqual({ ok: false, code: 'DISCONNECTED', message: 'connection closed (4100: restart)' });
    s.emit('offline', 0, undefined);
    expect(s.queued).toBe(2);
    const second = connect();
    expect(sentTypes(second)).toEqual([`${FrameType.JOIN}:room`, `${FrameType.ACK_REQ}:kept`, `${FrameType.JSON}:offline`]);
    const [join, again] = second.frames();
    s.frame(decodeFrame(encodeAckResult(parseRoomRequestId(join!.payload)!, 'room', true)));
    s.frame(decodeFrame(encodeAckResult(parseAckRequest(again!.payload).id, 'kept', 'ok')));
    await joined;
    expect(await kept).toEqual({ ok: true, v: 'ok' });
    state.closedForGood = true;
    const noRetry = settle(s.request('x', 0, { retry: true }));
    s.detach(1000, '');
    expect(await noRetry).toMatchObject({ ok: false, code: 'DISCONNECTED' });
  });

  it('stop(): queued requests fail with DISCONNECTED, pending joins with the reason; closed for good, nothing more is queued', async () => {
    const { s, state } = harness();
    const queued = settle(s.request('q', 0, {}));
    const joining = settle(s.join('room'));
    state.closedForGood = true;
    s.stop(new Error('client closed'));
    expect(await queued).toEqual({ ok: false, code: 'DISCONNECTED', message: 'client disconnected' });
    expect(await joining).toMatchObject({ ok: false, message: 'client closed' });
    expect(s.emit('e', 1, undefined)).toBe(false);
    expect(await settle(s.request('late', 0, {}))).toMatchObject({ ok: false, code: 'DISCONNECTED', message: 'client is closed' });
    expect([s.queued, s.rooms.size]).toEqual([0, 0]);
  });

  it('frames: PING is answered; ERROR is a refusal before the session, an error after; DISCONNECT goes to the host; violations close 1002', () => {
    const { s, log } = harness();
    const rec = recordingLink();
    s.attach(rec.link);
    s.frame(decodeFrame(encodeError('UNAUTHORIZED', 'no')));
    s.frame(decodeFrame(encodePing(new Uint8Array([1]))));
    expect(rec.frames().map((f) => f.type)).toEqual([FrameType.PONG]);
    s.frame(decodeFrame(encodeServerConnect({ v: 1, id: 'sid', heartbeat: 0, maxFrame: 100 })));
    s.open({ v: 1, id: 'sid', heartbeat: 0, maxFrame: 100 });
    s.frame(decodeFrame(encodeError('NOPE', 'x', 'chat')));
    s.frame(decodeFrame(encodeFrame(FrameType.DISCONNECT, '', new TextEncoder().encode('{"code":4100,"reason":"r"}'))));
    expect(log).toEqual([
      ['refused', 'UNAUTHORIZED'],
      ['opened', 'sid'],
      ['error', 'NOPE', 'chat'],
      ['peerClosing', { code: 4100, reason: 'r' }],
    ]);
    s.frame(decodeFrame(encodeServerConnect({ v: 1, id: 'again', heartbeat: 0, maxFrame: 100 })));
    s.frame(decodeFrame(encodeFrame(FrameType.JOIN, 'room', new Uint8Array())));
    expect(rec.calls).toEqual(['close 1002 duplicate CONNECT', `close 1002 unexpected frame type ${FrameType.JOIN} from the server`]);
  });

  it('server requests are answered on the link they came by, never on a later one', async () => {
    const { s, handlers, connect } = harness();
    let release!: (v: string) => void;
    handlers.on('ask', () => new Promise<string>((r) => (release = r)));
    handlers.on('now', (x: number) => x * 2);
    const first = connect();
    s.frame(decodeFrame(encodeAckRequest(7, 'now', 21)));
    s.frame(decodeFrame(encodeAckRequest(8, 'ask', 0)));
    s.frame(decodeFrame(encodeAckRequest(9, 'none', 0)));
    const answers = () => first.frames().filter((f) => f.type === FrameType.ACK_RES).map((f) => parseAckResponse(f.payload));
    expect(answers().map((a) => [a.id, a.ok])).toEqual([
      [7, true],
      [9, false],
    ]);
    s.detach(1006, '');
    const second = connect();
    release('late');
    await tick(1);
    expect(second.frames().some((f) => f.type === FrameType.ACK_RES)).toBe(false);
    expect(answers()).toHaveLength(2);
  });

  it('answers that do not decode reject their request (BAD_PAYLOAD, BAD_JSON) and the link stays', async () => {
    const { s, connect } = harness();
    const rec = connect();
    const a = settle(s.request('a', 0, {}));
    const b = settle(s.request('b', 0, {}));
    const c = settle(s.request('c', 0, {}));
    s.frame(decodeFrame(encodeFrame(FrameType.ACK_RES, 'a', new Uint8Array([0, 0, 0, 1, 1, 0x5b, 0x5d])))); // error body []
    s.frame(decodeFrame(encodeFrame(FrameType.ACK_RES, 'b', new Uint8Array([0, 0, 0, 2, 0, 0x7b])))); // result {
    s.frame(decodeFrame(encodeAckError(3, 'c', 'NOPE', 'no')));
    expect(await a).toMatchObject({ ok: false, code: 'BAD_PAYLOAD' });
    expect(await b).toMatchObject({ ok: false, code: 'BAD_JSON' });
    expect(await c).toMatchObject({ ok: false, code: 'NOPE', message: 'no' });
    expect(rec.calls).toEqual([]);
  });

  it('events: handlers get the data only; data that is not JSON is an error (an error answer to a request)', () => {
    const { s, handlers, connect, log } = harness();
    const got: unknown[][] = [];
    handlers.on('chat', (...a: unknown[]) => void got.push(a));
    const rec = connect();
    s.frame(decodeFrame(encodeJson('chat', { t: 1 })));
    s.frame(decodeFrame(encodeFrame(FrameType.JSON, 'chat', new TextEncoder().encode('{'))));
    const bad = encodeAckRequest(4, 'chat', 0);
    bad[bad.length - 1] = 0x7b;
    s.frame(decodeFrame(bad));
    expect(got).toEqual([[{ t: 1 }]]);
    expect(log.at(-1)).toEqual(['error', 'BAD_JSON', 'chat']);
    expect(parseAckResponse(rec.frames().at(-1)!.payload)).toMatchObject({ id: 4, ok: false });
  });

  it('frames above the server’s limit: emit throws FRAME_TOO_LARGE; a queued one is reported at flush and not sent', () => {
    const { s, connect, sentTypes } = harness();
    connect(64);
    expect(() => s.emit('big', 'x'.repeat(100), undefined)).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    s.detach(1006, '');
    expect(() => s.emit('big', 'x'.repeat(100), undefined)).toThrow(); // the last limit still applies while offline
    expect(s.queued).toBe(0);
    const fresh = harness();
    fresh.s.emit('big', 'x'.repeat(100), undefined); // no limit known yet: queued
    const rec = fresh.connect(64);
    expect(fresh.sentTypes(rec)).toEqual([]);
    void sentTypes;
    expect(fresh.log.at(-1)).toEqual(['error', 'FRAME_TOO_LARGE', undefined]);
  });

  it('heartbeat: a PING after `interval` of silence, the link terminated after `interval + timeout`', async () => {
    const { s, connect } = harness({ heartbeat: { interval: 30, timeout: 30 } });
    const rec = connect();
    s.startHeartbeat(0);
    await until(() => rec.frames().some((f) => f.type === FrameType.PING), 1000);
    await until(() => rec.calls.includes('terminate'), 1000);
    expect(rec.frames().filter((f) => f.type === FrameType.PING)).toHaveLength(1);
    s.stopHeartbeat();
  });
});

describe('ClientSession: retried requests and a full queue', () => {
  it('requests put back in the queue after a drop evict older items as any push does; an evicted request fails with QUEUE_FULL', async () => {
    const { s, connect } = harness({ queue: { maxMessages: 2 } });
    connect();
    const first = settle(s.request('first', 0, { retry: true }));
    const second = settle(s.request('second', 0, { retry: true }));
    const third = settle(s.request('third', 0, { retry: true }));
    s.detach(1006, '');
    expect(await first).toEqual({ ok: false, code: 'QUEUE_FULL', message: 'dropped from the full offline queue' });
    expect(s.queued).toBe(2);
    s.stop(new Error('end'));
    expect(await second).toMatchObject({ ok: false, code: 'DISCONNECTED' });
    expect(await third).toMatchObject({ ok: false, code: 'DISCONNECTED' });
  });
});

describe('ClientSession: the message counter', () => {
  it('messagesSent counts events, requests, replies, joins and leaves the link took: queued ones when flushed, dropped volatile ones and closed links not', async () => {
    let status: SendStatus = SendStatus.OK;
    const { s, handlers } = harness();
    handlers.on('ask', (n: number) => n + 1);
    s.emit('offline', 1, undefined);
    void s.join('room').catch(() => undefined);
    expect(s.messagesSent).toBe(0); // queued, not sent
    const rec = recordingLink({ status: () => status });
    s.attach(rec.link);
    s.frame(decodeFrame(encodeServerConnect({ v: 1, id: 'sid', heartbeat: 0, maxFrame: 1 << 20 })));
    s.open({ v: 1, id: 'sid', heartbeat: 0, maxFrame: 1 << 20 });
    expect(s.messagesSent).toBe(2); // the JOIN, then the queued event
    s.emit('live', 1, undefined);
    const req = settle(s.request('sum', 1, {}));
    status = SendStatus.DROPPED;
    expect(s.emit('volatile', 1, { volatile: true })).toBe(false);
    status = SendStatus.BUFFERED;
    expect(s.emit('buffered', 1, undefined)).toBe(true);
    status = SendStatus.OK;
    expect(s.messagesSent).toBe(5);
    s.frame(decodeFrame(encodeAckRequest(7, 'ask', 1))); // answered: one more
    s.frame(decodeFrame(encodeAckResult(2, 'sum', 3))); // the reply to the request (id 2: the JOIN took 1)
    s.frame(decodeFrame(encodePing())); // answered with a PONG: not counted
    expect(await req).toEqual({ ok: true, v: 3 });
    expect(s.messagesSent).toBe(6);
    status = SendStatus.CLOSED;
    s.emit('closing', 1, undefined); // the link is closing: queued instead
    expect(s.messagesSent).toBe(6);
    expect(rec.frames().map((f) => f.type)).toEqual([
      FrameType.JOIN, FrameType.JSON, FrameType.JSON, FrameType.ACK_REQ, FrameType.JSON, FrameType.JSON, FrameType.ACK_RES, FrameType.PONG, FrameType.JSON,
    ]);
  });

  it('a retry request sent again in a new session counts once; a reply that answers no waiting request (late, or the same again) is not counted', async () => {
    const { s, connect } = harness();
    connect();
    const req = settle(s.request('sum', 1, { retry: true }));
    expect(s.messagesSent).toBe(1);
    s.detach(1006, '');
    const rec = connect(); // a new session: the request goes again, ahead of anything else
    expect(rec.frames().map((f) => f.type)).toEqual([FrameType.ACK_REQ]);
    expect(s.messagesSent).toBe(1);
    const { id } = parseAckRequest(rec.frames()[0]!.payload);
    s.frame(decodeFrame(encodeAckResult(id, 'sum', 2)));
    s.frame(decodeFrame(encodeAckResult(id, 'sum', 2))); // the same answer again
    s.frame(decodeFrame(encodeAckResult(99, 'other', 0))); // nothing waits for it
    expect(await req).toEqual({ ok: true, v: 2 });
    s.frame(decodeFrame(encodeJson('news', 1)));
    expect([s.messagesSent, s.messagesReceived]).toEqual([1, 2]);
  });
});
