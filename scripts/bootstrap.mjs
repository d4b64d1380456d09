#!/usr/bin/env node
// Installs the workspace from the lockfile with the pinned pnpm (no global install needed).
// Idempotent: pnpm skips work when node_modules already matches the lockfile.
//
// Never interactive (stdin is closed, no TTY prompt) and it survives a changed pnpm store: when
// node_modules was linked from another store (npm_config_store_dir, a moved or cleaned store, a
// new pnpm home), pnpm must purge and recreate node_modules. It asks first on a TTY and aborts
// without one, so we say yes up front (confirmModulesPurge=false). The purge also deletes the
// workspace's own copy of pnpm (a devDependency), so the pnpm doing it must not be that one:
// npx runs from a folder outside the repository, which makes it use its own cache, and pnpm is
// pointed at the repository with --dir.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pm = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).packageManager;
const args = [
  '-y',
  pm,
  '--dir',
  root,
  'install',
  '--frozen-lockfile',
  '--prefer-offline',
  '--reporter=append-only',
  '--config.confirm-modules-purge=false',
];
const r = spawnSync('npx', args, {
  cwd: tmpdir(),
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
});
if (r.error) {
  console.error(`bootstrap: could not run npx (${r.error.message}); Node 20 with npm is needed`);
  process.exit(1);
}
if (r.status !== 0) process.exit(r.status ?? 1);
