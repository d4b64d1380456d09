#!/usr/bin/env node
// Checks every published package (packages/*/ without "private") as users will install it.
// For each one, after `npm run build`:
//   1. packs it with the workspace's pinned pnpm, the way `changeset publish` does (pnpm replaces
//      `workspace:` ranges and adds the repository's LICENSE);
//   2. reads the tarball: package.json has license MIT and repository { type, url, directory }
//      naming its own folder, no `workspace:` range is left, LICENSE and README.md are inside;
//   3. `publint run <tarball> --strict`: must print "All good!" (no error, warning or suggestion);
//   4. `attw <tarball>` (@arethetypeswrong/cli, what `attw --pack` runs on npm's tarball): no
//      problem for any entry point and any module resolution, except the ones listed in KNOWN.
// Prints one line per package and exits 1 when anything is wrong. Both linters are pinned root
// devDependencies, so nothing is downloaded here.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const REPOSITORY_URL = 'git+https://github.com/stelar-rt/stelar.git';

/**
 * attw problems we know about and accept for now, each with the reason. An entry that no longer
 * happens fails the check too, so this list cannot go stale.
 */
const KNOWN = [];

/** The files of a .tgz: name (without the leading "package/") → contents. */
function untar(tgz) {
  const buf = gunzipSync(readFileSync(tgz));
  const files = new Map();
  let off = 0;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a, b) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const name = (str(345, 500) ? `${str(345, 500)}/` : '') + str(0, 100);
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = str(156, 157);
    off += 512;
    if (type === '0' || type === '') files.set(name.replace(/^package\//, ''), buf.subarray(off, off + size));
    off += Math.ceil(size / 512) * 512;
  }
  return files;
}

function run(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', (err) => reject(new Error(`${cmd}: ${err.message}`)));
    child.on('close', (status) => resolve({ status, out }));
  });
}

function checkManifest(manifest, folder, files) {
  const problems = [];
  if (manifest.license !== 'MIT') problems.push(`license is ${JSON.stringify(manifest.license)}, not "MIT"`);
  const repo = manifest.repository;
  if (!repo || repo.type !== 'git' || repo.url !== REPOSITORY_URL || repo.directory !== folder) {
    problems.push(`repository must be { type: "git", url: "${REPOSITORY_URL}", directory: "${folder}" }, is ${JSON.stringify(repo)}`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) problems.push(`${field}.${dep} is still "${range}" in the tarball`);
    }
  }
  for (const f of ['LICENSE', 'README.md', 'package.json']) if (!files.has(f)) problems.push(`${f} is not in the tarball`);
  return problems;
}

const dirs = readdirSync(join(root, 'packages'))
  .filter((d) => existsSync(join(root, 'packages', d, 'package.json')))
  .sort();
const work = mkdtempSync(join(tmpdir(), 'stelar-pack-'));
const knownSeen = new Set();

/** Packs and checks one package; resolves to the lines to print and whether it failed. */
async function check(d) {
  const folder = `packages/${d}`;
  const dir = join(root, folder);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) return { lines: [], failed: false };
  const problems = [];
  const dest = join(work, d);
  const packed = await run(bin('pnpm'), ['pack', '--pack-destination', dest], dir);
  const tgz = existsSync(dest) ? readdirSync(dest).find((f) => f.endsWith('.tgz')) : undefined;
  if (packed.status !== 0 || !tgz) return { lines: [`FAIL ${pkg.name}: pnpm pack failed`, packed.out.trim()], failed: true };
  const tarball = join(dest, tgz);
  const files = untar(tarball);
  const manifestBytes = files.get('package.json');
  problems.push(...checkManifest(manifestBytes ? JSON.parse(manifestBytes.toString('utf8')) : {}, folder, files));

  const [lint, attw] = await Promise.all([
    run(bin('publint'), ['run', tarball, '--strict'], dir),
    run(bin('attw'), [tarball, '--format', 'json'], dir),
  ]);
  if (lint.status !== 0 || !/All good!/.test(lint.out)) problems.push(`publint --strict:\n${lint.out.trim()}`);

  let report;
  try {
    report = JSON.parse(attw.out.slice(attw.out.indexOf('{')));
  } catch {
    problems.push(`attw did not print a JSON report (exit ${attw.status}):\n${attw.out.trim()}`);
  }
  const accepted = [];
  if (report) {
    const found = Object.values(report.analysis?.problems ?? report.problems ?? {}).flat();
    for (const p of found) {
      const k = KNOWN.findIndex((e) => e.pkg === pkg.name && e.entrypoint === p.entrypoint);
      if (k >= 0) {
        knownSeen.add(k);
        accepted.push(`${p.kind} ${p.entrypoint} (${p.resolutionKind})`);
      } else {
        problems.push(`attw: ${p.kind} for ${p.entrypoint ?? '?'} under ${p.resolutionKind ?? '?'} resolution`);
      }
    }
    if (found.length === 0 && attw.status !== 0) problems.push(`attw exited ${attw.status} without a problem:\n${attw.out.trim()}`);
  }
  if (problems.length) return { lines: [`FAIL ${pkg.name}`, ...problems.map((p) => `  - ${p}`)], failed: true };
  const known = accepted.length ? ` except known: ${accepted.join(', ')}` : '';
  return { lines: [`ok   ${pkg.name}: ${tgz} (${files.size} files), publint --strict clean, attw clean${known}`], failed: false };
}

let failed = 0;
try {
  // Two at a time (the machine has two cores); results are printed in folder order.
  const results = new Array(dirs.length);
  let next = 0;
  const worker = async () => {
    while (next < dirs.length) {
      const i = next++;
      results[i] = await check(dirs[i]).catch((err) => ({ lines: [`FAIL ${dirs[i]}: ${err.message}`], failed: true }));
    }
  };
  await Promise.all([worker(), worker()]);
  for (const r of results) {
    for (const line of r.lines) console.log(line);
    if (r.failed) failed++;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
KNOWN.forEach((e, i) => {
  if (!knownSeen.has(i)) {
    failed++;
    console.log(`FAIL known problem no longer happens: ${e.pkg} ${e.entrypoint}; remove it from KNOWN in scripts/check-packages.mjs`);
  }
});
if (failed) {
  console.log(`check-packages: ${failed} problem(s)`);
  process.exit(1);
}
console.log('check-packages: every published package is clean');
