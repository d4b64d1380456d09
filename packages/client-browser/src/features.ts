/*
 * Build-time switches of the client's features beyond issue 14's <script> set (events, requests,
 * rooms, reconnection with backoff, offline queue, heartbeats). The package's ESM and CommonJS
 * builds and dist/stelar.full.min.js have all of them (these values); scripts/bundle.mjs builds
 * dist/stelar.min.js with them false (it replaces this module), and the minifiers drop the code
 * behind each (esbuild, or oxc's pass after it for helpers at a module's top level, like BINARY's
 * in src/wire.ts). README (Size) gives the gzip cost of each, measured by scripts/size.mjs.
 *
 * Typed `boolean` so the compiler checks both branches.
 */

/** Connection-state recovery (docs/protocol.md §8): `recover` in CONNECT, offsets, the ring of sent frames, `recovered`, `recovery_failed`. */
export const RECOVERY: boolean = true;
/** `connect_error`, `connect({ timeout, signal })`, `reconnect.delay`, `NOT_STELAR`. */
export const ATTEMPTS: boolean = true;
/** `messagesSent`, `messagesReceived`, `connectedAt`, `lastError`. */
export const COUNTERS: boolean = true;
/** The `logger` option. */
export const LOGGER: boolean = true;
/** Binary values inside JSON data, both ways (docs/protocol.md §3, the attachment form). */
export const BINARY: boolean = true;
