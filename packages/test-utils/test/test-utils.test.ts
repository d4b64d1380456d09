/** Each shared helper does what its callers rely on, including failing loudly. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleSources, CHROMIUM, disposeNodes, freePort, launchChromium, recorder, requireChromium, selfSignedCert, sleep, spawnChild, startRedis, until } from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'stelar-test-utils-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('until', () => {
  it('resolves once the condition holds (sync or async), with the time it took', async () => {
    let n = 0;
    const ms = await until(() => ++n >= 3);
    expect(n).toBe(3);
    expect(ms).toBeGreaterThanOrEqual(0);
    let ready = false;
    setTimeout(() => (ready = true), 20);
    await until(async () => ready, 'ready', 2000);
  });

  it('rejects after the timeout with what it waited for (both call forms)', async () => {
    await expect(until(() => false, 'the moon', 30)).rejects.toThrow('timed out after 30 ms waiting for the moon');
    await expect(until(() => false, 30)).rejects.toThrow('timed out after 30 ms waiting for condition');
  });

  it('asks a function description what to say only when it times out', async () => {
    let asked = 0;
    const say = (): string => `n = ${++asked}`;
    await until(() => true, say, 30);
    expect(asked).toBe(0);
    await expect(until(() => false, say, 30)).rejects.toThrow('timed out after 30 ms waiting for n = 1');
  });
});

describe('freePort and selfSignedCert', () => {
  it('a TLS server on a free port with the certificate accepts a client that trusts it', async () => {
    const port = await freePort();
    const { key, cert } = selfSignedCert();
    expect(cert).toContain('BEGIN CERTIFICATE');
    expect(selfSignedCert().cert).toBe(cert); // made once per process
    const server = createTlsServer({ key, cert }, (s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }, () => undefined);
        let text = '';
        s.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)).on('error', reject);
      });
      expect(got).toBe('hi');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('spawnChild and bundleSources', () => {
  it('bundles a program that imports a workspace package from its sources, and talks to it by lines', async () => {
    const entry = join(dir, 'echo.ts');
    writeFileSync(
      entry,
      [
        "import { encodeJson, decodeFrame } from '@stelar/codec-tcp';",
        "import { createInterface } from 'node:readline';",
        "console.log('ready ' + JSON.stringify({ type: decodeFrame(encodeJson('x', 1)).type }));",
        "createInterface({ input: process.stdin }).on('line', (l) => { if (l === 'exit') process.exit(0); console.log('echo ' + l); });",
      ].join('\n'),
    );
    const { file, cleanup } = await bundleSources(entry);
    const child = spawnChild([file], { name: 'echo' });
    try {
      expect(await child.line<{ type: number }>('ready')).toEqual({ type: expect.any(Number) });
      child.send('hello there');
      expect(await child.line('echo')).toBe('hello there');
      await child.stop({ say: 'exit' });
      expect(await child.exited).toBe(0);
      await expect(child.line('never', 100)).rejects.toThrow(/exited \(0\) before "never"/);
    } finally {
      await child.stop();
      cleanup();
    }
  });

  it('a child that overstays is killed by pid', async () => {
    const child = spawnChild(['-e', 'setInterval(() => {}, 1000)'], { killAfter: 100 });
    expect(await child.exited).toBe('SIGKILL');
  });
});

describe('startRedis', () => {
  it('starts redis-server on a free loopback port and stops it by pid', async () => {
    const redis = await startRedis();
    const ping = (): Promise<string> =>
      new Promise((resolve) => {
        const s = connect(redis.port, '127.0.0.1', () => s.write('PING\r\n'));
        s.setEncoding('utf8').once('data', (d: string) => (s.destroy(), resolve(d)));
        s.once('error', (e) => resolve(e.message));
      });
    expect(await ping()).toBe('+PONG\r\n');
    await redis.stop();
    await sleep(20);
    expect(await ping()).toMatch(/ECONNREFUSED/);
  });
});

describe('Chromium', () => {
  it('is found (the browser tests fail, never skip, without it) and launches headless', async () => {
    expect(requireChromium()).toBe(CHROMIUM);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      expect(await page.evaluate(() => 1 + 1)).toBe(2);
    } finally {
      await browser.close();
    }
  });
});

describe('recorder and disposeNodes', () => {
  it('records the data of every event by name, in order', () => {
    let handler: ((event: string, data: unknown) => void) | undefined;
    const got = recorder({ onAny: (h) => (handler = h) });
    handler!('a', 1);
    handler!('b', { x: 2 });
    handler!('a', 3);
    expect([...got]).toEqual([
      ['a', [1, 3]],
      ['b', [{ x: 2 }]],
    ]);
  });

  it('closes the clients, then drains and disposes each hub in turn, and empties both lists', async () => {
    const log: string[] = [];
    const clients = [1, 2].map((n) => ({ close: () => void log.push(`close ${n}`) }));
    const hub = (n: number) => ({
      drain: async (o: { timeout: number }) => (await sleep(5), log.push(`drain ${n} ${o.timeout}`)),
      dispose: async () => void log.push(`dispose ${n}`),
    });
    const nodes = [{ hub: hub(1) }, { hub: hub(2) }];
    await disposeNodes(clients, nodes, 100);
    expect(log).toEqual(['close 1', 'close 2', 'drain 1 100', 'dispose 1', 'drain 2 100', 'dispose 2']);
    expect(clients).toEqual([]);
    expect(nodes).toEqual([]);
  });
});
