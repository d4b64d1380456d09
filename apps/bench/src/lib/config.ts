/** The two presets: `full` (the real run, ~10 minutes on 2 cores) and `smoke` (seconds, for CI). */
import { SERVER_KINDS } from './common';
import { SCENARIOS, type SuiteConfig } from './suite';

export type PresetName = 'full' | 'smoke';

export function presetConfig(name: PresetName, paths: Pick<SuiteConfig, 'distDir' | 'profileDir' | 'repoRoot' | 'log'>): SuiteConfig {
  const common = { servers: [...SERVER_KINDS], scenarios: [...SCENARIOS], sourceAddresses: -1, stelarExecArgv: [] as string[], ...paths };
  if (name === 'smoke') {
    return {
      ...common,
      preset: 'smoke',
      runs: 1,
      parallel: 3,
      echo: { conns: [1, 3], sizes: [32, 2048], warmupMs: 50, durationMs: 100, inflight: 8, inflightLarge: 4 },
      latency: { conns: 2, rate: 200, size: 64, warmupMs: 60, durationMs: 200 },
      rooms: { clients: [8, 30], tlsMaxClients: 20, rounds: 2, warmupRounds: 1, size: 32, generators: 2, concurrency: 10, settleMs: 50 },
      deflate: { conns: 2, size: 2048, warmupMs: 60, durationMs: 120, inflight: 4 },
      profile: { enabled: true, durationMs: 200, fanClients: 10, rounds: 2, jobs: ['tcp-echo'], heapServers: ['stelar-tcp'], heapConns: 20 },
    };
  }
  return {
    ...common,
    preset: 'full',
    runs: 3,
    parallel: 1,
    echo: { conns: [1, 100], sizes: [32, 1024, 65536], warmupMs: 500, durationMs: 1500, inflight: 64, inflightLarge: 16 },
    latency: { conns: 10, rate: 2000, size: 1024, warmupMs: 700, durationMs: 3000 },
    rooms: { clients: [1000, 10000], tlsMaxClients: 2000, rounds: 6, warmupRounds: 1, size: 64, generators: 2, concurrency: 256, settleMs: 500 },
    deflate: { conns: 10, size: 1024, warmupMs: 500, durationMs: 1500, inflight: 64 },
    profile: { enabled: true, durationMs: 4000, fanClients: 10000, rounds: 20, jobs: ['ws-echo', 'tcp-echo', 'ws-fanout', 'ws-connect'], heapServers: ['stelar-ws', 'stelar-tcp', 'ws', 'net'], heapConns: 2000 },
  };
}
