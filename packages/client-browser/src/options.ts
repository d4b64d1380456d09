import { StelarError, type ClientOptions } from '@stelar/core/client';

// What the client (src/client.ts) and the Dialer for core's engine (src/dial.ts) share.

/** Options of a browser client: the engine's (auth, reconnect, queue, timeouts) plus the socket's. */
export interface BrowserClientOptions extends ClientOptions {
  /** Start connecting at once (`connect()` then returns the same attempt). Default true (for `connect`). */
  autoConnect?: boolean;
  /** WebSocket subprotocols to offer. Default: none. */
  protocols?: string | string[];
  /** Largest Stelar frame accepted from the server (totalLen included). Default 16 MiB. */
  maxFrameSize?: number;
  /**
   * `ws.bufferedAmount` in bytes above which volatile messages are dropped (and `dialWebSocket`'s
   * link reports BUFFERED). Default 1 MiB.
   */
  highWaterMark?: number;
  /** The WebSocket constructor to use. Default: the global `WebSocket`. */
  WebSocket?: typeof WebSocket;
}

/**
 * Why a dial failed. Browsers hide the HTTP status of a refused upgrade, so every failure before
 * the socket opens is `WS_DIAL_FAILED` (not fatal: the client retries per its reconnect policy).
 */
export class DialError extends StelarError {
  override name = 'DialError';
  /** Always false in a browser: the cause (refusal, network) cannot be told apart. */
  readonly fatal = false;
}

/** The WebSocket URL for `url`, resolved against `location` (relative or absent → same host). */
export const resolveUrl = (url?: string | URL): string => {
  const u = new URL(url ?? '/', (globalThis as { location?: Location }).location?.href);
  if (!/^wss?:$/.test((u.protocol = u.protocol.replace(/^http/, 'ws')))) throw new TypeError(`unsupported scheme ${u.protocol}`);
  return u.href;
};
