import { FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { dispatchEvent, eventData, guard, type DispatchHost } from '../src/dispatch';
import { HandlerRegistry } from '../src/registry';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => unknown;

/** A host that records what the dispatch reports. */
function host(catchAllEvent: boolean) {
  const log: unknown[][] = [];
  const h: DispatchHost<string> = {
    catchAllEvent,
    handlerFailed: (err, ctx, event) => void log.push(['failed', (err as Error).message, ctx, event]),
    noHandler: (ctx, id, event) => void log.push(['noHandler', ctx, id, event]),
    requestStarted: (ctx) => void log.push(['started', ctx]),
    requestDone: (ctx, id, event, ok, value) => void log.push(['done', ctx, id, event, ok, value]),
  };
  return { h, log };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('dispatchEvent (shared by the hub and the client engine)', () => {
  it('runs catch-alls first, then the handlers in order, with the side argument when there is one', () => {
    const reg = new HandlerRegistry<Fn, Fn>();
    const calls: unknown[][] = [];
    reg.onAny((...a) => void calls.push(['any', ...a]));
    reg.on('chat', (...a) => void calls.push(['h1', ...a]));
    reg.on('chat', (...a) => void calls.push(['h2', ...a]));
    const { h, log } = host(false);
    dispatchEvent(reg, h, 'ctx', 'CONN', 'chat', { t: 1 }, 0, false);
    expect(calls).toEqual([
      ['any', 'chat', { t: 1 }, 'CONN'],
      ['h1', { t: 1 }, 'CONN'],
      ['h2', { t: 1 }, 'CONN'],
    ]);
    // Without a side argument (the client), handlers get the data only.
    calls.length = 0;
    dispatchEvent(reg, h, 'ctx', undefined, 'chat', 7, 0, false);
    expect(calls).toEqual([['any', 'chat', 7], ['h1', 7], ['h2', 7]]);
    expect(log).toEqual([]);
  });

  it('a request: the first handler answers (sync or async), the others run too; no handler is reported', async () => {
    const reg = new HandlerRegistry<Fn, Fn>();
    const others: number[] = [];
    reg.on('sum', (x: { a: number; b: number }) => x.a + x.b);
    reg.on('sum', () => void others.push(1));
    reg.on('later', async () => 'async');
    const { h, log } = host(false);
    dispatchEvent(reg, h, 'c', undefined, 'sum', { a: 2, b: 3 }, 9, true);
    dispatchEvent(reg, h, 'c', undefined, 'later', null, 10, true);
    dispatchEvent(reg, h, 'c', undefined, 'none', null, 11, true);
    dispatchEvent(reg, h, 'c', undefined, 'none', null, 0, false); // an event without handlers: nothing
    await tick();
    expect(others).toEqual([1]);
    expect(log).toEqual([
      ['started', 'c'],
      ['done', 'c', 9, 'sum', true, 5],
      ['started', 'c'],
      ['noHandler', 'c', 11, 'none'],
      ['done', 'c', 10, 'later', true, 'async'],
    ]);
  });

  it('a throwing or rejecting first handler answers with its error; the other handlers still run', async () => {
    const reg = new HandlerRegistry<Fn, Fn>();
    const ran: string[] = [];
    reg.on('a', () => {
      throw new Error('sync');
    });
    reg.on('a', () => void ran.push('second'));
    reg.on('b', async () => {
      throw new Error('async');
    });
    const { h, log } = host(false);
    dispatchEvent(reg, h, 'c', undefined, 'a', null, 1, true);
    dispatchEvent(reg, h, 'c', undefined, 'b', null, 2, true);
    await tick();
    expect(ran).toEqual(['second']);
    expect(log.map((l) => [l[0], l[2], l[4], (l[5] as Error | undefined)?.message])).toEqual([
      ['started', undefined, undefined, undefined],
      ['done', 1, false, 'sync'],
      ['started', undefined, undefined, undefined],
      ['done', 2, false, 'async'],
    ]);
  });

  it('failures of event handlers carry the event; of catch-alls only when the host asks (the client does, the hub not)', async () => {
    for (const catchAllEvent of [false, true]) {
      const reg = new HandlerRegistry<Fn, Fn>();
      reg.onAny(() => {
        throw new Error('any');
      });
      reg.on('e', async () => {
        throw new Error('handler');
      });
      const { h, log } = host(catchAllEvent);
      dispatchEvent(reg, h, 'c', 'x', 'e', null, 0, false);
      await tick();
      expect(log).toEqual([
        ['failed', 'any', 'c', catchAllEvent ? 'e' : undefined],
        ['failed', 'handler', 'c', 'e'],
      ]);
    }
  });

  it('once handlers run for one dispatch only', () => {
    const reg = new HandlerRegistry<Fn, Fn>();
    let n = 0;
    reg.on('e', () => void n++, true);
    const { h } = host(false);
    dispatchEvent(reg, h, 'c', undefined, 'e', null, 0, false);
    dispatchEvent(reg, h, 'c', undefined, 'e', null, 0, false);
    expect(n).toBe(1);
  });
});

describe('guard', () => {
  it('passes one, two or three arguments as given and reports throws and rejections', async () => {
    const { h, log } = host(false);
    const seen: unknown[][] = [];
    const fn = (...a: unknown[]) => void seen.push(a);
    guard(h, 'c', undefined, fn, 1);
    guard(h, 'c', undefined, fn, 1, 2);
    guard(h, 'c', undefined, fn, 1, 2, 3);
    expect(seen).toEqual([[1], [1, 2], [1, 2, 3]]);
    guard(h, 'c', 'ev', () => {
      throw new Error('boom');
    }, 0);
    guard(h, 'c', undefined, () => Promise.reject(new Error('later')), 0);
    await tick();
    expect(log).toEqual([
      ['failed', 'boom', 'c', 'ev'],
      ['failed', 'later', 'c', undefined],
    ]);
  });
});

describe('eventData', () => {
  it('BINARY payloads are the bytes; JSON payloads are decoded (a bad one throws BAD_JSON)', () => {
    const bytes = new Uint8Array([1, 2]);
    expect(eventData(FrameType.BINARY, bytes)).toBe(bytes);
    expect(eventData(FrameType.JSON, new TextEncoder().encode('{"a":[1]}'))).toEqual({ a: [1] });
    expect(eventData(FrameType.ACK_REQ, new Uint8Array())).toBeUndefined();
    expect(() => eventData(FrameType.JSON, new TextEncoder().encode('{'))).toThrow(expect.objectContaining({ code: 'BAD_JSON' }));
  });
});
