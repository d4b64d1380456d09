/**
 * The two presets: `full` (`npm run bench`, ~17 minutes on 2 cores) and `smoke` (well under a
 * minute, for CI: every cell with tiny sizes).
 */
import type { ServerKind } from './common';
import { PROFILE_JOBS, type EchoSpec, type ScenarioName, type SuiteConfig } from './suite';

export type PresetName = 'full' | 'smoke';

/** Who takes part in which cell (uWebSockets.js wherever it loads). */
const ONE: ServerKind[] = ['stelar-ws', 'stelar-tcp', 'ws', 'ws-bu', 'socketio', 'uws', 'net'];
const LARGE: ServerKind[] = ['stelar-ws', 'stelar-tcp', 'ws', 'ws-bu', 'uws', 'net'];
const PIPE: ServerKind[] = ['stelar-ws', 'stelar-tcp', 'stelar-tls', 'ws', 'ws-bu', 'socketio', 'uws', 'net'];
const RTT: ServerKind[] = ['stelar-ws', 'stelar-tcp', 'ws', 'socketio', 'uws', 'net'];
const FAN: ServerKind[] = ['stelar-ws', 'stelar-tcp', 'ws', 'ws-frame', 'socketio', 'uws', 'net'];
const CONN: ServerKind[] = ['stelar-ws', 'stelar-tcp', 'ws', 'socketio', 'uws', 'net'];
const DEFLATE: ServerKind[] = ['stelar-ws', 'ws', 'socketio', 'uws'];
/** Connection-state recovery (issue 12): Stelar only, on against off. */
const RECOVERY: ServerKind[] = ['stelar-ws', 'stelar-tcp'];

function echoSpecs(oifConns: number, large: number, pipeSizes: [number, number][]): EchoSpec[] {
  return [
    { shape: 'oif', table: 'one', conns: oifConns, size: 32, window: 1, servers: ONE },
    { shape: 'large', table: 'one', conns: 1, size: large, window: 1, servers: LARGE },
    ...pipeSizes.map(([size, window]): EchoSpec => ({ shape: `pipe-${size >= 1024 ? `${size / 1024}k` : size}`, table: 'pipelined', conns: 1, size, window, servers: PIPE })),
  ];
}

export function presetConfig(name: PresetName, paths: Pick<SuiteConfig, 'distDir' | 'profileDir' | 'repoRoot' | 'log'>): SuiteConfig {
  const servers = [...new Set([...ONE, ...PIPE, ...FAN])];
  const common = { servers, sourceAddresses: -1, stelarExecArgv: [] as string[], pin: true, ...paths };
  if (name === 'smoke') {
    return {
      ...common,
      preset: 'smoke',
      rounds: 1,
      parallel: 4,
      scenarios: ['echo', 'rtt', 'fanout', 'connections', 'deflate', 'recovery', 'bundle'] as ScenarioName[],
      durationMs: 120,
      warmupMs: 50,
      echo: echoSpecs(4, 200 * 1024, [
        [32, 8],
        [2048, 4],
      ]),
      rtt: { size: 32, servers: RTT },
      fanout: { clients: [8, 20], burst: 5, single: true, minBroadcasts: 10, size: 32, generators: 2, concurrency: 10, servers: FAN },
      connections: { memConns: 20, batch: 10, generators: 2, concurrency: 10, settleMs: 50, servers: CONN },
      deflate: { conns: 2, size: 2048, inflight: 4, servers: DEFLATE },
      recovery: { clients: 20, absent: 20, servers: RECOVERY },
      profile: { enabled: true, durationMs: 150, jobs: ['oif-tcp'], heapServers: ['stelar-tcp'], heapConns: 20 },
    };
  }
  return {
    ...common,
    preset: 'full',
    rounds: 3,
    parallel: 1,
    // permessage-deflate is not one of issue 13's rows: opt in with --scenarios …,deflate.
    scenarios: ['echo', 'rtt', 'fanout', 'connections', 'recovery', 'bundle'] as ScenarioName[],
    durationMs: 5000,
    warmupMs: 700,
    echo: echoSpecs(128, 1024 * 1024, [
      [32, 64],
      [1024, 64],
      [65536, 16],
    ]),
    rtt: { size: 32, servers: RTT },
    fanout: { clients: [1000], burst: 100, single: true, minBroadcasts: 100, size: 64, generators: 2, concurrency: 256, servers: FAN },
    connections: { memConns: 4000, batch: 2000, generators: 2, concurrency: 256, settleMs: 500, servers: CONN },
    deflate: { conns: 10, size: 1024, inflight: 64, servers: DEFLATE },
    recovery: { clients: 1000, absent: 2000, servers: RECOVERY },
    profile: { enabled: true, durationMs: 4000, jobs: [...PROFILE_JOBS], heapServers: ['stelar-ws', 'stelar-tcp', 'ws', 'net'], heapConns: 2000 },
  };
}
