import { DisconnectCode, ErrorCode } from '@stelar/codec-tcp';
import { cutReason, isPeerCloseCode } from './close';
import { now, unrefTimer } from './clock';
import { linkOf, sessionOf } from './connection-access';
import type { HubContext } from './hub-context';
import type { Recovery } from './recovery';
import type { Rooms } from './rooms';
import type { ServerSession } from './session';
import type { HandlerSlots } from './slots';

/**
 * How sessions end: one sweep timer for handshake deadlines and heartbeats (running only while
 * there are links), the end of a session when its link closes, and the drain.
 */
export class Liveness<In extends object, Out extends object> {
  private sweepTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly hub: HubContext<In, Out>,
    private readonly rooms: Rooms<In, Out>,
    private readonly slots: HandlerSlots,
    private readonly recovery: Recovery<In, Out> | undefined,
  ) {}

  /** A new link: watched by the sweep (the hub refuses it while draining). */
  started(s: ServerSession): void {
    const hub = this.hub;
    hub.opening.add(s);
    hub.metrics.opening++;
    if (hub.draining) s.conn.disconnect(DisconnectCode.GOING_AWAY, 'server shutting down');
    else this.startSweep();
  }

  /**
   * The link closed: the session ends (counters, rooms, waiting requests, listeners), unless
   * connection-state recovery keeps it for its client to come back.
   */
  ended(s: ServerSession, code: number, reason: string, remote: boolean): void {
    if (s.state === 'closed') return;
    const m = this.hub.metrics;
    if (remote) {
      // The peer's own code: after a violation the hub's verdict stands; a code a client may not
      // send (docs/protocol.md §5, e.g. 4006) is reported as the protocol error it is.
      const failure = s.failure;
      if (failure) {
        code = failure.code;
        reason = failure.reason;
      } else if (code !== 1005 && !isPeerCloseCode(code)) {
        m.error(ErrorCode.PROTOCOL);
        reason = 'invalid close code from the peer';
        code = DisconnectCode.PROTOCOL_ERROR;
      } else reason = cutReason(reason);
    }
    if (!remote && code === DisconnectCode.SLOW_CONSUMER) m.slowConsumer++;
    if (this.recovery?.keeps(s, code)) this.recovery.park(s, code, reason);
    else this.finish(s, code, reason);
  }

  /** The session ends for good: its link closed, or recovery stopped waiting for its client. */
  finish(s: ServerSession, code: number, reason: string): void {
    if (s.state === 'closed') return;
    const hub = this.hub;
    const m = hub.metrics;
    const conn = s.conn;
    // Kept by recovery (`absent`, or `closing` once the application disconnected it meanwhile).
    const wasAbsent = this.recovery?.isAbsent(s) ?? false;
    const wasOpen = hub.open.get(conn.id) === conn && hub.open.delete(conn.id);
    if (hub.opening.delete(s)) m.opening--;
    if (wasOpen) {
      m.open--;
      m.transportDelta(conn.transport, -1);
    }
    this.slots.leave(s);
    this.rooms.leaveAll(s);
    hub.settings.rateLimit?.limiter?.release?.(conn);
    this.recovery?.ended(s);
    s.closed(code, reason);
    hub.log.debug?.({ conn: conn.id, code, reason: reason || undefined, opened: wasOpen }, 'connection closed');
    if (wasOpen || wasAbsent) hub.notify(s, hub.callbacks.disconnect, code, reason);
    hub.poke();
  }

  /**
   * Graceful shutdown: refuses new links and requests, waits (up to `timeout`) for request
   * handlers to reply and for clients to answer pending requests, then closes every connection
   * with `code` and waits for the links to go. Resolves `true` if everything finished in time.
   */
  async drain(timeout: number, code: number, reason: string): Promise<boolean> {
    const hub = this.hub;
    hub.draining = true;
    const started = now();
    const deadline = started + timeout;
    hub.log.info?.({ connections: hub.open.size + hub.opening.size, timeout }, 'drain started');
    const m = hub.metrics;
    // Sessions whose client is away cannot answer anything: they end first.
    this.recovery?.endAll(code, reason);
    const idle = await hub.waitFor(() => m.inFlightHandlers === 0 && m.acksPending === 0, deadline);
    for (const s of [...hub.opening]) s.conn.disconnect(code, reason);
    for (const c of [...hub.open.values()]) c.disconnect(code, reason);
    const closed = await hub.waitFor(() => hub.opening.size === 0 && hub.open.size === 0, deadline);
    this.stopSweep();
    hub.log.info?.({ ms: Math.round(now() - started), inTime: idle && closed }, 'drain finished');
    return idle && closed;
  }

  stopSweep(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private startSweep(): void {
    if (this.sweepTimer !== undefined) return;
    const { handshakeTimeout, heartbeat: hb } = this.hub.settings;
    const shortest = Math.min(handshakeTimeout, hb ? Math.min(hb.interval, hb.timeout) : Infinity);
    const every = Math.max(20, Math.min(5_000, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    unrefTimer(this.sweepTimer);
  }

  /** One pass over all links: handshake deadlines, heartbeat pings, dead peers. */
  private sweep(): void {
    const hub = this.hub;
    const t = now();
    const { handshakeTimeout, heartbeat: hb } = hub.settings;
    for (const s of hub.opening) {
      if (s.state === 'opening' && t - s.openedAt > handshakeTimeout) {
        hub.metrics.error('HANDSHAKE_TIMEOUT');
        s.conn.disconnect(DisconnectCode.HANDSHAKE_TIMEOUT, 'handshake timeout');
      }
    }
    if (hb) {
      for (const c of hub.open.values()) {
        const s = sessionOf(c);
        if (s.alive) {
          s.alive = false;
          s.lastSeen = t;
          s.pingSent = false;
          continue;
        }
        const idle = t - s.lastSeen;
        if (idle >= hb.interval + hb.timeout) {
          // Told 4004 if it can still hear; the transport destroys the socket after its close timeout.
          hub.metrics.error('HEARTBEAT_TIMEOUT');
          c.disconnect(DisconnectCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
        } else if (idle >= hb.interval && !s.pingSent) {
          s.pingSent = true;
          linkOf(c).ping();
        }
      }
    }
    if (hub.opening.size === 0 && hub.open.size === 0) this.stopSweep();
  }
}
