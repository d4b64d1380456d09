/**
 * The logger (issue 15 items 1 and 7): errors nobody listens to reach the logger, lifecycle lines
 * at their levels, pino's `(fields, message)` call order, `DEBUG`-style switches, a logger that
 * throws, and levels that are off cost nothing (no call at all).
 */
import { describe, expect, it, vi } from 'vitest';
import { consoleLogger, debugEnabled, LogSink } from '../src/logger';
import { decodeFrame, encodeJson } from '@stelar/codec-tcp';
import { Hub, StelarError, type Logger, type LogLevel } from '../src/index';
import { openSessions, useHubs } from './fixtures';
import { tick, until } from './memory-link';

const setup = useHubs();

/** A logger that records `[level, message, fields]`, the way pino would get them. */
function recorder() {
  const lines: [LogLevel, string, Record<string, unknown>][] = [];
  const at = (level: LogLevel) => (fields: Record<string, unknown>, message: string) => void lines.push([level, message, fields]);
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

describe('consoleLogger, debugEnabled, LogSink', () => {
  it('consoleLogger: one line per call with the namespace and key=value fields; an Error goes after the line; lower levels are dropped', () => {
    const out = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const log = consoleLogger('stelar:server', 'info', out);
    const err = new Error('boom');
    log.debug({ conn: 'a' }, 'not shown');
    log.info({ conn: 'a1', code: 1000, reason: undefined, room: { n: 1 } }, 'connection closed');
    log.error({ err, conn: 'a1' }, 'a handler of "chat" failed');
    expect(out.debug).not.toHaveBeenCalled();
    expect(out.info).toHaveBeenCalledWith('stelar:server connection closed conn=a1 code=1000 room={"n":1}');
    expect(out.error).toHaveBeenCalledWith('stelar:server a handler of "chat" failed conn=a1', err);
  });

  it('debugEnabled: the debug package’s convention (lists, *, -exclusions)', () => {
    expect(debugEnabled(undefined, 'stelar:server')).toBe(false);
    expect(debugEnabled('', 'stelar:server')).toBe(false);
    expect(debugEnabled('stelar:*', 'stelar:server')).toBe(true);
    expect(debugEnabled('stelar:*', 'stelar:client')).toBe(true);
    expect(debugEnabled('*', 'stelar:client')).toBe(true);
    expect(debugEnabled('express:*,stelar:server', 'stelar:server')).toBe(true);
    expect(debugEnabled('express:* stelar:server', 'stelar:client')).toBe(false);
    expect(debugEnabled('stelar:*,-stelar:client', 'stelar:client')).toBe(false);
    expect(debugEnabled('stelar', 'stelar:server')).toBe(false);
    expect(debugEnabled('stelar:serve.', 'stelar:server')).toBe(false);
  });

  it('LogSink: a level is undefined when off (false, a dropped consoleLogger level); a logger that throws is contained', () => {
    expect(new LogSink(false).error).toBeUndefined();
    expect(new LogSink(undefined).error).toBeUndefined();
    const sink = new LogSink(consoleLogger('x', 'warn', { debug() {}, info() {}, warn() {}, error() {} }));
    expect([sink.debug, sink.info]).toEqual([undefined, undefined]);
    expect(typeof sink.warn).toBe('function');
    const throwing = new LogSink({
      debug() {},
      info() {},
      warn() {},
      error() {
        throw new Error('disk full');
      },
    });
    expect(() => throwing.error!({}, 'x')).not.toThrow();
  });

  it('calls the logger as pino does: methods bound to the logger, fields first', () => {
    const seen: unknown[] = [];
    const pinoLike = {
      name: 'pino-like',
      debug(this: { name: string }, obj: object, msg: string) {
        seen.push([this.name, obj, msg]);
      },
      info() {},
      warn() {},
      error() {},
    };
    new LogSink(pinoLike).debug!({ conn: 'c1' }, 'connection accepted');
    expect(seen).toEqual([['pino-like', { conn: 'c1' }, 'connection accepted']]);
  });
});

describe('the hub’s logging', () => {
  it('without onError, failures of handlers, async handlers, onConnection and middleware are logged at error, with the error and the connection', async () => {
    const { lines, logger } = recorder();
    const { hub, client } = setup({ logger });
    hub.use(async (conn, next) => {
      if (conn.auth === 'crash') throw new Error('middleware broke');
      await next();
    });
    hub.onConnection(() => {
      throw new Error('onConnection broke');
    });
    hub.on('sync', () => {
      throw new Error('sync broke');
    });
    hub.on('async', async () => {
      await tick(1);
      throw new Error('async broke');
    });
    hub.on('answer', () => {
      throw new StelarError('NOT_FOUND', 'no such thing');
    });
    const c = client();
    await c.connect();
    c.emit('sync');
    await expect(c.request('async')).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    await expect(c.request('answer')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client({ auth: 'crash' }).connect()).rejects.toBeDefined();
    await until(() => lines.filter((l) => l[0] === 'error').length === 4);
    const errors = lines.filter((l) => l[0] === 'error').map(([, msg, f]) => [msg, (f['err'] as Error).message, typeof f['conn']]);
    expect(errors).toEqual([
      ['a listener failed', 'onConnection broke', 'string'],
      ['a handler of "sync" failed', 'sync broke', 'string'],
      ['the handler of request "async" failed', 'async broke', 'string'],
      ['connection middleware failed', 'middleware broke', 'string'],
    ]);
    // The StelarError was an answer: at debug only.
    expect(lines.some(([level, msg, f]) => level === 'debug' && f['code'] === 'NOT_FOUND' && msg.includes('error sent to the client'))).toBe(true);
  });

  it('with an onError listener the logger stays quiet about errors; a listener that throws is logged', async () => {
    const { lines, logger } = recorder();
    const { hub, client } = setup({ logger });
    let n = 0;
    hub.onError(() => {
      if (++n === 2) throw new Error('listener broke');
    });
    hub.on('x', () => {
      throw new Error('handler broke');
    });
    const c = client();
    await c.connect();
    c.emit('x');
    c.emit('x');
    await until(() => n === 2);
    await tick(5);
    expect(lines.filter((l) => l[0] === 'error').map((l) => [l[1], (l[2]['err'] as Error).message])).toEqual([['an onError listener failed', 'listener broke']]);
  });

  it('lifecycle: connection accepted and closed (with the code) at debug, drain start and end at info', async () => {
    const { lines, logger } = recorder();
    const { hub, client } = setup({ logger });
    const c = client();
    await c.connect();
    const id = c.id;
    c.close(4100, 'bye');
    await until(() => lines.some((l) => l[1] === 'connection closed'));
    await hub.drain({ timeout: 100 });
    expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual(['debug connection accepted', 'debug connection closed', 'info drain started', 'info drain finished']);
    expect(lines[0]![2]).toMatchObject({ conn: id, transport: 'mem' });
    expect(lines[1]![2]).toMatchObject({ conn: id, code: 4100, reason: 'bye', opened: true });
    expect(lines[3]![2]).toMatchObject({ inTime: true });
  });

  it('no per-message logging: a thousand events and requests make no logger call at any level', async () => {
    const { lines, logger } = recorder();
    const { hub, client } = setup({ logger });
    hub.on('e', () => undefined);
    hub.on('r', (n: number) => n);
    const c = client();
    await c.connect();
    const before = lines.length;
    for (let i = 0; i < 1000; i++) c.emit('e', i);
    for (let i = 0; i < 100; i++) await c.request('r', i);
    expect(lines.length).toBe(before);
  });

  it('the default logger is the console at warn and error: an unhandled failure prints, debug lines do not', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined);
    try {
      const { hub, client } = setup({ logger: undefined });
      hub.on('x', () => {
        throw new Error('visible by default');
      });
      const c = client();
      await c.connect();
      c.emit('x');
      await until(() => error.mock.calls.length > 0);
      expect(String(error.mock.calls[0]![0])).toMatch(/^stelar a handler of "x" failed conn=/);
      expect((error.mock.calls[0]![1] as Error).message).toBe('visible by default');
      expect(debug).not.toHaveBeenCalled();
    } finally {
      error.mockRestore();
      debug.mockRestore();
    }
  });
});

describe('micro-bench: the logger costs nothing per message', () => {
  /** Events/s through one hub (synchronous path: in-memory link, frames handed to onFrame directly). */
  function rate(logger: Logger | false | undefined, n: number): number {
    const hub = new Hub({ heartbeat: false, logger });
    hub.on('e', () => undefined);
    const { handler } = openSessions(hub, 1)[0]!;
    const bytes = encodeJson('e', { i: 1 });
    const frame = decodeFrame(bytes);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) handler.onFrame(frame, bytes.length);
    const ms = performance.now() - t0;
    void hub.dispose();
    return n / (ms / 1000);
  }

  it('events/s with no logger, the default (debug off) and DEBUG on (console at debug) are alike: the best of 7 runs of each at least 0.5× the best without a logger (a console call per message would be many times slower)', () => {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const debugOn = consoleLogger('stelar:server', 'debug', quiet);
    const runs: Record<string, number[]> = { none: [], default: [], debug: [] };
    const variants: [string, Logger | false | undefined][] = [
      ['none', false],
      ['default', undefined],
      ['debug', debugOn],
    ];
    for (const [, l] of variants) rate(l, 20_000);
    // Interleaved and rotated, so that JIT warm-up and a neighbour's load do not favour one variant.
    for (let r = 0; r < 7; r++) {
      for (let k = 0; k < 3; k++) {
        const [name, l] = variants[(r + k) % 3]!;
        runs[name]!.push(rate(l, 50_000));
      }
    }
    // The best run of each: load from other processes only ever slows a run down.
    const best = (xs: number[]) => Math.max(...xs);
    const none = best(runs['none']!);
    const byDefault = best(runs['default']!);
    const debug = best(runs['debug']!);
    console.info(`logger micro-bench, events/s: none ${Math.round(none)}, default ${Math.round(byDefault)} (${(byDefault / none).toFixed(2)}×), DEBUG on ${Math.round(debug)} (${(debug / none).toFixed(2)}×)`);
    expect(byDefault / none).toBeGreaterThan(0.5);
    expect(debug / none).toBeGreaterThan(0.5);
  });
});
