/**
 * The server of hardening-app-flood, alone in its process so its memory can be measured:
 * `createServer` at default limits on TCP and WebSocket, with a `slow` request handler that
 * ignores `conn.signal` (the worst case) and an `echo` one.
 *
 * Talks in lines. Prints `ready {port, tcpPort}`. On `baseline` it records the RSS now and from
 * then on samples it every 5 ms, printing `baseline {rss}`. On `report` it prints `report {…}`:
 * the RSS now, the highest sample since the baseline, the process's lifetime peak
 * (`resourceUsage().maxRSS`), heap, and the counters. On `exit` it closes and exits.
 */
import { createInterface } from 'node:readline';
import { createServer } from '@stelar/server';

const server = createServer({ port: 0, tcpPort: 0, host: '127.0.0.1' });
server.on('slow', async (n: unknown) => {
  await new Promise((r) => setTimeout(r, 3000));
  return n;
});
server.on('echo', (d: unknown) => d);
server.onError(() => undefined);
const { port, tcpPort } = await server.listen();

let baseline = 0;
let peak = 0;
let sampler: ReturnType<typeof setInterval> | undefined;
const say = (word: string, value: unknown): void => void process.stdout.write(`${word} ${JSON.stringify(value)}\n`);

createInterface({ input: process.stdin }).on('line', (cmd) => {
  if (cmd === 'baseline') {
    baseline = peak = process.memoryUsage.rss();
    sampler ??= setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);
    say('baseline', { rss: baseline });
  } else if (cmd === 'report') {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    const s = server.getStats();
    say('report', {
      rss: m.rss,
      baseline,
      peak,
      maxRss: process.resourceUsage().maxRSS * 1024,
      heapUsed: m.heapUsed,
      arrayBuffers: m.arrayBuffers,
      open: s.connections.open,
      opening: s.connections.opening,
      inFlightHandlers: s.acks.inFlightHandlers,
      slowConsumer: s.backpressure.slowConsumerDisconnects,
      // Not the labels themselves: they would be megabytes if they held what peers sent.
      labels: Object.keys(s.errors).length,
      longestLabel: Math.max(0, ...Object.keys(s.errors).map((l) => l.length)),
      peerErrors: s.errors['peer:other'] ?? 0,
    });
  } else if (cmd === 'exit') {
    if (sampler) clearInterval(sampler);
    void server.close({ timeout: 200 }).then(() => process.exit(0));
  }
});
say('ready', { port, tcpPort });
