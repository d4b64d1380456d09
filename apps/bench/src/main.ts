/**
 * `npm run bench`: every cell against every server, each in its own process; writes
 * bench/results/*.json, bench/results/ratios.svg and the tables of bench/README.md.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isServerKind, SERVER_KINDS, type ServerKind } from './lib/common';
import { presetConfig, type PresetName } from './lib/config';
import { killAllChildren } from './lib/ipc';
import { writeOutputs } from './lib/output';
import { recompute, runSuite, SCENARIOS, type Results, type ScenarioName } from './lib/suite';

const HELP = `usage: node apps/bench/dist/main.js [options]
  --preset full|smoke     sizes and durations (default full)
  --rounds N              interleaved rounds; each figure is the median (default 3; --runs is an alias)
  --seconds S             measured window of every timed cell (default 5)
  --servers a,b           subset of: ${SERVER_KINDS.join(', ')}
  --scenarios a,b         subset of: ${SCENARIOS.join(', ')} (default: all but deflate)
  --no-profile            skip the CPU profiles and heap snapshots of the Stelar server
  --no-pin                do not pin servers and generators to separate cores (taskset)
  --results DIR           results directory (default <repo>/bench/results)
  --readme FILE|none      README to update (default <repo>/bench/README.md)
  --source-addresses N    spread many connections over 127.0.0.2..N+1 (default: automatic)
  --stelar-node-args "…"  extra Node options for the Stelar server processes only (experiments)
  --render FILE           no run: recompute ratios/targets of a results JSON, rewrite README and chart`;

function main(): Promise<number> {
  const distDir = dirname(fileURLToPath(import.meta.url));
  const repo = resolve(distDir, '../../..');
  const argv = process.argv.slice(2);
  const opt = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      console.log(HELP);
      return Promise.resolve(0);
    }
    if (a === '--no-profile' || a === '--no-pin') opt.set(a.slice(2), '1');
    else if (a.startsWith('--')) {
      const [k, v] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), argv[++i]];
      if (v === undefined) throw new Error(`${a} needs a value`);
      opt.set(k, v);
    } else throw new Error(`unexpected argument ${a}\n${HELP}`);
  }
  const preset = (opt.get('preset') ?? 'full') as PresetName;
  if (preset !== 'full' && preset !== 'smoke') throw new Error(`unknown preset ${preset}`);
  const resultsDir = resolve(opt.get('results') ?? join(repo, 'bench', 'results'));
  const readmeOpt = opt.get('readme');
  const readme = readmeOpt === 'none' ? undefined : resolve(readmeOpt ?? join(repo, 'bench', 'README.md'));
  const cfg = presetConfig(preset, {
    distDir,
    profileDir: join(resultsDir, 'profiles'),
    repoRoot: repo,
    log: (s) => console.log(s),
  });
  const rounds = opt.get('rounds') ?? opt.get('runs');
  if (rounds !== undefined) cfg.rounds = Math.max(1, Number.parseInt(rounds, 10) || 1);
  const seconds = opt.get('seconds');
  if (seconds !== undefined) {
    const s = Number(seconds);
    if (!(s > 0)) throw new Error('--seconds needs a positive number');
    cfg.durationMs = Math.round(s * 1000);
  }
  const servers = opt.get('servers');
  if (servers !== undefined) {
    const list = servers.split(',').map((s) => s.trim());
    for (const s of list) if (!isServerKind(s)) throw new Error(`unknown server ${s}`);
    cfg.servers = list as ServerKind[];
  }
  const scenarios = opt.get('scenarios');
  if (scenarios !== undefined) {
    const list = scenarios.split(',').map((s) => s.trim());
    for (const s of list) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`);
    cfg.scenarios = list as ScenarioName[];
  }
  if (opt.has('no-profile')) cfg.profile.enabled = false;
  if (opt.has('no-pin')) cfg.pin = false;
  const extra = opt.get('stelar-node-args');
  if (extra !== undefined) cfg.stelarExecArgv = extra.split(/\s+/).filter((x) => x.length > 0);
  const sa = opt.get('source-addresses');
  if (sa !== undefined) cfg.sourceAddresses = Number(sa);
  const command = process.env['npm_lifecycle_event'] === 'bench' && argv.length === 0 ? 'npm run bench' : `node apps/bench/dist/main.js${argv.length ? ` ${argv.join(' ')}` : ''}`;

  const render = opt.get('render');
  if (render !== undefined) {
    const r = recompute(JSON.parse(readFileSync(resolve(render), 'utf8')) as Results);
    const w = writeOutputs(r, resultsDir, readme, false);
    console.log(`chart:   ${w.svg}${w.readme ? `\nreadme:  ${w.readme}` : ''}`);
    return Promise.resolve(0);
  }

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllChildren();
      process.exit(130);
    });
  }
  return runSuite(cfg, command).then((r) => {
    const w = writeOutputs(r, resultsDir, readme);
    console.log(`\nresults: ${w.json}\nchart:   ${w.svg}${w.readme ? `\nreadme:  ${w.readme}` : ''}`);
    console.log(`load average (1 min) over the run: ${r.load.min}–${r.load.max}, median ${r.load.median}`);
    for (const t of r.targets) {
      const f = (x: number | null): string => (x === null ? 'n/a' : t.unit === 'B' ? `${Math.round(x)} B` : `${x.toFixed(2)}x`);
      console.log(`  ${t.met === null ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'} ${t.label}: ${f(t.measured)} (${f(t.min)}–${f(t.max)}; goal ${t.op} ${t.goal}${t.unit === 'B' ? ' B' : 'x'})`);
    }
    return 0;
  });
}

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    killAllChildren();
    process.exit(1);
  },
);
