/**
 * A load generator process: opens raw client connections to one server and drives them as the
 * controller asks (see lib/clients.ts). Runs in its own process, never in the server's.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildWires, Client, Pool } from './lib/clients';
import { errorMessage, monoMicros, type ClientSpec, type GenCounters } from './lib/common';
import { serveRequests } from './lib/ipc';
import { percentileSorted } from './lib/stats';

let spec: ClientSpec | undefined;
let pool: Pool | undefined;
const clients: Client[] = [];
let publisher: Client | undefined;
let sourceIndex = 0;

function need(): { spec: ClientSpec; pool: Pool } {
  if (!spec || !pool) throw new Error('init first');
  return { spec, pool };
}

function localAddress(s: ClientSpec): string | undefined {
  if (s.sourceAddresses <= 0) return undefined;
  return `127.0.0.${2 + (sourceIndex++ % s.sourceAddresses)}`;
}

/** Opens `count` connections, at most `concurrency` handshakes at a time. */
async function connectMany(count: number, concurrency: number, timeoutMs: number): Promise<{ ready: number; failed: number; firstError?: string; ms: number }> {
  const { spec: s, pool: p } = need();
  const t0 = performance.now();
  let started = 0;
  let ready = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      const c = new Client(p, true);
      try {
        await c.connect(s.port, localAddress(s), timeoutMs);
        clients.push(c);
        ready++;
      } catch (err) {
        failed++;
        firstError ??= errorMessage(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return { ready, failed, ms: performance.now() - t0, ...(firstError !== undefined ? { firstError } : {}) };
}

function counters(): GenCounters {
  const p = pool;
  const cpu = process.cpuUsage();
  return {
    messages: p?.messages ?? 0,
    bytes: p?.bytes ?? 0,
    errors: p?.errors ?? 0,
    closed: p?.closed ?? 0,
    at: performance.now(),
    user: cpu.user,
    system: cpu.system,
  };
}

serveRequests({
  init: (req) => {
    // Re-init closes the previous connections (one generator serves several cells).
    if (pool) pool.shuttingDown = true;
    for (const c of clients) c.destroy();
    clients.length = 0;
    publisher?.destroy();
    publisher = undefined;
    spec = req['spec'] as ClientSpec;
    pool = new Pool(buildWires(spec, randomBytes(4)));
    return true;
  },
  connect: (req) => connectMany(Number(req['count']), Number(req['concurrency'] ?? 64), Number(req['timeoutMs'] ?? 20_000)),
  connectPublisher: async () => {
    const { spec: s, pool: p } = need();
    const c = new Client(p, false);
    await c.connect(s.port, localAddress(s), 20_000);
    publisher = c;
    return true;
  },
  counters: () => counters(),
  echoStart: (req) => {
    const { pool: p } = need();
    p.window = Math.max(1, Number(req['window'] ?? 1));
    p.mode = 'echo';
    for (const c of clients) c.startEcho();
    return counters();
  },
  echoStop: () => {
    need().pool.mode = 'idle';
    return counters();
  },
  /** Round trips, one message in flight per connection (ping-pong). */
  rttStart: () => {
    const { pool: p } = need();
    p.mode = 'rtt';
    p.samples = [];
    p.recording = false;
    for (const c of clients) c.sendTimed();
    return true;
  },
  rttRecord: (req) => {
    const { pool: p } = need();
    p.recording = req['on'] === true;
    return counters();
  },
  /** Stops the ping-pong; the percentiles are computed here (no sample crosses IPC). */
  rttStop: () => {
    const { pool: p } = need();
    p.recording = false;
    p.mode = 'idle';
    const sorted = Float64Array.from(p.samples).sort();
    p.samples = [];
    const at = (q: number): number => percentileSorted(sorted, q);
    return {
      count: sorted.length,
      p50Ms: at(50),
      p90Ms: at(90),
      p99Ms: at(99),
      p999Ms: at(99.9),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
      counters: counters(),
    };
  },
  /** Closes the newest `count` connections on purpose; resolves when their sockets are closed. */
  disconnect: async (req) => {
    const n = Math.min(clients.length, Math.max(0, Number(req['count'] ?? 0)));
    const gone = clients.splice(clients.length - n, n);
    await Promise.all(gone.map((c) => c.leave()));
    return clients.length;
  },
  /** Fan-out mode; a round is complete here when every receiver has `burst` broadcasts. */
  fanReset: (req) => {
    const { pool: p } = need();
    p.mode = 'fan';
    p.resetFan(clients.length, Number(req['burst'] ?? 1));
    return clients.length;
  },
  /** `count` broadcasts in one write (a burst); resolves with the CLOCK_MONOTONIC time of the write. */
  publish: (req) => {
    if (!publisher) throw new Error('no publisher');
    const n = Math.max(1, Number(req['count'] ?? 1));
    const buf = need().pool.pubBurst(n);
    const t = monoMicros();
    publisher.write(buf);
    return t;
  },
  waitRound: (req) => need().pool.waitRound(Number(req['round'])),
  stop: () => {
    if (pool) pool.shuttingDown = true;
    for (const c of clients) c.destroy();
    publisher?.destroy();
    setTimeout(() => process.exit(0), 20);
    return true;
  },
});
