import { FrameType, parseAckResponse, parseErrorBody } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '../src/adapter';
import { markOpen } from '../src/connection-access';
import { StelarError } from '../src/errors';
import { HubContext } from '../src/hub-context';
import { hubSettings } from '../src/hub-options';
import { Metrics } from '../src/metrics';
import { ServerSession } from '../src/session';
import { inertHost, recordingLink } from './fixtures';

const host = inertHost('n1');

function context() {
  const ctx = new HubContext('n1', new MemoryAdapter(), new Metrics(() => 0), hubSettings({}), { logger: false });
  const errors: [string, string | undefined][] = [];
  ctx.callbacks.error.push((err, conn) => void errors.push([(err as Error).message, conn?.id]));
  const session = (open = true) => {
    const rec = recordingLink();
    const s = new ServerSession(rec.link, host, `c${Math.random()}`, 0);
    if (open) markOpen(s.conn);
    return { s, ...rec };
  };
  return { ctx, errors, session };
}

describe('HubContext', () => {
  it('handlerFailed: counted by code, reported to onError, and told to the client (ERROR) only about its event while open', () => {
    const { ctx, errors, session } = context();
    const open = session();
    ctx.handlerFailed(Object.assign(new Error('bad secret'), { code: 'ENOENT' }), open.s, 'chat');
    ctx.handlerFailed(new StelarError('MY_CODE', 'meant for the client'), open.s, 'chat');
    ctx.handlerFailed(new Error('listener'), open.s, undefined);
    ctx.handlerFailed(new StelarError('MY_CODE', 'from a listener'), open.s, undefined);
    const opening = session(false);
    ctx.handlerFailed(new Error('early'), opening.s, 'chat');
    expect(ctx.metrics.errors).toEqual({ INTERNAL_ERROR: 3, MY_CODE: 2 });
    // A StelarError answering its event is the application's answer, not a failure.
    expect(errors).toEqual([
      ['bad secret', open.s.conn.id],
      ['listener', open.s.conn.id],
      ['from a listener', open.s.conn.id],
      ['early', opening.s.conn.id],
    ]);
    const sent = open.frames();
    expect(sent.map((f) => [f.type, f.event, parseErrorBody(f.payload)])).toEqual([
      [FrameType.ERROR, 'chat', { code: 'INTERNAL_ERROR', message: 'internal server error' }],
      [FrameType.ERROR, 'chat', { code: 'MY_CODE', message: 'meant for the client' }],
    ]);
    expect(opening.sent).toHaveLength(0);
  });

  it('report and notify: errors without a client to tell; a throwing error listener does not stop the others', () => {
    const { ctx, errors, session } = context();
    ctx.callbacks.error.unshift(() => {
      throw new Error('listener broke');
    });
    ctx.report(new Error('no conn'));
    const { s, sent } = session();
    const seen: unknown[][] = [];
    ctx.notify(s, [(...a: unknown[]) => void seen.push(a), () => Promise.reject(new Error('async listener'))], 4100, 'bye');
    return Promise.resolve().then(() => {
      expect(seen).toEqual([[s.conn, 4100, 'bye']]);
      expect(errors).toEqual([
        ['no conn', undefined],
        ['async listener', s.conn.id],
      ]);
      expect(sent).toHaveLength(0);
    });
  });

  it('reply: an ACK_RES while open; a result JSON cannot encode is answered HANDLER_ERROR and reported', () => {
    const { ctx, errors, session } = context();
    const { s, frames } = session();
    ctx.reply(s, 3, 'sum', true, 5);
    ctx.reply(s, 4, 'sum', true, 5n);
    ctx.reply(s, 5, 'sum', false, { code: 'NOPE', message: 'no' });
    const answers = frames().map((f) => parseAckResponse(f.payload));
    expect(answers.map((a) => [a.id, a.ok])).toEqual([
      [3, true],
      [4, false],
      [5, false],
    ]);
    expect(ctx.metrics.errors['HANDLER_ERROR']).toBe(1);
    expect(errors).toHaveLength(1);
    const closed = session(false);
    ctx.reply(closed.s, 1, 'sum', true, 1);
    expect(closed.sent).toHaveLength(0);
  });

  it('waitFor: at once when the condition holds, on poke when it comes true, false at the deadline or on release', async () => {
    const { ctx } = context();
    let n = 2;
    await expect(ctx.waitFor(() => true, Infinity)).resolves.toBe(true);
    const zero = ctx.waitFor(() => n === 0, Infinity);
    n = 1;
    ctx.poke();
    n = 0;
    ctx.poke();
    await expect(zero).resolves.toBe(true);
    await expect(ctx.waitFor(() => false, performance.now() + 20)).resolves.toBe(false);
    const never = ctx.waitFor(() => false, Infinity);
    ctx.releaseWaiters();
    await expect(never).resolves.toBe(false);
  });
});
