/**
 * Hubs, clients and raw links for the core's tests, all in memory (see memory-link.ts), with
 * everything closed after each test.
 */
import { decodeFrame, encodeClientConnect, type Frame } from '@stelar/codec-tcp';
import { afterEach } from 'vitest';
import { ClientEngine, type ClientOptions } from '../src/client/index';
import { Hub, type AnyEvents, type Connection, type HubOptions } from '../src/index';
import { SendStatus, type Link, type LinkHandler } from '../src/internal';
import type { SessionHost } from '../src/session';
import { linkPair, memoryDialer } from './memory-link';

/** Registers the clean-up and returns `setup`, which makes a hub (heartbeats off) and what talks to it. */
export function useHubs() {
  const hubs: Hub<never, never>[] = [];
  const clients: ClientEngine<never, never>[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const h of hubs.splice(0)) {
      await h.drain({ timeout: 200 });
      await h.dispose();
    }
  });

  return function setup<In extends object = AnyEvents, Out extends object = In>(options: HubOptions = {}) {
    // Silent unless a test gives a logger: a handler that throws on purpose prints nothing.
    const hub = new Hub<In, Out>({ heartbeat: false, logger: false, ...options });
    hubs.push(hub as unknown as Hub<never, never>);
    /** A client engine on an in-memory dialer (heartbeats and reconnection off unless given). */
    const client = (opts: ClientOptions = {}): ClientEngine<Out, In> => {
      const c = new ClientEngine<Out, In>(memoryDialer(() => hub), { heartbeat: false, reconnect: false, ...opts });
      clients.push(c as unknown as ClientEngine<never, never>);
      return c;
    };
    /** A raw link to the hub: what the hub sends is collected, decoded; nothing is answered. */
    const raw = () => {
      const pair = linkPair();
      const frames: Frame[] = [];
      const closed: { code?: number; reason?: string } = {};
      const handler: LinkHandler = {
        onFrame: (f) => void frames.push(f),
        onProtocolError() {},
        onPong() {},
        onDrain() {},
        onClose: (code, reason) => {
          closed.code = code;
          closed.reason = reason;
        },
      };
      pair.attachClient(handler);
      pair.attachServer(hub.accept(pair.server));
      return {
        send: (f: Uint8Array) => pair.client.send(f),
        hello: (auth?: unknown) => pair.client.send(encodeClientConnect(auth)),
        frames,
        closed,
        link: pair.client,
      };
    };
    /** The next connection the hub accepts. */
    const nextConnection = () => new Promise<Connection<In, Out>>((resolve) => hub.onConnection((c) => resolve(c)));
    return { hub, client, raw, nextConnection };
  };
}

/** A link that records what it is given and answers `status`; nothing is delivered anywhere. */
export function recordingLink(opts: { status?: () => SendStatus; transport?: string } = {}) {
  const sent: { frame: Uint8Array; volatile: boolean }[] = [];
  const calls: string[] = [];
  const link: Link = {
    transport: opts.transport ?? 'mem',
    remoteAddress: '192.0.2.1',
    remotePort: 4242,
    bufferedAmount: 0,
    send(frame, volatile = false) {
      sent.push({ frame, volatile });
      return opts.status?.() ?? SendStatus.OK;
    },
    ping: () => void calls.push('ping'),
    close: (code, reason) => void calls.push(`close ${code} ${reason}`),
    terminate: () => void calls.push('terminate'),
    pause: () => void calls.push('pause'),
    resume: () => void calls.push('resume'),
  };
  return { link, sent, calls, frames: () => sent.map((s) => decodeFrame(s.frame)) };
}

/**
 * Opens `n` sessions on `hub` at once over recording links (CONNECT handled synchronously, no
 * middleware): for tests of what the hub and adapter do with open connections.
 */
export function openSessions<In extends object, Out extends object>(hub: Hub<In, Out>, n: number) {
  const hello = decodeFrame(encodeClientConnect(undefined));
  return Array.from({ length: n }, () => {
    const rec = recordingLink();
    const handler = hub.accept(rec.link);
    handler.onFrame(hello, 10);
    const conn = [...hub.connections.values()].at(-1)!;
    return { conn, handler, ...rec };
  });
}

/** A SessionHost that does nothing (rooms, counts, timeouts ignored; broadcasting from it throws): for a session tested on its own. */
export function inertHost(nodeId = 'n1', requestTimeout = 1000): SessionHost {
  return {
    nodeId,
    requestTimeout,
    joinRooms: () => undefined,
    leaveRoom: () => false,
    countSend: () => undefined,
    pendingDelta: () => undefined,
    requestTimedOut: () => undefined,
    broadcastFrom: () => {
      throw new Error('not here');
    },
  };
}
