// The dashboard page in Chromium, behind an app's own cookie login: a WebSocket client and a TCP
// client counted under their transports, rates that move with traffic, refusal without the
// cookie. A missing Chromium fails this test (see chromium.ts).
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type StelarClient } from '@stelar/client-node';
import { createServer, type StelarServer } from '../src/index';
import { launchChromium } from './chromium';
import { tick } from './helpers';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** The app: its own login (a session cookie) and the Stelar server attached to its HTTP server. */
async function app() {
  const sessions = new Set<string>();
  const sid = (req: http.IncomingMessage): string | undefined => /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
  const web = http.createServer((req, res) => {
    if (req.url === '/login') {
      const id = randomUUID();
      sessions.add(id);
      res.writeHead(303, { 'set-cookie': `sid=${id}; HttpOnly; SameSite=Strict; Path=/`, location: '/stelar' }).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  const server: StelarServer = createServer({
    server: web,
    tcpPort: 0,
    host: '127.0.0.1',
    heartbeat: false,
    dashboard: { authorize: (req) => sessions.has(sid(req) ?? '') },
  });
  server.onConnection((conn) => conn.join('lobby'));
  server.on('echo', (x, conn) => conn.emit('echo', x));
  server.on('fail', () => {
    throw new Error('boom');
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  const { tcpPort } = await server.listen();
  const port = (web.address() as AddressInfo).port;
  return {
    server,
    sessions,
    origin: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    tcpUrl: `tcp://127.0.0.1:${tcpPort!}`,
    stop: async () => {
      await server.close({ timeout: 300 });
      await new Promise<void>((r) => web.close(() => r()));
    },
  };
}

const text = (page: Page, selector: string): Promise<string> => page.locator(selector).first().innerText();
const rate = async (page: Page, id: string): Promise<number> => Number.parseFloat((await text(page, `#${id}`)).replace(/,/g, '')) || 0;
async function waitFor(what: string, cond: () => Promise<boolean>, timeout = 10_000): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(100);
  }
}

describe('dashboard page in Chromium', () => {
  it('logs in through the app’s cookie, counts a WS and a TCP client under their transports, shows rates moving; refused without the cookie', async () => {
    const site = await app();
    const clients: StelarClient[] = [];
    try {
      // Without the cookie: the page and its data are refused.
      const anon = await browser.newContext();
      const anonPage = await anon.newPage();
      const refused = await anonPage.goto(`${site.origin}/stelar`);
      expect(refused!.status()).toBe(403);
      expect((await anonPage.goto(`${site.origin}/stelar/data`))!.status()).toBe(403);
      await anon.close();

      // Logged in: /login sets the cookie and redirects to the dashboard.
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || /Content Security Policy|Refused to/.test(m.text())) problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      const res = await page.goto(`${site.origin}/login`);
      expect(res!.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe('/stelar');
      expect(res!.headers()['content-security-policy']).toContain("default-src 'none'");
      await waitFor('the first update', async () => /updated/.test(await text(page, '#status')));
      expect(await page.locator('#transports tr').count()).toBe(0);

      const ws = connect(site.wsUrl, { reconnect: false, heartbeat: false });
      const tcp = connect(site.tcpUrl, { reconnect: false, heartbeat: false });
      clients.push(ws, tcp);
      await Promise.all([ws.connect(), tcp.connect()]);
      await waitFor('ws and tcp counted', async () => {
        const cells = await page.locator('#transports tr').evaluateAll((rows) => rows.map((r) => `${(r as HTMLElement).dataset['transport']}=${r.lastElementChild!.textContent}`));
        return cells.join(',') === 'tcp=1,ws=1';
      });
      expect(await text(page, '#conn-open')).toBe('2');
      await waitFor('lobby with 2 members', async () => (await page.locator('#rooms tr[data-room="lobby"] td.n').count()) === 1 && (await text(page, '#rooms tr[data-room="lobby"] td.n')) === '2');

      // Traffic for a couple of seconds: the rates (from successive counters) go above zero.
      await waitFor('quiet before the traffic', async () => (await rate(page, 'msg-in-rate')) === 0);
      let echoed = 0;
      ws.on('echo', () => void echoed++);
      tcp.on('echo', () => void echoed++);
      let sending = true;
      const traffic = (async () => {
        for (let i = 0; sending; i++) {
          ws.emit('echo', { i, pad: 'x'.repeat(200) });
          tcp.emit('echo', { i, pad: 'y'.repeat(200) });
          await tick(10);
        }
      })();
      await tcp.request('fail').catch(() => undefined);
      try {
        await waitFor('message rates above zero', async () => (await rate(page, 'msg-in-rate')) > 10 && (await rate(page, 'msg-out-rate')) > 10);
        expect(await text(page, '#bytes-in-rate')).toMatch(/\d.* (B|KiB|MiB)\/s$/);
      } finally {
        sending = false;
        await traffic;
      }
      expect(echoed).toBeGreaterThan(0);
      await waitFor('the handler error counted', async () => (await page.locator('#errors tr[data-code="INTERNAL_ERROR"]').count()) === 1);
      // Traffic stopped: the rates fall back to zero.
      await waitFor('message rates back to zero', async () => (await rate(page, 'msg-in-rate')) === 0);

      // The session ends: the next poll of the data is refused and the page says so.
      site.sessions.clear();
      await waitFor('refusal shown', async () => /not authorized/.test(await text(page, '#status')));
      expect(problems.filter((p) => !/status of 403/.test(p))).toEqual([]);
      await ctx.close();
    } finally {
      for (const c of clients) c.close();
      await site.stop();
    }
  }, 60_000);
});
