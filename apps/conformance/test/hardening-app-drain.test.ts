/**
 * Health during a drain (issue 10, item 7): the standalone server closed its HTTP listener first,
 * so probes got ECONNREFUSED for the whole drain instead of 503. Now `/readyz` answers 503 (and
 * `/healthz` 200) until the drain ends; only upgrades (503) and new TCP sessions (DISCONNECT 1001)
 * are refused; in-flight requests still get their replies.
 */
import * as net from 'node:net';
import { FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { sleep, until } from '@stelar/test-utils';
import { RawTcp, rawHttp, startServer, upgradeRequest, witness } from './helpers';

async function probe(port: number, path: string): Promise<number | string> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    await r.text();
    return r.status;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code ?? String(err);
  }
}

describe('hardening: health answers while the standalone server drains', { timeout: 30_000 }, () => {
  it('/readyz answers 503 (not ECONNREFUSED) until the drain ends; upgrades 503, new TCP sessions 1001', async () => {
    const h = await startServer({ health: true });
    h.server.on('slow', async (ms: unknown) => {
      await sleep(Number(ms));
      return 'done';
    });
    const c = await witness(`tcp://127.0.0.1:${h.tcpPort}`);
    expect(await probe(h.port, '/readyz')).toBe(200);
    const reply = c.request('slow' as never, 1200 as never);
    await until(() => h.server.getStats().acks.inFlightHandlers === 1, 'request in flight');

    let drained = false;
    const closing = h.server.close({ timeout: 5000 }).then(() => (drained = true));
    const ready: (number | string)[] = [];
    const live: (number | string)[] = [];
    const t0 = performance.now();
    while (!drained && performance.now() - t0 < 1000) {
      const [r, l] = await Promise.all([probe(h.port, '/readyz'), probe(h.port, '/healthz')]);
      if (drained) break;
      ready.push(r);
      live.push(l);
      await sleep(50);
    }
    // While draining: an upgrade is refused, a new TCP session is told 1001.
    const up = await rawHttp(h.port, upgradeRequest(h.port));
    up.socket.destroy();
    const tcp = await RawTcp.open(h.tcpPort);
    await until(() => tcp.closed, 'new TCP session closed');
    console.log(`during the drain: ${ready.length} probes, /readyz ${[...new Set(ready)].join(',')}, /healthz ${[...new Set(live)].join(',')}; upgrade ${up.status}, TCP ${tcp.disconnectCode}`);
    expect(ready.length).toBeGreaterThanOrEqual(5);
    expect(new Set(ready)).toEqual(new Set([503]));
    expect(new Set(live)).toEqual(new Set([200]));
    expect(up.status).toBe(503);
    expect(tcp.disconnectCode).toBe(1001);
    expect(tcp.frames.some((f) => f.type === FrameType.CONNECT)).toBe(false);

    await expect(reply).resolves.toBe('done');
    await closing;
    // Once the drain has ended, the listener is gone.
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(h.port, '127.0.0.1', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
    });
    expect(refused).toBe('ECONNREFUSED');
    c.close();
  });
});
