import * as net from 'node:net';
import { createHook } from 'node:async_hooks';
import { afterEach, beforeEach, expect } from 'vitest';
import { encodeServerConnect, FrameDecoder, PROTOCOL_VERSION, type Frame } from '@stelar/codec-tcp';
import { createServer, type ServerOptions, type StelarServer } from '@stelar/server';
import { freePort, selfSignedCert, sleep, until } from '@stelar/test-utils';
import { connect, type NodeClientOptions, type StelarClient } from '../src/index';

// ── typed event maps (one per direction) ──────────────────────────────────────

/** Events the server receives (client → server). */
export type ClientToServer = {
  chat: (m: { n: number; text: string }) => void;
  blob: (bytes: Uint8Array) => void;
  sum: (args: { a: number; b: number }) => number;
  echo: (s: string) => string;
  hang: (tag: string) => string;
  flaky: (n: number) => number;
};

/** Events the client receives (server → client). */
export type ServerToClient = {
  news: (m: { text: string }) => void;
  blob: (bytes: Uint8Array) => void;
  confirm: (q: string) => boolean;
  compute: (n: number) => number;
  fail: (how: 'coded' | 'plain' | 'async') => string;
  nobody: (x: number) => number;
};

export type Server = StelarServer<ClientToServer, ServerToClient>;
export type Client = StelarClient<ServerToClient, ClientToServer>;
export type Scheme = 'ws' | 'wss' | 'tcp' | 'tls';
export const SCHEMES: readonly Scheme[] = ['ws', 'wss', 'tcp', 'tls'];

// Waiting, free ports and the test certificate (for 127.0.0.1 and localhost, made once per
// process) are @stelar/test-utils' (`tick` is its `sleep`).
export { freePort, selfSignedCert as selfSigned, sleep as tick, until };

// ── servers and clients, cleaned up after every test ──────────────────────────

const servers: Server[] = [];
const clients: Client[] = [];
const cleanups: (() => void | Promise<void>)[] = [];
let baseline: Record<string, number> = {};

/** Sockets and listeners alive in this process, by kind. */
function handleCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) {
    if (r !== 'Timeout' && r !== 'Immediate') out[r] = (out[r] ?? 0) + 1;
  }
  return out;
}

/**
 * Timers created by the code under test (not by vitest itself) and still pending with a ref:
 * they would keep a process alive after the client and server are closed.
 */
const timers = new Map<number, { timer: { hasRef(): boolean }; where: string }>();
let trackTimers = false;
const timerHook = createHook({
  init(id, type, _trigger, resource) {
    if (!trackTimers || type !== 'Timeout') return;
    const frames = (new Error().stack ?? '').split('\n').slice(1).map((l) => l.trim());
    // The first frame outside node's timer internals, this hook and the shared test helpers
    // (`until` polls with a timer of its own) is the one that set the timer.
    const caller = frames.find((f) => !f.includes('node:') && !f.includes('helpers.ts') && !/[\\/]test-utils[\\/]/.test(f) && !f.startsWith('at AsyncHook.init')) ?? '';
    if (/[\\/](vitest|@vitest)[\\/]/.test(caller)) return;
    timers.set(id, { timer: resource as { hasRef(): boolean }, where: caller });
  },
  destroy(id) {
    timers.delete(id);
  },
});

function pendingTimers(): string[] {
  return [...timers.values()].filter((t) => t.timer.hasRef()).map((t) => t.where);
}

/** Registers the per-test bookkeeping: call once at the top of a test file. */
export function useFixtures(): void {
  beforeEach(() => {
    baseline = handleCounts();
    timers.clear();
    timerHook.enable();
    trackTimers = true;
  });
  afterEach(async () => {
    trackTimers = false;
    for (const c of clients.splice(0)) c.close();
    for (const fn of cleanups.splice(0)) await fn();
    const live = servers.splice(0);
    // Every client closed cleanly: no session left open on any server still running.
    for (const s of live) {
      if (s.isReady) await until(() => s.getStats().connections.open === 0 && s.getStats().connections.opening === 0, 'sessions to close');
    }
    for (const s of live) await s.close({ timeout: 200 });
    for (const s of live) expect(s.getStats().connections.open).toBe(0);
    // Nothing left behind: sockets and listeners are back to what they were before the test,
    // and no timer set by the client, the transports or the server is still pending.
    try {
      await until(() => {
        const now = handleCounts();
        return Object.keys({ ...now, ...baseline }).every((k) => (now[k] ?? 0) <= (baseline[k] ?? 0));
      }, () => `handles to be released (before ${JSON.stringify(baseline)}, now ${JSON.stringify(handleCounts())})`, 7000);
      await until(() => pendingTimers().length === 0, () => `timers to be cleared: ${pendingTimers().join('; ')}`, 2000);
    } finally {
      timerHook.disable();
      timers.clear();
    }
  });
}

/** Runs `fn` after the test, before the leak check. */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

export interface Started {
  server: Server;
  port: number;
  tcpPort: number;
  /** URL of the server for a scheme (ws/wss need `https`, tcp/tls need `tls` options to match). */
  url: (scheme: Scheme) => string;
}

/**
 * Starts a real server on 127.0.0.1 (`port: 0, tcpPort: 0` unless given). `secure` serves
 * HTTPS and TLS with the self-signed certificate, so `wss://` and `tls://` work.
 */
export async function startServer(options: ServerOptions & { secure?: boolean } = {}, setup?: (s: Server) => void): Promise<Started> {
  const { secure, ...rest } = options;
  const pem = secure ? selfSignedCert() : undefined;
  const server = createServer<ClientToServer, ServerToClient>({
    port: 0,
    tcpPort: 0,
    host: '127.0.0.1',
    heartbeat: false,
    ...(pem && { https: pem, tls: pem }),
    ...rest,
  });
  servers.push(server);
  setup?.(server);
  const { port, tcpPort } = await server.listen();
  const url = (scheme: Scheme): string => `${scheme}://127.0.0.1:${scheme === 'ws' || scheme === 'wss' ? port : tcpPort}${scheme.startsWith('w') ? '/' : ''}`;
  return { server, port: port!, tcpPort: tcpPort!, url };
}

/** Standard handlers used by most tests. */
export function standardHandlers(server: Server): void {
  server.on('sum', ({ a, b }) => a + b);
  server.on('echo', (s) => s);
  server.on('blob', (bytes, conn) => void conn.emit('blob', bytes));
}

/** Creates a tracked client (closed after the test). TLS schemes trust the test certificate unless `trust: false`. */
export function client(url: string, options: NodeClientOptions = {}, { trust = true } = {}): Client {
  const secure = trust && (url.startsWith('wss:') || url.startsWith('tls:'));
  const c = connect<ServerToClient, ClientToServer>(url, {
    reconnect: false,
    heartbeat: false,
    ...(secure && { ca: selfSignedCert().cert }),
    ...options,
  });
  clients.push(c);
  return c;
}

/** Records a client's state changes. */
export function recordStates(c: Client): string[] {
  const states: string[] = [];
  c.onLifecycle('state', (s) => void states.push(s));
  return states;
}

/** Waits until the client has no link any more (closed for good). */
export async function closed(c: Client): Promise<void> {
  await until(() => c.state === 'disconnected', 'client to be disconnected');
}

// ── a hand-written TCP server speaking raw frames ─────────────────────────────

export interface RawSession {
  readonly socket: net.Socket;
  readonly frames: Frame[];
  send(bytes: Uint8Array): void;
}

/**
 * A raw TCP server: `onFrame` sees every frame each socket sends. Use it to play a broken or
 * foreign server. Closed after the test.
 */
export async function rawTcpServer(onFrame: ((s: RawSession, f: Frame) => void) | 'ignore everything'): Promise<{ port: number; sessions: RawSession[] }> {
  const sessions: RawSession[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const s: RawSession = { socket, frames: [], send: (b) => void (socket.writable && socket.write(b)) };
    sessions.push(s);
    const dec = new FrameDecoder((f) => {
      const copy = { ...f, payload: f.payload.slice() };
      s.frames.push(copy);
      if (onFrame !== 'ignore everything') onFrame(s, copy);
    });
    socket.on('data', (chunk) => {
      if (onFrame === 'ignore everything') return;
      try {
        dec.push(chunk);
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, sessions };
}

/** The CONNECT a server answers with. */
export function serverHello(id: string, heartbeat = 0): Uint8Array {
  return encodeServerConnect({ v: PROTOCOL_VERSION, id, heartbeat, maxFrame: 1024 * 1024 });
}
