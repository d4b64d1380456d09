// Runs the README's "Live dashboard" example as a user would (bundled from the sources, in its
// own process): refused without the cookie, served after /login, a TCP client counted, and
// SIGINT ends it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@stelar/client-node';
import { bundleSources, freePort, spawnChild, until } from '@stelar/test-utils';
import type { DashboardData } from '../src/index';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'stelar-dashboard-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first ```ts block after the "## Live dashboard" heading. */
function example(): string {
  const readme = readFileSync(join(here, '..', 'README.md'), 'utf8');
  const at = readme.indexOf('\n## Live dashboard');
  expect(at).toBeGreaterThan(0);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block).not.toBeNull();
  return block![1]!;
}

describe('README: live dashboard example', () => {
  it('runs: 403 without the session cookie, the page and its data with it, Ctrl-C ends it', async () => {
    const entry = join(dir, 'example.ts');
    writeFileSync(entry, example());
    const { file, cleanup } = await bundleSources(entry);

    const [port, tcpPort] = [await freePort(), await freePort()];
    const proc = spawnChild([file], { name: 'the dashboard example', env: { ...process.env, PORT: String(port), TCP_PORT: String(tcpPort) }, killAfter: 30_000 });
    let gone = false;
    void proc.exited.then(() => (gone = true));
    try {
      await until(() => proc.stdout().includes('/stelar') || gone, 10_000);
      expect(proc.stderr()).toBe('');
      expect(proc.stdout()).toBe(`log in at http://127.0.0.1:${port}/login, then watch http://127.0.0.1:${port}/stelar\n`);
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/stelar`)).status).toBe(403);
      expect((await fetch(`${base}/stelar/data`)).status).toBe(403);
      const login = await fetch(`${base}/login`, { redirect: 'manual' });
      expect(login.status).toBe(303);
      expect(login.headers.get('location')).toBe('/stelar');
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      expect(cookie).toMatch(/^sid=/);
      const page = await fetch(`${base}/stelar`, { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Stelar dashboard</title>');

      const client = connect(`tcp://127.0.0.1:${tcpPort}`, { reconnect: false, heartbeat: false });
      await client.connect();
      const data = (await (await fetch(`${base}/stelar/data`, { headers: { cookie } })).json()) as DashboardData;
      expect(data.stats.connections.byTransport).toEqual({ tcp: 1 });
      expect(data.rooms.top).toEqual([{ name: 'lobby', members: 1 }]);
      expect(data.cluster).toBeNull();

      proc.kill('SIGINT');
      expect(await proc.exited).toBe(0);
      await until(() => client.state === 'disconnected');
      client.close();
    } finally {
      await proc.stop();
      cleanup();
    }
  }, 30_000);
});
