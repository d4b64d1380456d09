import type { AnyEvents, BackoffOptions, ClientLifecycle, StelarError } from '@stelar/core/client';
import type { StelarClient } from './client';
import type { BrowserClientOptions, DialError, resolveUrl } from './options';

// The types of dist/stelar.min.js, whose client has issue 14's set only (scripts/bundle.mjs builds
// it with src/features.ts switched off): what it lacks is left out of its types too.

/** Members the client of stelar.min.js does not have (counters, and `connect`'s options below). */
type FullOnly = 'messagesSent' | 'messagesReceived' | 'connectedAt' | 'lastError' | 'connect' | 'onLifecycle';

/** Lifecycle notifications of stelar.min.js's client (no `connect_error`, no `recovery_failed`). */
export type MinLifecycle = Omit<ClientLifecycle, 'connect_error' | 'recovery_failed'>;

/**
 * The client of dist/stelar.min.js: events, requests, rooms, reconnection with backoff, offline
 * queue, heartbeats. No connection-state recovery, `connect_error`, `connect()` options,
 * `reconnect.delay`, counters or logger: those are in dist/stelar.full.min.js and the ESM/CJS entry.
 */
export type MinClient<In extends object = AnyEvents, Out extends object = In> = Omit<StelarClient<In, Out>, FullOnly> & {
  /** Resolves once the server accepted the session; rejects on a refusal, when attempts run out, or on `close()`. */
  connect(): Promise<void>;
  onLifecycle<K extends keyof MinLifecycle>(name: K, fn: MinLifecycle[K]): () => void;
};

/** Options of stelar.min.js's client (no `recovery`, `logger` or `reconnect.delay`). */
export type MinClientOptions = Omit<BrowserClientOptions, 'recovery' | 'logger' | 'reconnect'> & { reconnect?: boolean | BackoffOptions };

/** The global `Stelar` that dist/stelar.min.js defines. */
export interface MinGlobal {
  connect<In extends object = AnyEvents, Out extends object = In>(url?: string | URL, options?: MinClientOptions): MinClient<In, Out>;
  createClient<In extends object = AnyEvents, Out extends object = In>(url?: string | URL, options?: MinClientOptions): MinClient<In, Out>;
  StelarClient: new <In extends object = AnyEvents, Out extends object = In>(url?: string | URL, options?: MinClientOptions) => MinClient<In, Out>;
  StelarError: typeof StelarError;
  DialError: typeof DialError;
  resolveUrl: typeof resolveUrl;
}
