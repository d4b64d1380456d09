import type { AnyEvents, BackoffOptions, ClientLifecycle, ClientRequestOptions, EventData, EventName, EventReply, SendOptions, StelarError } from '@stelar/core/client';
import type { StelarClient } from './client';
import type { BrowserClientOptions, DialError, resolveUrl } from './options';

// The types of dist/stelar.min.js, whose client has issue 14's set only (scripts/bundle.mjs builds
// it with src/features.ts switched off): what it lacks is left out of its types too.

/** Members the client of stelar.min.js does not have (counters, and `connect`'s options below), or has with narrower types (`emit`, `request`: no binary values inside data). */
type FullOnly = 'messagesSent' | 'messagesReceived' | 'connectedAt' | 'lastError' | 'connect' | 'onLifecycle' | 'emit' | 'request';

/** Binary values: stelar.min.js refuses them inside JSON data (a TypeError), the full file sends them. */
type Binary = ArrayBufferView | ArrayBufferLike;

/**
 * `true` when `T` is or holds a binary value, through objects and arrays (8 levels deep); `any`,
 * `unknown` and `object` do not count (they are refused when sending, not when compiling).
 */
type HoldsBinary<T, Depth extends 0[] = []> = 0 extends 1 & T
  ? false
  : T extends Binary
    ? true
    : Depth['length'] extends 8
      ? false
      : T extends object
        ? true extends { [K in keyof T]-?: HoldsBinary<T[K], [...Depth, 0]> }[keyof T]
          ? true
          : false
        : false;

/** The members of a data type that stelar.min.js can send as JSON: those that hold no binary value. */
type JsonOnly<T> = T extends unknown ? (true extends HoldsBinary<T> ? never : T) : never;

/** `emit`'s and `request`'s arguments after the event name, with data of type `D`. */
type Args<D, O> = undefined extends D ? [data?: D, options?: O] : [data: D, options?: O];

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
  /**
   * Sends an event. A `Uint8Array` or `ArrayBuffer` as the whole data is a BINARY frame; a binary
   * value inside data does not compile (at run time it throws a TypeError: use stelar.full.min.js).
   */
  emit<K extends EventName<Out>>(event: K, ...args: Args<EventData<Out, K> extends infer D ? (D extends Uint8Array | ArrayBuffer ? D : JsonOnly<D>) : never, SendOptions>): boolean;
  /** Sends a request. Data that is or holds a binary value does not compile (at run time the request rejects with a TypeError). */
  request<K extends EventName<Out>>(event: K, ...args: Args<JsonOnly<EventData<Out, K>>, ClientRequestOptions>): Promise<EventReply<Out, K>>;
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
