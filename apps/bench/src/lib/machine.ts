/** The machine a run happened on, and the file-descriptor limit raised where possible. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  v8: string;
  platform: string;
  kernel: string;
  totalMemGiB: number;
  /** RLIMIT_NOFILE (soft/hard) the children inherit. */
  fdLimit: { soft: number | null; hard: number | null; raised: boolean };
  /** net.ipv4.ip_local_port_range. */
  ephemeralPorts: { low: number; high: number } | null;
  /** 1-minute load average when the run started and ended (other work on the machine skews results). */
  loadAvgStart: number;
  loadAvgEnd?: number;
}

function readLimit(): { soft: number | null; hard: number | null } {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line ? /Max open files\s+(\S+)\s+(\S+)/.exec(line) : null;
    const num = (s: string | undefined): number | null => (s === undefined || s === 'unlimited' ? null : Number(s));
    return { soft: num(m?.[1]), hard: num(m?.[2]) };
  } catch {
    return { soft: null, hard: null };
  }
}

/**
 * Raises this process's RLIMIT_NOFILE (inherited by every child) with `prlimit`, up to
 * fs.nr_open when permitted (root), else to the hard limit. Never fails.
 */
export function raiseFdLimit(target = 1_048_576): { soft: number | null; hard: number | null; raised: boolean } {
  const before = readLimit();
  let max = target;
  try {
    max = Math.min(target, Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || target);
  } catch {
    // not Linux
  }
  for (const spec of [`${max}:${max}`, `${before.hard ?? max}:${before.hard ?? max}`]) {
    const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${spec}`], { stdio: 'ignore' });
    if (r.status === 0) break;
  }
  const after = readLimit();
  return { ...after, raised: (after.soft ?? 0) > (before.soft ?? 0) };
}

export function ephemeralPorts(): { low: number; high: number } | null {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low !== undefined && high !== undefined ? { low, high } : null;
  } catch {
    return null;
  }
}

export function describeMachine(fdLimit: Machine['fdLimit']): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    fdLimit,
    ephemeralPorts: ephemeralPorts(),
    loadAvgStart: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

export function machineLine(m: Machine): string {
  return `${m.cores} × ${m.cpuModel}, ${m.totalMemGiB} GiB, Node ${m.node} (V8 ${m.v8}), ${m.platform} ${m.kernel}, open files ${m.fdLimit.soft ?? '∞'}`;
}

/** Whether `taskset` (util-linux) can set CPU affinity here. */
export function tasksetAvailable(): boolean {
  try {
    const r = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return r.status === 0;
  } catch {
    return false;
  }
}

/** Pins every thread of `pid` to `cores` (a taskset list, e.g. `0` or `1-3`); false when that failed. */
export function pinPid(pid: number, cores: string): boolean {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
  return r.status === 0;
}

/** Where the server processes and the load (generators) run: separate cores when there are ≥ 2. */
export interface Pinning {
  server: string;
  load: string;
}

export function choosePinning(cores: number): Pinning | null {
  if (cores < 2 || !tasksetAvailable()) return null;
  return { server: '0', load: cores === 2 ? '1' : `1-${cores - 1}` };
}
