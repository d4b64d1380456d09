/**
 * The Stelar peers under test, built from the shipped code, not from a copy of its wiring:
 *
 * - Server role: a `StelarServer` (what `createServer` returns: its own `http` server with the
 *   handshake timeouts, header limits and `clientError` answers, and `attachWebSocket` with the
 *   options `createServer` passes) whose `accept` echoes instead of running the Stelar protocol.
 *   Every connection is a transport-node `WsLink` over a `WsConnection`, exactly as in production;
 *   only the link's Stelar decoding is replaced by an echo of every raw message. The path
 *   `/frag/<n>` makes it echo in frames of at most n bytes (auto-fragmentation).
 * - Client role: transport-node's `dialWebSocket` (the dialer `@stelar/client-node` uses), whose
 *   link echoes every raw message back to the server the same way.
 */
import type { Link, LinkHandler } from '@stelar/core/internal';
import type { PerMessageDeflateClientOptions, PerMessageDeflateServerOptions } from '@stelar/codec-ws';
import { StelarServer, type ServerOptions } from '@stelar/server';
import { DialError, dialWebSocket, WsLink, type WsConnection } from '@stelar/transport-node';

/** Largest message the echo peers take (the codec's default): 16 MiB. */
export const ECHO_MAX_MESSAGE = 16 * 1024 * 1024;

/** The 4-byte Stelar totalLen a link adds to a message's size when it checks `maxFrameSize`. */
const TOTAL_LEN = 4;

/**
 * Turns a `WsLink` into a raw echo: the link stays (its close, protocol-error, ping and drain
 * handling are the shipped ones) but its Stelar decoding of messages is replaced by an echo of
 * every message, whole or in frames of at most `fragment` bytes.
 */
function echoOn(link: Link, fragment: number | undefined): WsConnection {
  if (!(link instanceof WsLink)) throw new Error(`the echo needs a WebSocket link, got ${link.transport}`);
  const conn = link.connection;
  // WsLink decodes Stelar frames (and fails text messages with 1003) in onWsMessage, which its
  // connection calls directly: replace it on this link.
  link.onWsMessage = (data, isBinary) => {
    if (!fragment || data.length <= fragment) {
      conn.send(data, { binary: isBinary });
      return;
    }
    for (let off = 0; off < data.length; off += fragment) {
      const end = Math.min(off + fragment, data.length);
      conn.send(data.subarray(off, end), { binary: isBinary, fin: end === data.length });
    }
  };
  return conn;
}

/** A link handler that only reports the close. */
function closeHandler(onClose: (code: number, reason: string) => void): LinkHandler {
  return {
    onFrame: () => undefined,
    onProtocolError: () => undefined,
    onPong: () => undefined,
    onDrain: () => undefined,
    onClose,
  };
}

function fragmentOf(path: string | undefined): number | undefined {
  const m = /^\/frag\/(\d+)/.exec(path ?? '');
  return m ? Number(m[1]) : undefined;
}

export interface EchoServer {
  port: number;
  /** Connections currently open. */
  readonly open: number;
  /** Resolves with the ms it took until no connection is open, or undefined after `timeout`. */
  idle(timeout: number): Promise<number | undefined>;
  close(): Promise<void>;
}

export interface EchoServerOptions {
  /** permessage-deflate policy; `false` to disable. Default: enabled with codec defaults. */
  deflate?: PerMessageDeflateServerOptions | false;
  /** Compression threshold of the echo. Default 0: every echoed message is compressed. */
  threshold?: number;
  maxMessageSize?: number;
  closeTimeout?: number;
}

/** A `StelarServer` whose connections echo raw WebSocket messages instead of speaking Stelar. */
class EchoStelarServer extends StelarServer {
  readonly links = new Set<Link>();
  private readonly idleWaiters = new Set<() => void>();

  override accept(link: Link): LinkHandler {
    echoOn(link, fragmentOf(link.upgradeRequest?.url));
    this.links.add(link);
    return closeHandler(() => {
      this.links.delete(link);
      if (this.links.size === 0) for (const w of [...this.idleWaiters]) w();
    });
  }

  idle(timeout: number): Promise<number | undefined> {
    const start = performance.now();
    if (this.links.size === 0) return Promise.resolve(0);
    return new Promise<number | undefined>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve(this.links.size === 0 ? Math.round(performance.now() - start) : undefined);
      };
      const timer = setTimeout(done, timeout);
      this.idleWaiters.add(done);
    });
  }
}

/** Starts the Stelar echo server on 127.0.0.1 (a free port). */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const serverOptions: ServerOptions = {
    port: 0,
    host: '127.0.0.1',
    // attachWebSocket takes messages up to maxFrameSize - 4 (a Stelar frame without its totalLen).
    maxFrameSize: (options.maxMessageSize ?? ECHO_MAX_MESSAGE) + TOTAL_LEN,
    closeTimeout: options.closeTimeout ?? 2000,
    heartbeat: false,
    ws: { perMessageDeflate: options.deflate === false ? false : { ...options.deflate, threshold: options.threshold ?? 0 } },
    onError: (err) => console.error('echo server error:', err),
  };
  const server = new EchoStelarServer(serverOptions);
  const { port } = await server.listen();
  if (port === undefined) throw new Error('the echo server did not report its port');
  return {
    port,
    get open() {
      return server.links.size;
    },
    idle: (timeout) => server.idle(timeout),
    close: async () => {
      for (const link of server.links) link.terminate();
      await server.close({ timeout: 0 });
    },
  };
}

export interface EchoClientOptions {
  path?: string;
  /** Offer permessage-deflate. */
  deflate?: PerMessageDeflateClientOptions | boolean;
  /** Echo in frames of at most this many bytes. */
  fragment?: number;
  threshold?: number;
  maxMessageSize?: number;
  closeTimeout?: number;
}

export type EchoClientResult =
  | { ok: true; conn: WsConnection; closed: Promise<{ code: number; reason: string }> }
  | { ok: false; error: string };

/** Dials the tester (acting as a server) with `dialWebSocket`; the link echoes every message. */
export async function dialEchoClient(port: number, options: EchoClientOptions = {}): Promise<EchoClientResult> {
  const offer = options.deflate === true ? {} : options.deflate || undefined;
  const dial = dialWebSocket(`ws://127.0.0.1:${port}${options.path ?? '/'}`, {
    ...(offer ? { perMessageDeflate: { ...offer, threshold: options.threshold ?? 0 } } : {}),
    maxFrameSize: (options.maxMessageSize ?? ECHO_MAX_MESSAGE) + TOTAL_LEN,
    closeTimeout: options.closeTimeout ?? 2000,
    onError: (err) => console.error('echo client error:', err),
  });
  let reportClose: (c: { code: number; reason: string }) => void = () => undefined;
  const closed = new Promise<{ code: number; reason: string }>((r) => (reportClose = r));
  try {
    const link = await dial(closeHandler((code, reason) => reportClose({ code, reason })), new AbortController().signal);
    // The echo replaces the link's decoding after the dial resolved: the tester sends no frame
    // before that (setupClientRole waits for the dial), so none reaches the Stelar decoding.
    return { ok: true, conn: echoOn(link, options.fragment), closed };
  } catch (err) {
    const e = err as Error;
    return { ok: false, error: err instanceof DialError && err.code ? `${err.code}: ${e.message}` : e.message };
  }
}
