import { ClientEngine, type AnyEvents, type ClientOptions, type Dialer, type Logger } from '@stelar/core/client';
import { consoleLogger, debugEnabled } from '@stelar/core/internal';
import { dialTcp, dialWebSocket, type DialTcpOptions, type DialWebSocketOptions } from '@stelar/transport-node';

/** Options of a Node client: the engine's (auth, reconnect, queue, timeouts) plus the transport's. */
export interface NodeClientOptions
  extends ClientOptions,
    Omit<DialWebSocketOptions, 'onError'>,
    Omit<DialTcpOptions, 'onError' | keyof DialWebSocketOptions> {
  /** Start connecting at once (`connect()` then returns the same attempt). Default true. */
  autoConnect?: boolean;
  /** Transport errors thrown by handlers. Default: `process.emitWarning`. */
  onTransportError?: (err: unknown) => void;
}

/** Picks the dialer for a URL scheme. */
export function dialerFor(url: string | URL, options: NodeClientOptions = {}): Dialer {
  const u = typeof url === 'string' ? new URL(url) : url;
  const onError = options.onTransportError;
  switch (u.protocol) {
    case 'ws:':
    case 'wss:':
      return dialWebSocket(u, { ...options, ...(onError && { onError }) });
    case 'tcp:':
    case 'tls:':
      return dialTcp(u, { ...options, ...(onError && { onError }) });
    default:
      throw new TypeError(`unsupported URL scheme "${u.protocol}" (use ws://, wss://, tcp:// or tls://)`);
  }
}

/**
 * A Stelar client in Node, over WebSocket (`ws://`, `wss://`) or the binary protocol (`tcp://`,
 * `tls://`). Everything else — events, requests, rooms, reconnection, the offline queue — is
 * the engine's (see `@stelar/core`).
 */
export class StelarClient<In extends object = AnyEvents, Out extends object = In> extends ClientEngine<In, Out> {
  #url: string;
  readonly #options: NodeClientOptions;

  constructor(url: string | URL, options: NodeClientOptions = {}) {
    const logger = clientLogger(options.logger);
    super(dialerFor(url, options), { ...options, ...(logger !== undefined && { logger }) });
    this.#url = String(url);
    this.#options = options;
  }

  /** The URL of the next connection attempts. */
  get url(): string {
    return this.#url;
  }

  /**
   * Points the next connection attempts at another URL (any scheme; the same options). The
   * current connection, if any, stays until it ends; `close()` then `connect()` to move at once.
   * Throws, and changes nothing, for a URL `connect()` would refuse.
   */
  setUrl(url: string | URL): void {
    this.setDialer(dialerFor(url, this.#options));
    this.#url = String(url);
  }
}

/**
 * The logger of a Node client: the application's, else the console at debug level when the
 * `DEBUG` environment variable switches on `stelar:client` (`DEBUG=stelar:*`), else none.
 */
export function clientLogger(logger: Logger | false | undefined, env: string | undefined = process.env['DEBUG']): Logger | false | undefined {
  if (logger !== undefined) return logger;
  return debugEnabled(env, 'stelar:client') ? consoleLogger('stelar:client', 'debug') : undefined;
}

/**
 * Creates a client and starts connecting (unless `autoConnect: false`). Register handlers right
 * away; `await client.connect()` resolves once the server accepted the session.
 *
 * ```ts
 * const client = connect<Events>('tcp://127.0.0.1:4000', { auth: { token } });
 * client.on('chat', (m) => console.log(m));
 * await client.connect();
 * ```
 */
export function connect<In extends object = AnyEvents, Out extends object = In>(url: string | URL, options: NodeClientOptions = {}): StelarClient<In, Out> {
  const client = new StelarClient<In, Out>(url, options);
  // Nobody awaits this call: it has no time bound of its own (the client's policy decides).
  if (options.autoConnect !== false) client.connect({ timeout: 0 }).catch(() => undefined);
  return client;
}
