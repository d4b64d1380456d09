import { StelarError, type AnyEvents, type ClientOptions, type Dialer, type Link } from '@stelar/core/client';
import { Engine } from './engine';
import { decode, frame, T } from './wire';

/** Options of a browser client: the engine's (auth, reconnect, queue, timeouts) plus the socket's. */
export interface BrowserClientOptions extends ClientOptions {
  /** Start connecting at once (`connect()` then returns the same attempt). Default true (for `connect`). */
  autoConnect?: boolean;
  /** WebSocket subprotocols to offer. Default: none. */
  protocols?: string | string[];
  /** Largest Stelar frame accepted from the server (totalLen included). Default 16 MiB. */
  maxFrameSize?: number;
  /**
   * `ws.bufferedAmount` in bytes above which a send reports backpressure and volatile messages
   * are dropped instead of queued. Default 1 MiB.
   */
  highWaterMark?: number;
  /** The WebSocket constructor to use. Default: the global `WebSocket`. */
  WebSocket?: typeof WebSocket;
}

/**
 * Why a dial failed. Browsers hide the HTTP status of a refused upgrade, so every failure before
 * the socket opens is `WS_DIAL_FAILED` (not fatal: the engine retries per its reconnect policy).
 */
export class DialError extends StelarError {
  override name = 'DialError';
  /** Always false in a browser: the cause (refusal, network) cannot be told apart. */
  readonly fatal = false;
}

/** The WebSocket URL for `url`, resolved against `location` (relative or absent → same host). */
export function resolveUrl(url?: string | URL): string {
  const u = new URL(url ?? '/', (globalThis as { location?: Location }).location?.href);
  u.protocol = u.protocol.replace(/^http/, 'ws');
  if (!/^wss?:$/.test(u.protocol)) throw new TypeError(`unsupported URL scheme ${u.protocol} (use ws: or wss:)`);
  return u.href;
}

/**
 * A core `Dialer` over the browser's `WebSocket`: one binary message per Stelar frame, without
 * its 4-byte totalLen (docs/protocol.md §1).
 *
 * - `ping()` sends a Stelar PING frame (pages cannot send WebSocket pings).
 * - `pause()`/`resume()` do nothing: a page cannot stop the browser reading the socket.
 * - `close(code)` uses `code` when the browser allows it (1000, 3000–4999), else 1000, with the
 *   reason cut to the 123 bytes a close frame holds; the engine still sees the code it asked for.
 */
export function dialWebSocket(url: string, options: BrowserClientOptions = {}): Dialer {
  const hwm = options.highWaterMark ?? 1 << 20;
  const max = options.maxFrameSize ?? 1 << 24;
  return (handler, signal) =>
    new Promise<Link>((resolve, reject) => {
      let ws: WebSocket;
      /** 0 dialing, 1 open, 2 closing at our request (`mine` is what we asked for), 3 reported. */
      let phase = 0;
      let mine: [number, string];
      const dialFailed = (why: unknown): void => reject(new DialError('WS_DIAL_FAILED', `cannot open ${url}: ${why}`));
      const report = (code: number, reason: string): void => {
        if (phase < 3) handler.onClose(code, reason);
        phase = 3;
      };
      const abort = (): void => {
        ws.close();
        reject(signal.reason);
      };
      try {
        ws = new (options.WebSocket ?? WebSocket)(url, options.protocols);
      } catch (e) {
        return dialFailed(e);
      }
      ws.binaryType = 'arraybuffer';
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort);
      // SendStatus: OK 0, BUFFERED 1, DROPPED 2, CLOSED 3.
      const link: Link = {
        transport: url.slice(0, 3) == 'wss' ? 'wss' : 'ws',
        remoteAddress: new URL(url).host,
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        send: (f, volatile) =>
          phase != 1 || ws.readyState != 1 ? 3 : volatile && ws.bufferedAmount > hwm ? 2 : (ws.send(f.subarray(4) as Uint8Array<ArrayBuffer>), ws.bufferedAmount > hwm ? 1 : 0),
        ping: () => void link.send(frame(T.PING, '')),
        close(code, reason) {
          if (phase != 1) return;
          phase = 2;
          mine = [code, reason];
          const bytes = new TextEncoder();
          while (bytes.encode(reason).length > 123) reason = reason.slice(0, -1);
          ws.close(code == 1000 || (code >= 3000 && code < 5000) ? code : 1000, reason);
        },
        terminate() {
          ws.close();
          report(1006, '');
        },
        pause() {},
        resume() {},
      };
      ws.onopen = () => {
        phase = 1;
        signal.removeEventListener('abort', abort);
        resolve(link);
      };
      ws.onmessage = ({ data }: MessageEvent) => {
        if (phase != 1) return;
        if (!(data instanceof ArrayBuffer)) return handler.onProtocolError({ code: 'UNSUPPORTED_DATA', message: 'text message', closeCode: 1003 });
        try {
          handler.onFrame(decode(new Uint8Array(data), max), data.byteLength + 4);
        } catch (e) {
          const { code, message } = e as StelarError;
          handler.onProtocolError({ code, message, closeCode: code == 'FRAME_TOO_LARGE' ? 1009 : 1002 });
        }
      };
      ws.onclose = ({ code, reason }: CloseEvent) => {
        signal.removeEventListener('abort', abort);
        if (!phase) dialFailed(`closed before opening (${code}): refused or unreachable`);
        else report(...(mine ?? [code, reason]));
      };
    });
}

/**
 * A Stelar client in the browser, over the native `WebSocket`: events, requests, rooms,
 * reconnection, the offline queue and heartbeats, with the API and behaviour of core's
 * `ClientEngine` (the same as `@stelar/client-node`'s) from this package's smaller engine.
 */
export class StelarClient<In extends object = AnyEvents, Out extends object = In> extends Engine<In, Out> {
  readonly url: string;

  constructor(url?: string | URL, options: BrowserClientOptions = {}) {
    const href = resolveUrl(url);
    super(dialWebSocket(href, options), options);
    this.url = href;
  }
}

/**
 * Creates a client without connecting: call `connect()` when ready (as `createServer` waits for
 * `listen()`).
 */
export function createClient<In extends object = AnyEvents, Out extends object = In>(url?: string | URL, options: BrowserClientOptions = {}): StelarClient<In, Out> {
  return new StelarClient<In, Out>(url, options);
}

/**
 * Creates a client and starts connecting (unless `autoConnect: false`). Register handlers right
 * away; `await client.connect()` resolves once the server accepted the session. Without `url`,
 * or with a relative one, it connects to the page's own host (`ws:` or `wss:` like the page).
 *
 * ```ts
 * const client = connect<Events>('/', { auth: { token } });
 * client.on('chat', (m) => console.log(m));
 * await client.connect();
 * ```
 */
export function connect<In extends object = AnyEvents, Out extends object = In>(url?: string | URL, options: BrowserClientOptions = {}): StelarClient<In, Out> {
  const client = new StelarClient<In, Out>(url, options);
  if (options.autoConnect !== false) client.connect().catch(() => undefined);
  return client;
}
