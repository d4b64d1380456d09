/**
 * Independent peer (b): headless Chromium's native WebSocket (not written here) against the
 * Stelar echo server with permessage-deflate on and off (Chromium always offers it), messages
 * from 0 B to 16 MiB, text and binary, checked byte for byte in the page; and the Stelar
 * protocol over `createServer` (CONNECT, a request, binary events up to 16 MiB).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer, type StelarServer } from '@stelar/server';
import { CHROMIUM, launchChromium, requireChromium as findChromium } from '@stelar/test-utils';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoServer, type EchoServer } from '../src/peers';

const MiB = 1024 * 1024;
const SIZES = [0, 1, 125, 126, 127, 128, 65535, 65536, 65537, MiB, 4 * MiB, 16 * MiB];

interface EchoResult {
  extensions: string;
  checks: { name: string; ok: boolean; ms: number; detail?: string }[];
  closeCode: number;
}

/** Runs in the page: echo round trips, verified byte for byte. */
async function pageEcho(args: { url: string; sizes: number[]; skipIncompressibleAt: number }): Promise<EchoResult> {
  const ws = new WebSocket(args.url);
  ws.binaryType = 'arraybuffer';
  const inbox: (string | ArrayBuffer)[] = [];
  let wake: (() => void) | undefined;
  ws.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
    inbox.push(e.data);
    wake?.();
  };
  let closed: CloseEvent | undefined;
  ws.onclose = (e) => {
    closed = e;
    wake?.();
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('WebSocket error before open'));
  });
  const next = async (): Promise<string | ArrayBuffer> => {
    while (inbox.length === 0) {
      if (closed) throw new Error(`closed ${closed.code} ${closed.reason}`);
      await new Promise<void>((r) => (wake = r));
    }
    return inbox.shift()!;
  };
  const randomBytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    for (let off = 0; off < n; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(n, off + 65536)));
    return b;
  };
  const textOf = (n: number): string => {
    const unit = 'Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 ';
    const bytes = new TextEncoder().encode(unit.repeat(Math.ceil(n / 40) + 1));
    let end = n;
    while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
    const t = new TextDecoder().decode(bytes.subarray(0, end));
    return t + '*'.repeat(n - end);
  };
  const same = (a: Uint8Array, b: Uint8Array): boolean => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };
  const checks: EchoResult['checks'] = [];
  for (const n of args.sizes) {
    for (const kind of ['binary', 'text'] as const) {
      const t0 = performance.now();
      try {
        if (kind === 'binary') {
          // Random (incompressible) bytes, except at the size where the known compressed-frame
          // limit exception would fail them: there, a compressible pattern of the same size.
          const data = n === args.skipIncompressibleAt ? new Uint8Array(n).map((_, i) => (i * 31) & 0xff) : randomBytes(n);
          ws.send(data);
          const back = await next();
          const ok = back instanceof ArrayBuffer && same(new Uint8Array(back), data);
          checks.push({ name: `binary ${n} B`, ok, ms: Math.round(performance.now() - t0) });
        } else {
          const data = textOf(n);
          ws.send(data);
          const back = await next();
          checks.push({ name: `text ${n} B`, ok: back === data, ms: Math.round(performance.now() - t0) });
        }
      } catch (err) {
        checks.push({ name: `${kind} ${n} B`, ok: false, ms: Math.round(performance.now() - t0), detail: String(err) });
        break;
      }
    }
  }
  const extensions = ws.extensions;
  ws.close(1000, 'done');
  while (!closed) await new Promise<void>((r) => (wake = r));
  return { extensions, checks, closeCode: closed.code };
}

/** Runs in the page: the Stelar protocol by hand (frames without their totalLen). */
async function pageStelar(args: { url: string }): Promise<{ checks: { name: string; ok: boolean }[] }> {
  const ws = new WebSocket(args.url);
  ws.binaryType = 'arraybuffer';
  const inbox: ArrayBuffer[] = [];
  let wake: (() => void) | undefined;
  ws.onmessage = (e: MessageEvent<ArrayBuffer>) => {
    inbox.push(e.data);
    wake?.();
  };
  await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
  const next = async (): Promise<{ type: number; event: string; payload: Uint8Array }> => {
    while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
    const b = new Uint8Array(inbox.shift()!);
    const len = (b[1]! << 8) | b[2]!;
    return { type: b[0]!, event: new TextDecoder().decode(b.subarray(3, 3 + len)), payload: b.subarray(3 + len) };
  };
  const frame = (type: number, event: string, payload: Uint8Array): Uint8Array => {
    const ev = new TextEncoder().encode(event);
    const out = new Uint8Array(3 + ev.length + payload.length);
    out[0] = type;
    out[1] = ev.length >> 8;
    out[2] = ev.length & 0xff;
    out.set(ev, 3);
    out.set(payload, 3 + ev.length);
    return out;
  };
  const checks: { name: string; ok: boolean }[] = [];
  ws.send(frame(0x07, '', new TextEncoder().encode('{"v":1}')));
  const hello = await next();
  checks.push({ name: 'CONNECT answered', ok: hello.type === 0x07 && typeof JSON.parse(new TextDecoder().decode(hello.payload)).id === 'string' });
  const req = new Uint8Array([0, 0, 0, 9, ...new TextEncoder().encode('{"n":"κόσμε"}')]);
  ws.send(frame(0x05, 'echo', req));
  const res = await next();
  checks.push({
    name: 'request answered',
    ok: res.type === 0x06 && res.payload[3] === 9 && res.payload[4] === 0 && new TextDecoder().decode(res.payload.subarray(5)) === '{"n":"κόσμε"}',
  });
  for (const n of [0, 65536, 16 * 1024 * 1024 - 16]) {
    const data = new Uint8Array(n).map((_, i) => (i * 131) & 0xff);
    ws.send(frame(0x02, 'bin', data));
    const m = await next();
    let ok = m.type === 0x02 && m.event === 'bin' && m.payload.length === n;
    for (let i = 0; ok && i < n; i++) if (m.payload[i] !== data[i]) ok = false;
    checks.push({ name: `binary event ${n} B echoed`, ok });
  }
  ws.close(1000);
  return { checks };
}

describe('independent peer: headless Chromium WebSocket', { timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  let page: Page;
  /** Why Chromium cannot run: every test fails with it (a missing peer never skips). */
  let problem: Error | undefined;
  const requireChromium = (): void => {
    if (problem) throw problem;
  };
  const echo: Record<'on' | 'off', EchoServer> = {} as Record<'on' | 'off', EchoServer>;
  let stelar: StelarServer;
  let stelarPort = 0;
  let pageServer: http.Server;

  beforeAll(async () => {
    try {
      findChromium();
    } catch (err) {
      problem = err as Error;
      return;
    }
    try {
      browser = await launchChromium();
    } catch (err) {
      problem = new Error(`Chromium at ${CHROMIUM} did not start: ${(err as Error).message}`);
      return;
    }
    page = await browser.newPage();
    // A page on 127.0.0.1 (about:blank is refused local WebSocket connections by Chromium's
    // local-network-access checks).
    pageServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>stelar</title>'));
    await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
    await page.goto(`http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`);
    echo.on = await startEchoServer({ threshold: 1024 });
    echo.off = await startEchoServer({ deflate: false });
    stelar = createServer({ port: 0, host: '127.0.0.1', maxFrameSize: 17 * MiB, heartbeat: false, ws: { perMessageDeflate: true } });
    stelar.on('echo', (data: unknown) => data);
    stelar.on('bin', (data: unknown, conn) => {
      conn.emit('bin', data as Uint8Array);
    });
    stelarPort = (await stelar.listen()).port!;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    pageServer?.close();
    await echo.on?.close();
    await echo.off?.close();
    await stelar?.close({ timeout: 1000 });
  });

  for (const deflate of ['off', 'on'] as const) {
    it(`echo server, permessage-deflate ${deflate}: byte-exact echoes from 0 B to 16 MiB`, async () => {
      requireChromium();
      const r = await page.evaluate(pageEcho, {
        url: `ws://127.0.0.1:${echo[deflate].port}/`,
        sizes: SIZES,
        skipIncompressibleAt: -1,
      });
      console.log(`chromium deflate=${deflate}: extensions "${r.extensions}", ${r.checks.length} echoes, 16 MiB binary ${r.checks.find((c) => c.name === `binary ${16 * MiB} B`)?.ms} ms`);
      expect(r.extensions.startsWith('permessage-deflate')).toBe(deflate === 'on');
      expect(r.checks.filter((c) => !c.ok)).toEqual([]);
      expect(r.checks).toHaveLength(SIZES.length * 2);
      expect(r.closeCode).toBe(1000);
    });
  }

  it('an incompressible 16 MiB binary message with deflate is echoed', async () => {
    requireChromium();
    const r = await page.evaluate(pageEcho, { url: `ws://127.0.0.1:${echo.on.port}/`, sizes: [16 * MiB], skipIncompressibleAt: -1 });
    expect(r.checks[0]).toMatchObject({ ok: true });
  });

  it('the Stelar protocol over createServer (deflate negotiated): CONNECT, request, binary events up to 16 MiB', async () => {
    requireChromium();
    const r = await page.evaluate(pageStelar, { url: `ws://127.0.0.1:${stelarPort}/` });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.checks).toHaveLength(5);
  });
});
