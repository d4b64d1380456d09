import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { decodeFrame, encodeClientConnect, FrameDecoder, type Frame } from '@stelar/codec-tcp';

export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean | Promise<boolean>, timeout = 3000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeout) throw new Error('condition not met in time');
    await tick(5);
  }
}

/** A raw TCP peer speaking Stelar frames by hand, for bad-input tests. */
export class RawTcpPeer {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder((f) => this.frames.push({ ...f, payload: f.payload.slice() }));
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c) => {
      try {
        this.decoder.push(c);
      } catch {
        /* the test looks at what arrived */
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }
  static open(port: number): Promise<RawTcpPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawTcpPeer(s)));
      s.once('error', reject);
    });
  }
  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }
  async hello(auth?: unknown): Promise<Frame> {
    this.write(encodeClientConnect(auth));
    await until(() => this.frames.length > 0);
    return this.frames[0]!;
  }
  text(f: Frame): string {
    return new TextDecoder().decode(f.payload);
  }
  destroy(): void {
    this.socket.destroy();
  }
}

export { decodeFrame };

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The suite's Redis (`STELAR_REDIS_URL`, set by `npm test`), else a redis-server of our own on a
 * random loopback port without persistence, stopped by its pid. A missing redis-server fails.
 */
export async function redisForTest(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = process.env['STELAR_REDIS_URL'];
  if (given) return { url: given, stop: async () => undefined };
  const port = await freePort();
  const bin = process.env['REDIS_SERVER'] ?? 'redis-server';
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  let failed: Error | undefined;
  proc.once('error', (err) => (failed = err));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 5000;
  for (;;) {
    if (failed) throw new Error(`cannot run ${bin} (${failed.message}): install redis-server or set REDIS_SERVER`);
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const open = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (open) return { url: `redis://127.0.0.1:${port}`, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error('redis-server did not start in 5 s');
    }
    await tick(20);
  }
}
