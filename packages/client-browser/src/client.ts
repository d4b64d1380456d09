import { decodeMessage } from '@stelar/codec-tcp';
import { ClientEngine, SendStatus, StelarError, type AnyEvents, type ClientOptions, type Dialer, type Link } from '@stelar/core/client';

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
  const loc = (globalThis as { location?: Location }).location;
  const u = new URL(url ?? '/', loc?.href);
  u.protocol = u.protocol.replace(/^http/, 'ws');
  if (!/^wss?:$/.test(u.protocol)) throw new TypeError(`unsupported URL scheme "${u.protocol}" (use ws:// or wss://)`);
  return u.href;
}

/** Codes `WebSocket.close()` accepts from a page: 1000 and 3000–4999; anything else becomes 1000. */
const closeCode = (code: number): number => (code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000);

/** A close reason must fit in 123 UTF-8 bytes. */
const closeReason = (reason: string): string => {
  const enc = new TextEncoder();
  while (enc.encode(reason).length > 123) reason = reason.slice(0, -1);
  return reason;
};

/**
 * A core `Dialer` over the browser's `WebSocket`: one binary message per Stelar frame, without
 * its 4-byte totalLen (docs/protocol.md §1).
 *
 * - `ping()` sends a Stelar PING frame (pages cannot send WebSocket pings).
 * - `pause()`/`resume()` do nothing: a page cannot stop the browser reading the socket.
 * - `close(code)` uses `code` when the browser allows it (1000, 3000–4999), else 1000; the
 *   engine still sees the code it asked for.
 */
export function dialWebSocket(url: string, options: BrowserClientOptions = {}): Dialer {
  const hwm = options.highWaterMark ?? 1 << 20;
  const decodeOptions = { maxFrameSize: options.maxFrameSize ?? 1 << 24 };
  return (handler, signal) =>
    new Promise<Link>((resolve, reject) => {
      const WS = options.WebSocket ?? WebSocket;
      let ws: WebSocket;
      try {
        ws = new WS(url, options.protocols);
      } catch (err) {
        reject(new DialError('WS_DIAL_FAILED', `cannot open ${url}: ${String(err)}`));
        return;
      }
      ws.binaryType = 'arraybuffer';
      let open = false;
      /** Set once `onClose` was reported (or the link was given up): later socket events are ignored. */
      let done = false;
      /** The close we asked for, reported instead of what the browser says. */
      let mine: [number, string] | undefined;
      const report = (code: number, reason: string): void => {
        if (done) return;
        done = true;
        handler.onClose(code, reason);
      };
      const onAbort = (): void => {
        ws.close();
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort);
      const link: Link = {
        transport: url.startsWith('wss') ? 'wss' : 'ws',
        remoteAddress: new URL(url).host,
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        send(frame, volatile) {
          if (done || ws.readyState !== 1) return SendStatus.CLOSED;
          if (volatile && ws.bufferedAmount > hwm) return SendStatus.DROPPED;
          ws.send(frame.subarray(4) as Uint8Array<ArrayBuffer>);
          return ws.bufferedAmount > hwm ? SendStatus.BUFFERED : SendStatus.OK;
        },
        ping() {
          // A Stelar PING frame: totalLen 7, type 0x03, empty event, no payload.
          link.send(new Uint8Array([0, 0, 0, 7, 3, 0, 0]));
        },
        close(code, reason) {
          if (done || mine) return;
          mine = [code, reason];
          ws.close(closeCode(code), closeReason(reason));
        },
        terminate() {
          ws.close();
          report(1006, '');
        },
        pause() {},
        resume() {},
      };
      ws.onopen = () => {
        open = true;
        signal.removeEventListener('abort', onAbort);
        resolve(link);
      };
      ws.onmessage = (e: MessageEvent) => {
        if (done || mine) return;
        const data: unknown = e.data;
        if (!(data instanceof ArrayBuffer)) {
          handler.onProtocolError({ code: 'UNSUPPORTED_DATA', message: 'text messages are not part of the Stelar protocol', closeCode: 1003 });
          return;
        }
        const bytes = new Uint8Array(data);
        let frame;
        try {
          frame = decodeMessage(bytes, decodeOptions);
        } catch (err) {
          const e = err as { code?: string; message?: string; closeCode?: number };
          handler.onProtocolError({ code: e.code ?? 'BAD_PAYLOAD', message: String(e.message), closeCode: e.closeCode ?? 1002 });
          return;
        }
        handler.onFrame(frame, bytes.length + 4);
      };
      ws.onclose = (e: CloseEvent) => {
        signal.removeEventListener('abort', onAbort);
        if (!open) {
          reject(new DialError('WS_DIAL_FAILED', `WebSocket to ${url} closed before opening (${e.code}): refused or unreachable`));
          return;
        }
        if (mine) report(mine[0], mine[1]);
        else report(e.code, e.reason);
      };
    });
}

/**
 * A Stelar client in the browser, over the native `WebSocket`. Everything else — events,
 * requests, rooms, reconnection, the offline queue — is the engine's (see `@stelar/core`), the
 * same as `@stelar/client-node`'s.
 */
export class StelarClient<In extends object = AnyEvents, Out extends object = In> extends ClientEngine<In, Out> {
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
