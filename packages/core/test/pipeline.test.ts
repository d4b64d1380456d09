import { decodeFrame, encodeDisconnect, encodeError, encodeJson, encodePing, FrameType, parseErrorBody } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { linkOf } from '../src/connection-access';
import { Hub } from '../src/index';
import { openSessions, useHubs } from './fixtures';
import { tick, until } from './memory-link';

const setup = useHubs();

describe('the inbound pipeline', () => {
  it('frames other than CONNECT, PING and DISCONNECT before CONNECT are a protocol error (ERROR PROTOCOL, 1002)', async () => {
    const { hub, raw } = setup();
    for (const frame of [encodeJson('chat', 1), encodeError('NOPE', 'early')]) {
      const r = raw();
      r.send(frame);
      await until(() => r.closed.code !== undefined);
      expect(r.closed.code).toBe(1002);
      expect(parseErrorBody(r.frames[0]!.payload)).toEqual({ code: 'PROTOCOL', message: 'CONNECT first' });
    }
    const pinger = raw();
    pinger.send(encodePing(new Uint8Array([7])));
    await until(() => pinger.frames.length === 1);
    expect([pinger.frames[0]!.type, [...pinger.frames[0]!.payload]]).toEqual([FrameType.PONG, [7]]);
    expect(hub.getStats().errors['PROTOCOL']).toBe(2);
  });

  it('DISCONNECT: a code a client may send closes 1000 with its reason; another code is a protocol error (1002)', async () => {
    const { hub, raw } = setup();
    const codes: [number, string][] = [];
    hub.onDisconnect((_c, code, reason) => void codes.push([code, reason]));
    const good = raw();
    good.hello();
    await until(() => good.frames.length === 1);
    good.send(encodeDisconnect(4100, 'done'));
    await until(() => good.closed.code !== undefined);
    expect(good.closed).toEqual({ code: 1000, reason: 'done' });
    const bad = raw();
    bad.send(encodeDisconnect(99999, 'x'));
    await until(() => bad.closed.code !== undefined);
    expect(bad.closed.code).toBe(1002);
    expect(hub.getStats().errors['PROTOCOL']).toBe(1);
    expect(codes).toEqual([[1000, 'done']]);
  });

  it('an ERROR from a client is counted under a fixed peer: label, never under its own code', async () => {
    const { hub, raw } = setup();
    const r = raw();
    r.hello();
    await until(() => r.frames.length === 1);
    r.send(encodeError('BAD_JSON', 'x'));
    r.send(encodeError('MADE_UP_' + 'x'.repeat(100), 'x'));
    await until(() => hub.getStats().errors['peer:other'] === 1);
    expect(hub.getStats().errors).toEqual({ 'peer:BAD_JSON': 1, 'peer:other': 1 });
  });

  it('a codec error reported by the transport answers ERROR and closes with its code; the hub’s verdict is what onDisconnect sees', async () => {
    const hub = new Hub({ heartbeat: false });
    const codes: number[] = [];
    hub.onDisconnect((_c, code) => codes.push(code));
    const [s] = openSessions(hub, 1);
    s!.handler.onProtocolError({ code: 'FRAME_TOO_LARGE', message: 'too big', closeCode: 1009 });
    expect(s!.calls).toContain('close 1009 too big');
    expect(decodeFrame(s!.sent.at(-1)!.frame).type).toBe(FrameType.ERROR);
    s!.handler.onClose(1000, 'the peer says otherwise', true);
    expect(codes).toEqual([1009]);
    expect(hub.getStats().errors['FRAME_TOO_LARGE']).toBe(1);
    await hub.dispose();
  });

  it('frames wait in order behind an async step; at maxQueuedFrames the link is paused, and resumed when the queue drains', async () => {
    const hub = new Hub({ heartbeat: false, maxQueuedFrames: 3 });
    let release!: () => void;
    hub.useEvent(async (ctx, next) => {
      if (ctx.data === 'block') await new Promise<void>((r) => (release = r));
      await next();
    });
    const got: unknown[] = [];
    hub.on('e', (d) => void got.push(d));
    const [s] = openSessions(hub, 1);
    const frame = (d: unknown) => decodeFrame(encodeJson('e', d));
    s!.handler.onFrame(frame('block'), 10);
    for (let i = 0; i < 3; i++) s!.handler.onFrame(frame(i), 10);
    expect(s!.calls.filter((c) => c === 'pause')).toHaveLength(1);
    await until(() => release !== undefined);
    release();
    await until(() => got.length === 4);
    expect(got).toEqual(['block', 0, 1, 2]);
    expect(s!.calls.filter((c) => c === 'resume')).toHaveLength(1);
    expect(hub.getStats().messages.in).toBe(5); // CONNECT and the four events
    expect(linkOf(s!.conn)).toBe(s!.link);
    await hub.dispose();
  });

  it('frames after the close started are counted but not handled', async () => {
    const hub = new Hub({ heartbeat: false });
    let n = 0;
    hub.on('e', () => void n++);
    const [s] = openSessions(hub, 1);
    s!.conn.disconnect();
    s!.handler.onFrame(decodeFrame(encodeJson('e', 1)), 10);
    await tick(1);
    expect(n).toBe(0);
    expect(hub.getStats().messages.in).toBe(2);
    await hub.dispose();
  });
});
