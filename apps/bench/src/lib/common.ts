/**
 * What the controller, the server processes and the load generators share: server kinds, the
 * bench's tiny application protocol, and the messages they exchange over IPC.
 */

/** Every server the suite knows, each run in its own child process. */
export const SERVER_KINDS = ['stelar-ws', 'stelar-tcp', 'stelar-tls', 'ws', 'ws-bu', 'ws-frame', 'socketio', 'uws', 'net'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/**
 * The `ws` variants: `ws` as installed plainly (pure-JS masking: `WS_NO_BUFFER_UTIL=1`, ws's own
 * switch in `lib/buffer-util.js`), `ws-bu` with the optional native `bufferutil`, and `ws-frame`
 * (plain) whose broadcast frames the message once with `WebSocket.Sender.frame` and writes that
 * frame to each recipient's socket.
 */
export const WS_VARIANTS: readonly ServerKind[] = ['ws', 'ws-bu', 'ws-frame'];

/** Servers speaking WebSocket. */
export const WS_KINDS: readonly ServerKind[] = ['stelar-ws', 'ws', 'ws-bu', 'ws-frame', 'socketio', 'uws'];

export function isServerKind(s: string): s is ServerKind {
  return (SERVER_KINDS as readonly string[]).includes(s);
}

/** How a client talks to a server kind. */
export type Wire = 'ws' | 'tcp' | 'tls';

export function wireOf(kind: ServerKind): Wire {
  if (kind === 'stelar-tcp' || kind === 'net') return 'tcp';
  if (kind === 'stelar-tls') return 'tls';
  return 'ws';
}

/** Whether a kind speaks the plain servers' op-byte protocol (see {@link OP_ECHO}). */
export function isPlain(kind: ServerKind): boolean {
  return kind === 'ws' || kind === 'ws-bu' || kind === 'ws-frame' || kind === 'uws' || kind === 'net';
}

/**
 * Application layer of the plain servers (the `ws` variants, `uws`, `net`): the first byte of a message says
 * what to do with it. Stelar and socket.io use event names instead (`echo`, `pub` → `fan`).
 */
export const OP_ECHO = 0x01;
export const OP_PUB = 0x02;
/** The one room of the fan-out scenario. */
export const ROOM = 'room';
/** Loopback address everything binds to and dials. */
export const HOST = '127.0.0.1';

/** Start options of a server process. */
export interface ServerStart {
  kind: ServerKind;
  /** Join every connection to {@link ROOM} as it opens (fan-out scenario). */
  room: boolean;
  /** permessage-deflate offered by the server (WebSocket kinds). */
  deflate: boolean;
  /** Directory holding `key.pem` and `cert.pem` (stelar-tls). */
  certDir?: string | undefined;
  /** Connection-state recovery on (Stelar kinds). */
  recovery?: boolean;
}

/** Environment of every child process: ws without bufferutil unless the kind is `ws-bu`. */
export function childEnv(kind: ServerKind | undefined, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  if (kind === 'ws-bu') delete env['WS_NO_BUFFER_UTIL'];
  else env['WS_NO_BUFFER_UTIL'] = '1';
  return env;
}

/** CPU time and connections, sampled inside a server process at the edges of a window (cheap). */
export interface CpuStats {
  /** `process.cpuUsage()`: user and system CPU time in µs. */
  user: number;
  system: number;
  /** Open connections as the server counts them. */
  connections: number;
  /** `performance.now()` of the server process (ms). */
  at: number;
}

/** CpuStats and `process.memoryUsage()` in bytes, sampled after a full GC. */
export interface ServerStats extends CpuStats {
  rss: number;
  /**
   * Part of `rss` that is pages of mapped files (Linux `RssFile`): code of node and its libraries
   * touched for the first time (the optimising compiler's, for one) counts in RSS too, once per
   * process and not per connection. 0 where `/proc/self/status` is missing.
   */
  rssFile: number;
  /** Resident pages of the V8 heap (`total_physical_size`): live objects, young generation included. */
  v8Physical: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** What a generator connects. */
export interface ClientSpec {
  kind: ServerKind;
  port: number;
  /** Offer permessage-deflate (and send pre-compressed messages). */
  deflate: boolean;
  /** Application payload size in bytes. */
  size: number;
  /** Extra loopback source addresses to spread connections over (127.0.0.2 …); 0 = kernel's choice. */
  sourceAddresses: number;
  /** Stelar: opt in to connection-state recovery in CONNECT (`"recover": {}`). */
  recover?: boolean;
}

/** Counters of a generator, sampled with its own clock. */
export interface GenCounters {
  /** Data messages received since the connections opened. */
  messages: number;
  /** Bytes received on the sockets (after the handshakes). */
  bytes: number;
  /** ERROR/DISCONNECT frames, unexpected closes. */
  errors: number;
  /** Connections that closed while they should be open. */
  closed: number;
  /** `performance.now()` (ms). */
  at: number;
  /** `process.cpuUsage()` of the generator (µs). */
  user: number;
  system: number;
}

/** Monotonic clock shared by every process on the machine (CLOCK_MONOTONIC), in µs. */
export function monoMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Text used as payload everywhere: compressible, and valid inside a JSON string unescaped. */
const WORDS =
  'stelar sends small messages to many clients over websocket and tcp with rooms acks and backpressure the quick brown fox jumps over the lazy dog 0123456789 ';

/** `size` bytes of ASCII text (the same bytes for every server). */
export function payloadText(size: number): string {
  let s = '';
  while (s.length < size) s += WORDS;
  return s.slice(0, size);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
