// The browser client's surface is core's ClientEngine's (the engine in src/engine.ts is a
// separate, smaller implementation), and the <script> bundle's global is the package's exports.
import { describe, expect, it } from 'vitest';
import type { ClientEngine } from '@stelar/core';
import * as pkg from '../src/index';

/**
 * Every public member of core's ClientEngine. The type makes this list exact: a member added to
 * ClientEngine fails the typecheck here until the browser engine has it too.
 */
const MEMBERS: Record<keyof ClientEngine, 'method' | 'value'> = {
  state: 'value',
  id: 'value',
  connected: 'value',
  queued: 'value',
  rooms: 'value',
  connect: 'method',
  close: 'method',
  on: 'method',
  once: 'method',
  off: 'method',
  onAny: 'method',
  offAny: 'method',
  onLifecycle: 'method',
  emit: 'method',
  request: 'method',
  join: 'method',
  leave: 'method',
};

describe('the browser client has the API of core ClientEngine', () => {
  it('every member, with the same kind and initial values', () => {
    const c = pkg.createClient('ws://127.0.0.1:9/');
    for (const [name, kind] of Object.entries(MEMBERS)) {
      expect(name in c, name).toBe(true);
      expect(typeof (c as unknown as Record<string, unknown>)[name] === 'function', name).toBe(kind === 'method');
    }
    expect([c.state, c.id, c.connected, c.queued, [...c.rooms]]).toEqual(['idle', undefined, false, 0, []]);
    expect(c.url).toBe('ws://127.0.0.1:9/');
    expect(c).toBeInstanceOf(pkg.StelarClient);
    // The chaining methods return the client itself.
    const fn = (): void => undefined;
    expect(c.on('a', fn).once('b', fn).off('a', fn).onAny(fn).offAny(fn)).toBe(c);
  });

  it('the package re-exports core\'s StelarError, ErrorCode and DisconnectCode (one class, one table)', async () => {
    const core = await import('@stelar/core');
    expect(pkg.StelarError).toBe(core.StelarError);
    expect(pkg.ErrorCode).toBe(core.ErrorCode);
    expect(pkg.DisconnectCode).toBe(core.DisconnectCode);
    expect(new pkg.DialError('WS_DIAL_FAILED', 'x')).toBeInstanceOf(core.StelarError);
  });
});

describe('the <script> bundle\'s global', () => {
  it('is the package\'s runtime exports, nothing more or less', async () => {
    const g = globalThis as { Stelar?: Record<string, unknown> };
    delete g.Stelar;
    await import('../src/global');
    expect(Object.keys(g.Stelar!).sort()).toEqual(Object.keys(pkg).sort());
    for (const [k, v] of Object.entries(pkg)) expect(g.Stelar![k], k).toBe(v);
    delete g.Stelar;
  });
});
