import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/*.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  platform: 'node',
  target: 'node20',
  // The libraries under test run as installed, never re-bundled.
  external: ['ws', 'socket.io', 'socket.io-client', 'uWebSockets.js', 'bufferutil', 'ioredis', '@socket.io/redis-adapter'],
  // Stelar's packages are bundled in: a run uses the code built just before it, and is not
  // disturbed by a concurrent rebuild of packages/*/dist (profiles map back through the source map).
  noExternal: [/^@stelar\//],
});
