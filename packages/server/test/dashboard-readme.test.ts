// Runs the README's "Live dashboard" example as a user would (bundled from the sources, in its
// own process): refused without the cookie, served after /login, a TCP client counted, and
// SIGINT ends it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@stelar/client-node';
import type { DashboardData } from '../src/index';
import { freePort, until } from './helpers';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const dir = join(repo, 'packages', 'server', 'node_modules', '.cache', `dashboard-readme-${process.pid}`);
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
    mkdirSync(dir, { recursive: true });
    const entry = join(dir, 'example.ts');
    writeFileSync(entry, example());
    const fromSource: Plugin = {
      name: 'stelar-from-source',
      setup(b) {
        b.onResolve({ filter: /^@stelar\/[a-z-]+$/ }, (args) => {
          const file = join(repo, 'packages', args.path.slice('@stelar/'.length), 'src', 'index.ts');
          return existsSync(file) ? { path: file } : undefined;
        });
      },
    };
    const out = join(dir, 'example.mjs');
    await build({ entryPoints: [entry], outfile: out, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'error', plugins: [fromSource] });

    const [port, tcpPort] = [await freePort(), await freePort()];
    const proc = spawn(process.execPath, [out], { env: { ...process.env, PORT: String(port), TCP_PORT: String(tcpPort) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      await until(() => stdout.includes('/stelar') || proc.exitCode !== null, 10_000);
      expect(stderr).toBe('');
      expect(stdout).toBe(`log in at http://127.0.0.1:${port}/login, then watch http://127.0.0.1:${port}/stelar\n`);
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
      expect(await exited).toBe(0);
      await until(() => client.state === 'disconnected');
      client.close();
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    }
  }, 30_000);
});
