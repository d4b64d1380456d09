/**
 * A server process: starts one server kind and answers the controller's IPC requests. CPU time
 * and memory are sampled here, inside the process under test.
 *
 * Requests: `start` (ServerStart) → { port }; `stats` → ServerStats; `gc` → ServerStats after a
 * full collection (needs --expose-gc); `stop` → closes the server and exits (so --cpu-prof
 * writes its profile).
 */
import { performance } from 'node:perf_hooks';
import type { ServerStart, ServerStats } from './lib/common';
import { serveRequests } from './lib/ipc';
import { startServer, type RunningServer } from './lib/servers';


let running: RunningServer | undefined;

function stats(): ServerStats {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    user: cpu.user,
    system: cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    connections: running?.connections() ?? 0,
    at: performance.now(),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

process.on('uncaughtException', (err) => {
  process.stderr.write(`server process: uncaught ${err.stack ?? String(err)}\n`);
});

serveRequests({
  start: async (req) => {
    if (running) throw new Error('already started');
    running = await startServer(req as unknown as ServerStart);
    return { port: running.port, pid: process.pid };
  },
  stats: () => stats(),
  gc: async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run the server process with --expose-gc');
    for (let i = 0; i < 3; i++) {
      gc();
      await tick();
    }
    return stats();
  },
  stop: () => {
    // Exit right after answering: the kernel closes the sockets, and a --cpu-prof profile is
    // written on exit. (Graceful shutdown is not what is measured.)
    running = undefined;
    setTimeout(() => process.exit(0), 10);
    return true;
  },
});
