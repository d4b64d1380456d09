import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './net';
import { sleep } from './wait';

/**
 * The suite's Redis (`STELAR_REDIS_URL`, set by `npm test`), else a redis-server of our own on a
 * random loopback port without persistence (`--save '' --appendonly no`), stopped by its pid.
 * A missing redis-server fails (`REDIS_SERVER` names another binary).
 */
export async function redisForTest(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = process.env['STELAR_REDIS_URL'];
  if (given) return { url: given, stop: async () => undefined };
  return startRedis();
}

/** A redis-server of our own on a random loopback port, without persistence; `stop` kills it by pid. */
export async function startRedis(): Promise<{ url: string; port: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const bin = process.env['REDIS_SERVER'] ?? 'redis-server';
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  let failed: Error | undefined;
  proc.once('error', (err) => (failed = err));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    process.kill(proc.pid, 'SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 5000;
  for (;;) {
    if (failed) throw new Error(`cannot run ${bin} (${failed.message}): install redis-server or set REDIS_SERVER`);
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const open = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (open) return { url: `redis://127.0.0.1:${port}`, port, pid: proc.pid!, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error('redis-server did not start in 5 s');
    }
    await sleep(20);
  }
}
