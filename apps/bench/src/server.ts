/**
 * A server process: starts one server kind and answers the controller's IPC requests. CPU time
 * and memory are sampled here, inside the process under test.
 *
 * Requests: `start` (ServerStart) → { port }; `stats` → CpuStats (CPU time only: it is taken at
 * the edges of measured windows, so it stays cheap); `gc` → ServerStats (with memory) after a
 * full collection (needs --expose-gc); `stop` → closes the server and exits (so --cpu-prof
 * writes its profile).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import type { CpuStats, ServerStart, ServerStats } from './lib/common';
import { serveRequests } from './lib/ipc';
import { startServer, type RunningServer } from './lib/servers';


let running: RunningServer | undefined;
let profiler: Session | undefined;
let loopDelay: IntervalHistogram | undefined;

function post<T>(session: Session, method: string, params: Record<string, unknown> = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

function cpuStats(): CpuStats {
  const cpu = process.cpuUsage();
  return { user: cpu.user, system: cpu.system, connections: running?.connections() ?? 0, at: performance.now() };
}

function rssFile(): number {
  try {
    const m = /RssFile:\s+(\d+)\s*kB/.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function stats(): ServerStats {
  const mem = process.memoryUsage();
  return {
    ...cpuStats(),
    rss: mem.rss,
    rssFile: rssFile(),
    v8Physical: getHeapStatistics().total_physical_size,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function fullGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the server process with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await tick();
  }
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`server process: uncaught ${err.stack ?? String(err)}\n`);
});

serveRequests({
  start: async (req) => {
    if (running) throw new Error('already started');
    running = await startServer(req as unknown as ServerStart);
    return { port: running.port, pid: process.pid };
  },
  stats: () => cpuStats(),
  /** Stelar with connection-state recovery: its gauges (absent sessions, log). */
  recoveryStats: () => running?.recovery?.() ?? null,
  gc: async () => {
    await fullGc();
    return stats();
  },
  /** Event-loop delay over a window (1 ms resolution): is the server's loop ever blocked? */
  loopDelayStart: () => {
    loopDelay?.disable();
    loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    return true;
  },
  loopDelayStop: () => {
    const h = loopDelay;
    if (!h) throw new Error('loop delay not started');
    h.disable();
    loopDelay = undefined;
    return { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
  },
  /** V8's CPU profiler (what --cpu-prof uses), over a window the controller chooses. */
  profileStart: async () => {
    if (profiler) throw new Error('profiler already running');
    const session = new Session();
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(session, 'Profiler.start');
    profiler = session;
    return true;
  },
  profileStop: async (req) => {
    const session = profiler;
    if (!session) throw new Error('profiler not running');
    profiler = undefined;
    const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
    session.disconnect();
    writeFileSync(String(req['file']), JSON.stringify(profile));
    return true;
  },
  heapSnapshot: async (req) => {
    await fullGc();
    return writeHeapSnapshot(String(req['file']));
  },
  stop: () => {
    // Exit right after answering: the kernel closes the sockets, and a --cpu-prof profile is
    // written on exit. (Graceful shutdown is not what is measured.)
    running = undefined;
    setTimeout(() => process.exit(0), 10);
    return true;
  },
});
