/** Browser bundle sizes: `@stelar/client-browser`'s dist/stelar.min.js against socket.io-client's. */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync, constants as zc } from 'node:zlib';

export interface BundleEntry {
  name: string;
  file: string;
  /** Bytes of the minified file, and gzipped (level 9); null when the file is missing. */
  minBytes: number | null;
  gzipBytes: number | null;
  note?: string;
}

export interface BundleResult {
  entries: BundleEntry[];
  /** stelar gzip / socket.io-client gzip, when both exist. */
  gzipRatio: number | null;
}

function measure(name: string, file: string | undefined, missingNote: string): BundleEntry {
  if (!file || !existsSync(file)) return { name, file: file ?? '?', minBytes: null, gzipBytes: null, note: missingNote };
  const data = readFileSync(file);
  return { name, file, minBytes: data.length, gzipBytes: gzipSync(data, { level: zc.Z_BEST_COMPRESSION }).length };
}

function packageDir(req: NodeRequire, pkg: string): string | undefined {
  try {
    return dirname(req.resolve(`${pkg}/package.json`));
  } catch {
    return undefined;
  }
}

export function measureBundles(fromDir: string): BundleResult {
  const req = createRequire(join(fromDir, 'noop.js'));
  const stelarDir = packageDir(req, '@stelar/client-browser');
  const sioDir = packageDir(req, 'socket.io-client');
  const stelar = measure(
    '@stelar/client-browser',
    stelarDir && join(stelarDir, 'dist', 'stelar.min.js'),
    'dist/stelar.min.js not built yet (the browser bundle is being written)',
  );
  const sio = measure('socket.io-client', sioDir && join(sioDir, 'dist', 'socket.io.min.js'), 'socket.io-client not installed');
  const gzipRatio = stelar.gzipBytes !== null && sio.gzipBytes ? stelar.gzipBytes / sio.gzipBytes : null;
  return { entries: [stelar, sio], gzipRatio };
}
