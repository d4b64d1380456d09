/**
 * Shared pieces of the hardening tests: a Stelar server on both transports, raw WebSocket and TCP
 * attackers, a well-behaved witness client, memory measurement.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { connect, type StelarClient } from '@stelar/client-node';
import { encodeClientConnect, FrameDecoder, type Frame } from '@stelar/codec-tcp';
import { createServer, type ServerOptions, type StelarServer } from '@stelar/server';
import { bundleSources, sleep, spawnChild, type Child } from '@stelar/test-utils';
import { parsePmdResponse } from '../src/deflate';
import { Tester, testerPmd } from '../src/tester';
import { bundleScenario } from './scenario';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** `global.gc`, or one obtained without `--expose-gc` (V8 flag set at run time). */
export const gc: () => void = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

/** Heap + ArrayBuffer memory after a full collection (bytes). */
export async function retained(): Promise<number> {
  for (let i = 0; i < 2; i++) {
    gc();
    await sleep(10);
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export interface Harness {
  server: StelarServer;
  port: number;
  tcpPort: number;
  close(): Promise<void>;
}

/** A Stelar server on WebSocket and TCP (127.0.0.1, free ports) with an `echo` request handler. */
export async function startServer(options: ServerOptions = {}): Promise<Harness> {
  const server = createServer({ port: 0, tcpPort: 0, host: '127.0.0.1', heartbeat: false, ...options });
  server.on('echo', (data: unknown) => data);
  server.onError(() => undefined);
  const info = await server.listen();
  return {
    server,
    port: info.port!,
    tcpPort: info.tcpPort!,
    close: () => server.close({ timeout: 500 }),
  };
}

/** A well-behaved client (no reconnection) that must keep getting answers. */
export async function witness(url: string): Promise<StelarClient> {
  const c = connect(url, { reconnect: false, heartbeat: false, requestTimeout: 3000 });
  await c.connect();
  return c;
}

/** One request round trip; returns its time in ms (throws if unanswered). */
export async function served(c: StelarClient, data: unknown = { ping: Date.now() }): Promise<number> {
  const t0 = performance.now();
  const back = await c.request('echo' as never, data as never);
  if (JSON.stringify(back) !== JSON.stringify(data)) throw new Error(`echo mismatch: ${JSON.stringify(back)}`);
  return performance.now() - t0;
}

export interface HttpAnswer {
  status: number;
  head: string;
  rest: Buffer;
  socket: net.Socket;
  ms: number;
}

/** Sends `request` bytes on a new connection and waits for an HTTP answer head (or the socket to close). */
export function rawHttp(port: number, request: Buffer | string, options: { timeout?: number; localAddress?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = net.connect({ port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('no HTTP answer in time')), options.timeout ?? 5000);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (err) {
        socket.destroy();
        reject(err);
        return;
      }
      const end = buf.indexOf('\r\n\r\n');
      const head = end < 0 ? buf.toString('latin1') : buf.subarray(0, end).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, rest: end < 0 ? Buffer.alloc(0) : buf.subarray(end + 4), socket, ms: performance.now() - t0 });
    };
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.indexOf('\r\n\r\n') >= 0) finish();
    });
    socket.on('close', () => finish());
    socket.once('connect', () => socket.write(request));
  });
}

export function upgradeRequest(port: number, extra: Record<string, string> = {}, path = '/'): string {
  const headers: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
  return `GET ${path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

/** A raw WebSocket connection to the server (the conformance Tester, as a client). */
export async function rawWs(
  port: number,
  options: { headers?: Record<string, string>; deflate?: boolean; localAddress?: string } = {},
): Promise<{ tester: Tester; answer: HttpAnswer }> {
  const extra = { ...options.headers, ...(options.deflate ? { 'Sec-WebSocket-Extensions': 'permessage-deflate' } : {}) };
  const answer = await rawHttp(port, upgradeRequest(port, extra), options.localAddress ? { localAddress: options.localAddress } : {});
  if (answer.status !== 101) throw new Error(`upgrade refused: ${answer.head.split('\r\n')[0]}`);
  let pmd;
  if (options.deflate) {
    const line = /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(answer.head)?.[1];
    const parsed = parsePmdResponse(line);
    if (!parsed || typeof parsed === 'string') throw new Error(`permessage-deflate not accepted: ${String(parsed)}`);
    pmd = testerPmd('server', parsed);
  }
  return { tester: new Tester('server', answer.socket, pmd, answer.rest), answer };
}

/** Peak of `heapUsed + arrayBuffers` while `fn` runs (sampled every 5 ms), relative to the start. */
export async function peakDuring<T>(fn: () => Promise<T>): Promise<{ value: T; peak: number }> {
  const mem = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const base = mem();
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, mem() - base);
  }, 5);
  try {
    const value = await fn();
    peak = Math.max(peak, mem() - base);
    return { value, peak };
  } finally {
    clearInterval(timer);
  }
}

/** A Stelar frame as a WebSocket message (without its 4-byte totalLen). */
export const wsMessage = (frame: Uint8Array): Buffer => Buffer.from(frame.buffer, frame.byteOffset + 4, frame.length - 4);

/** A raw TCP connection speaking Stelar frames, recording what the server sends. */
export class RawTcp {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  closed = false;
  error: string | undefined;
  private readonly decoder = new FrameDecoder((f) => this.frames.push({ ...f, payload: f.payload.slice() }), { maxFrameSize: 64 * MiB });

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      try {
        this.decoder.push(c);
      } catch (err) {
        this.error = String(err);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static open(port: number, localAddress?: string): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
      s.once('connect', () => resolve(new RawTcp(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  hello(): void {
    this.write(encodeClientConnect());
  }

  /** The DISCONNECT code the server sent, if any. */
  get disconnectCode(): number | undefined {
    const d = this.frames.find((f) => f.type === 0x08);
    if (!d) return undefined;
    return (JSON.parse(new TextDecoder().decode(d.payload)) as { code: number }).code;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A scenario (test/scenarios/<name>.ts) running in a child process that talks in lines. */
/** A scenario child: `line(word)`, `send(line)`, `stderr()`, `exited`, `stop()` (see `spawnChild`). */
export type ScenarioChild = Child;

/** Bundles and starts a scenario in a child process (`--max-old-space-size` as given); `stop` also removes the bundle. */
export async function spawnScenario(name: string, options: { maxOldSpaceMb?: number; timeout?: number } = {}): Promise<ScenarioChild> {
  const { file, cleanup } = await bundleScenario(name);
  const child = spawnChild([`--max-old-space-size=${options.maxOldSpaceMb ?? 256}`, file], { name: `scenario ${name}`, killAfter: options.timeout ?? 60_000 });
  return {
    ...child,
    async stop(stopOptions) {
      await child.stop(stopOptions);
      cleanup();
    },
  };
}

/** What `serverProcess` reports about the child (bytes; see scenarios/wire-server.ts). */
export interface ServerMemory {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  external: number;
  zlibMemory: number;
  zlibPinned: number;
  zlibStreams: number;
  unfinishedBytes: number;
  open: number;
}

export interface ServerProcess {
  port: number;
  tcpPort: number;
  /** Memory of the child after full collections. */
  mem(): Promise<ServerMemory>;
  /** Closes the server and waits for the child to exit (killed after 5 s). */
  stop(): Promise<void>;
}

/**
 * Runs `scenarios/wire-server.ts` (a `createServer` with `options`, bundled with the packages from
 * their sources) in a child process, so its memory is measured apart from the attackers'.
 */
export async function serverProcess(options: Record<string, unknown> = {}, maxOldSpaceMb = 1024): Promise<ServerProcess> {
  const { file, cleanup } = await bundleSources(fileURLToPath(new URL('./scenarios/wire-server.ts', import.meta.url)));
  const child = spawnChild([`--max-old-space-size=${maxOldSpaceMb}`, file, JSON.stringify(options)], { name: 'server process', stderr: 'inherit', killAfter: 600_000 });
  try {
    const [port, tcpPort] = String(await child.line('ready', 10_000)).split(' ').map(Number) as [number, number];
    return {
      port,
      tcpPort,
      mem: async () => {
        child.send('mem');
        return await child.line<ServerMemory>('mem', 10_000);
      },
      stop: async () => {
        await child.stop({ say: 'exit', wait: 5000 });
        cleanup();
      },
    };
  } catch (err) {
    await child.stop();
    cleanup();
    throw err;
  }
}
