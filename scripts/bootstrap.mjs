#!/usr/bin/env node
// Installs the workspace from the lockfile with the pinned pnpm (no global install needed).
// Idempotent: pnpm skips work when node_modules already matches the lockfile.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pm = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).packageManager;
const args = ['-y', pm, 'install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'];
const r = spawnSync('npx', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
if (r.status !== 0) process.exit(r.status ?? 1);
