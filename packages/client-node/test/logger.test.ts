/** The Node client's logger (issue 15 item 7): the application's, or the console when DEBUG switches on stelar:client. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from '@stelar/server';
import { clientLogger, connect, type Logger } from '../src/index';
import { clientLogger as fromModule } from '../src/client';

afterEach(() => vi.restoreAllMocks());

describe('client logger', () => {
  it('clientLogger: the application’s wins; DEBUG=stelar:* or stelar:client gives the console at debug; else none', () => {
    expect(clientLogger).toBe(fromModule);
    const mine: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    expect(clientLogger(mine, 'stelar:*')).toBe(mine);
    expect(clientLogger(false, 'stelar:*')).toBe(false);
    expect(clientLogger(undefined, undefined)).toBeUndefined();
    expect(clientLogger(undefined, 'stelar:server')).toBeUndefined();
    const out = vi.spyOn(console, 'debug').mockImplementation(() => undefined);
    (clientLogger(undefined, 'stelar:client') as Logger).debug({ state: 'connecting' }, 'state');
    expect(out.mock.calls).toEqual([['stelar:client state state=connecting']]);
  });

  it('DEBUG=stelar:* in the environment: a client prints its lifecycle', async () => {
    const server = createServer({ tcpPort: 0, host: '127.0.0.1', heartbeat: false, logger: false });
    const { tcpPort } = await server.listen();
    const before = process.env['DEBUG'];
    process.env['DEBUG'] = 'stelar:*';
    const info = vi.spyOn(console, 'info').mockImplementation(() => undefined);
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined);
    try {
      const c = connect(`tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false });
      await c.connect();
      const id = c.id!;
      c.close();
      for (let i = 0; i < 100 && !info.mock.calls.some((a) => String(a[0]).includes('disconnected')); i++) await new Promise((r) => setTimeout(r, 10));
      const lines = [...debug.mock.calls, ...info.mock.calls].map((a) => String(a[0]));
      expect(lines).toEqual(expect.arrayContaining(['stelar:client state state=connecting', `stelar:client connected id=${id} recovered=false`]));
      expect(lines.some((l) => /^stelar:client disconnected code=1000 reason= willReconnect=false$/.test(l))).toBe(true);
    } finally {
      if (before === undefined) delete process.env['DEBUG'];
      else process.env['DEBUG'] = before;
      await server.close({ timeout: 200 });
    }
  });
});
