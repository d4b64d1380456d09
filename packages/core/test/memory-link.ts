import { decodeFrame } from '@stelar/codec-tcp';
import { SendStatus, type Dialer, type Link, type LinkHandler } from '../src/internal';

/** Something that takes server-side links (a Hub). */
export interface Acceptor {
  accept(link: Link): LinkHandler;
}

interface Side {
  handler: LinkHandler | null;
  closed: boolean;
  paused: boolean;
  held: Uint8Array[];
}

/**
 * Two in-memory links wired to each other, delivering frames asynchronously and in order, so
 * the hub and the client engine can be tested without sockets. `server` is handed to the hub.
 */
export function linkPair(opts: { transport?: string; remoteAddress?: string } = {}): {
  client: Link;
  server: Link;
  attachClient(h: LinkHandler): void;
  attachServer(h: LinkHandler): void;
  /** Frames the server sent (for assertions), decoded. */
  serverSent: Uint8Array[];
  /** Both ends see 1006; `lose`: frames still in flight are lost too (a socket that dies). */
  cut(lose?: boolean): void;
} {
  const a: Side = { handler: null, closed: false, paused: false, held: [] }; // client side
  const b: Side = { handler: null, closed: false, paused: false, held: [] }; // server side
  const serverSent: Uint8Array[] = [];
  let lost = false;
  const deliver = (to: Side, frame: Uint8Array): void => {
    setImmediate(() => {
      if (to.closed || lost) return;
      if (to.paused) {
        to.held.push(frame);
        return;
      }
      to.handler?.onFrame(decodeFrame(frame), frame.length);
    });
  };
  /** `by`: the side that chose the code (the other one received it); none for a cut. */
  const closeBoth = (code: number, reason: string, by?: Side): void => {
    setImmediate(() => {
      for (const s of [a, b]) {
        if (s.closed) continue;
        s.closed = true;
        s.handler?.onClose(code, reason, by !== undefined && s !== by);
      }
    });
  };
  const make = (self: Side, peer: Side, transport: string): Link => ({
    transport,
    remoteAddress: opts.remoteAddress ?? '127.0.0.1',
    remotePort: 1234,
    bufferedAmount: 0,
    send(frame) {
      if (self.closed) return SendStatus.CLOSED;
      if (self === b) serverSent.push(frame);
      deliver(peer, frame);
      return SendStatus.OK;
    },
    ping() {
      // The peer's transport answers pings by itself, like WebSocket.
      setImmediate(() => {
        if (!self.closed) self.handler?.onPong();
      });
    },
    close(code, reason) {
      closeBoth(code, reason, self);
    },
    terminate() {
      closeBoth(1006, '');
    },
    pause() {
      self.paused = true;
    },
    resume() {
      self.paused = false;
      const held = self.held;
      self.held = [];
      for (const f of held) self.handler?.onFrame(decodeFrame(f), f.length);
    },
  });
  const client = make(a, b, opts.transport ?? 'mem');
  const server = make(b, a, opts.transport ?? 'mem');
  return {
    client,
    server,
    serverSent,
    attachClient: (h) => {
      a.handler = h;
    },
    attachServer: (h) => {
      b.handler = h;
    },
    cut: (lose = false) => {
      if (lose) lost = true;
      closeBoth(1006, '');
    },
  };
}

/** A dialer that opens an in-memory link to the given hub (null = refuse, like a server that is down). */
export function memoryDialer(getHub: () => Acceptor | null, opts: { transport?: string } = {}): Dialer & { lastCut?: (lose?: boolean) => void } {
  const dialer = (async (handler: LinkHandler) => {
    const hub = getHub();
    if (!hub) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const pair = linkPair(opts);
    pair.attachClient(handler);
    pair.attachServer(hub.accept(pair.server));
    dialer.lastCut = pair.cut;
    return pair.client;
  }) as Dialer & { lastCut?: (lose?: boolean) => void };
  return dialer;
}

export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds (or fails after `timeout`). */
export async function until(cond: () => boolean, timeout = 2000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeout) throw new Error('condition not met in time');
    await tick(2);
  }
}
