/**
 * Independent peer (a): Debian's Python `websockets` (a strict RFC 6455/7692 implementation, not
 * written here) as a client of Stelar: the raw echo server and the Stelar protocol over
 * `createServer`, with permessage-deflate on and off, messages from 0 B to 16 MiB, fragmented.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, type StelarServer } from '@stelar/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoServer, type EchoServer } from '../src/peers';

/** Debian's interpreter with python3-websockets; STELAR_PYTHON points elsewhere. */
const PYTHON = process.env['STELAR_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../peers/python_client.py', import.meta.url));
const MiB = 1024 * 1024;

interface PyResult {
  code: number | null;
  checks: { check: string; ok: boolean; [k: string]: unknown }[];
  summary: { checks: number; failed: number; seconds: number } | undefined;
  stderr: string;
}

function runPython(mode: 'echo' | 'stelar' | 'edge', url: string, deflate: boolean): Promise<PyResult> {
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [SCRIPT, mode, url, ...(deflate ? ['--deflate'] : [])],
      { timeout: 60_000, maxBuffer: 16 * MiB },
      (err, stdout, stderr) => {
        const lines = stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          checks: lines.filter((l) => !l['summary']) as PyResult['checks'],
          summary: lines.find((l) => l['summary']) as PyResult['summary'],
          stderr,
        });
      },
    );
  });
}

/**
 * Why the peer cannot run, or undefined. A missing peer fails every test below (it never skips:
 * a skipped test proves nothing, and CI fails on skips anyway).
 */
function pythonProblem(): string | undefined {
  const install = 'install it (Debian: apt-get install python3-websockets; scripts/system-deps.sh does it)';
  if (!existsSync(PYTHON)) return `${PYTHON} not found: ${install}`;
  const r = spawnSync(PYTHON, ['-c', 'import websockets'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    const why = r.error?.message ?? r.stderr.trim().split('\n').pop() ?? `exit ${String(r.status)}`;
    return `${PYTHON} cannot import websockets (${why}): ${install}`;
  }
  return undefined;
}

const PROBLEM = pythonProblem();
function requirePython(): void {
  if (PROBLEM) throw new Error(`independent peer Python websockets unavailable: ${PROBLEM}`);
}

describe('independent peer: Python websockets client', { timeout: 90_000 }, () => {
  const echo: Record<string, EchoServer> = {};
  const stelar: Record<string, StelarServer> = {};
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    // Production compression threshold (1024 B) on the echo server.
    echo['on'] = await startEchoServer({ threshold: 1024 });
    echo['off'] = await startEchoServer({ deflate: false });
    for (const mode of ['on', 'off'] as const) {
      const server = createServer({
        port: 0,
        host: '127.0.0.1',
        maxFrameSize: 17 * MiB,
        heartbeat: false,
        ws: { perMessageDeflate: mode === 'on' },
      });
      server.on('echo', (data: unknown) => data);
      server.on('bin', (data: unknown, conn) => {
        conn.emit('bin', data as Uint8Array);
      });
      ports[mode] = (await server.listen()).port!;
      stelar[mode] = server;
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values(echo).map((s) => s.close()));
    await Promise.all(Object.values(stelar).map((s) => s.close({ timeout: 1000 })));
  });

  for (const mode of ['echo', 'stelar'] as const) {
    for (const deflate of [false, true]) {
      it(`${mode} server, permessage-deflate ${deflate ? 'on' : 'off'}: every check passes`, async () => {
        requirePython();
        const key = deflate ? 'on' : 'off';
        const url = mode === 'echo' ? `ws://127.0.0.1:${echo[key]!.port}/` : `ws://127.0.0.1:${ports[key]}/`;
        const r = await runPython(mode, url, deflate);
        const failed = r.checks.filter((c) => !c.ok);
        if (failed.length > 0 || r.code !== 0) console.log(JSON.stringify(failed, null, 1), r.stderr.slice(-2000));
        expect(failed).toEqual([]);
        expect(r.summary?.failed).toBe(0);
        expect(r.checks.length).toBeGreaterThan(mode === 'echo' ? 30 : 10);
        console.log(`python ${mode} deflate=${deflate}: ${r.summary?.checks} checks in ${r.summary?.seconds} s`);
      });
    }
  }

  it('an incompressible 16 MiB message (the limit) is echoed, with and without deflate', async () => {
    requirePython();
    const off = await runPython('edge', `ws://127.0.0.1:${echo['off']!.port}/`, false);
    expect(off.checks).toEqual([expect.objectContaining({ ok: true })]);
    const on = await runPython('edge', `ws://127.0.0.1:${echo['on']!.port}/`, true);
    // Deflate makes incompressible data slightly larger: the compressed frame may exceed the
    // limit by deflate's overhead, and only the inflated size counts (conformance case 12.7.1).
    expect(on.checks).toEqual([expect.objectContaining({ ok: true })]);
  });
});
