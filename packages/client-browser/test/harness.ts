// Chromium against the real server: an HTTP server serving a page and the <script> bundle (built
// from the sources by scripts/bundle.mjs), with a Stelar server attached to it (and TCP).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createServer, type ServerOptions, type StelarServer } from '@stelar/server';
import { launchChromium } from './chromium';

export type Server = StelarServer;

const root = fileURLToPath(new URL('..', import.meta.url));
const PAGE = '<!doctype html><meta charset="utf-8"><title>stelar test</title><script src="/stelar.min.js"></script>';

export interface Site {
  stelar: Server;
  port: number;
  tcpPort: number;
  /** The page's URL. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Which engine the served bundle's StelarClient is: this package's as in stelar.min.js (issue 14's
 * set), this package's with every feature (stelar.full.min.js), or core's ClientEngine
 * (test/core-engine.ts).
 */
export type EngineName = 'browser engine' | 'browser engine (full)' | "core's ClientEngine";
const ENTRIES: Record<EngineName, string[]> = {
  'browser engine': [],
  'browser engine (full)': ['--full'],
  "core's ClientEngine": ['--entry', join(root, 'test/core-engine.ts')],
};
const bundles = new Map<EngineName, Buffer>();
let current: EngineName = 'browser engine';
let browser: { context: BrowserContext; close: () => Promise<void> } | undefined;
const sites = new Set<Site>();
const pages = new Set<Page>();

export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean | Promise<boolean>, what = 'condition', timeout = 8000): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(10);
  }
}

/**
 * Builds the bundles (one per engine) and starts Chromium once per file; closes pages and
 * servers after each test.
 */
export function useChromium(engines: EngineName[] = ['browser engine']): void {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stelar-bundle-'));
    for (const engine of engines) {
      const out = join(dir, `${bundles.size}.js`);
      execFileSync(process.execPath, [join(root, 'scripts/bundle.mjs'), '--outfile', out, ...ENTRIES[engine]], { stdio: 'inherit' });
      bundles.set(engine, readFileSync(out));
    }
    browser = await launchChromium();
  });
  afterEach(async () => {
    for (const p of [...pages]) await p.close().catch(() => undefined);
    pages.clear();
    for (const s of [...sites]) await s.stop();
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Starts the page's HTTP server with a Stelar server attached (heartbeat off unless given), on
 * `port`/`tcpPort` (0: any). Stopped after the test.
 */
/** Pages opened by the tests of the enclosing `describe` load the bundle of `engine`. */
export function useEngine(engine: EngineName): void {
  beforeAll(() => {
    current = engine;
  });
}

export async function site(options: Omit<ServerOptions, 'server' | 'port'> & { port?: number } = {}, setup?: (s: Server) => void): Promise<Site> {
  const { port = 0, ...rest } = options;
  const bundle = bundles.get(current)!;
  const httpServer = http.createServer((req, res) => {
    if (req.url === '/stelar.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    else res.writeHead(404).end();
  });
  const stelar = createServer({ tcpPort: 0, host: '127.0.0.1', heartbeat: false, onError: () => undefined, ...rest, server: httpServer });
  setup?.(stelar);
  const info = await stelar.listen();
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, '127.0.0.1', () => resolve());
  });
  const p = (httpServer.address() as net.AddressInfo).port;
  const s: Site = {
    stelar,
    port: p,
    tcpPort: info.tcpPort!,
    url: `http://127.0.0.1:${p}/`,
    async stop() {
      if (!sites.delete(s)) return;
      await stelar.close({ timeout: 300 });
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
  sites.add(s);
  return s;
}

/** A new page at `url` with the bundle loaded (closed after the test). */
export async function page(url: string): Promise<Page> {
  const p = await browser!.context.newPage();
  pages.add(p);
  await p.goto(url);
  return p;
}

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
