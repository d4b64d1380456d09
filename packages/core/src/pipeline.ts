import { DisconnectCode, encodePong, ErrorCode, FrameError, FrameType, parseAckResponse, parseDisconnect, parseErrorBody, type Frame } from '@stelar/codec-tcp';
import { cutReason, isPeerCloseCode } from './close';
import { linkOf } from './connection-access';
import type { Delivery } from './delivery';
import type { Handshake } from './handshake';
import type { Recovery } from './recovery';
import { countsForRx } from './recovery-session';
import type { HubContext } from './hub-context';
import type { LinkHandler } from './link';
import type { Rooms } from './rooms';
import type { ServerSession } from './session';

/** What a session's link handler calls back into (one object per hub). */
interface Inbound {
  frame(s: ServerSession, frame: Frame, size: number): void;
  protocolError(s: ServerSession, code: string, message: string, closeCode: number): void;
  closed(s: ServerSession, code: number, reason: string, remote: boolean): void;
}

/**
 * A link's handler: two fields and prototype methods, instead of a closure per callback. With
 * connection-state recovery a resume points it at the session it brings back, and a link taken
 * over by a resume is cut off (`session` null: whatever it still reports is ignored).
 */
class SessionLinkHandler implements LinkHandler {
  constructor(
    private readonly inbound: Inbound,
    public session: ServerSession | null,
  ) {}
  onFrame(frame: Frame, size: number): void {
    if (this.session) this.inbound.frame(this.session, frame, size);
  }
  onProtocolError(err: { code: string; message: string; closeCode: number }): void {
    if (this.session) this.inbound.protocolError(this.session, err.code, err.message, err.closeCode);
  }
  onPong(): void {
    if (this.session) {
      this.session.alive = true;
      this.session.lastSeenAt = Date.now();
    }
  }
  onDrain(): void {}
  onClose(code: number, reason: string, remote?: boolean): void {
    if (this.session) this.inbound.closed(this.session, code, reason, remote === true);
  }
}

/**
 * The inbound path of every link: counting, the per-connection queue behind async steps (with
 * inbound backpressure), and the switch on frame types that hands each frame to the part that
 * owns it (handshake, delivery of events and requests, rooms, the session's own requests).
 * A protocol violation is answered with ERROR and closes the link with its code.
 */
export class Pipeline<In extends object, Out extends object> implements Inbound {
  constructor(
    private readonly hub: HubContext<In, Out>,
    private readonly handshake: Handshake<In, Out>,
    private readonly delivery: Delivery<In, Out>,
    private readonly rooms: Rooms<In, Out>,
    private readonly ended: (s: ServerSession, code: number, reason: string, remote: boolean) => void,
    private readonly recovery: Recovery<In, Out> | undefined,
  ) {}

  handlerFor(s: ServerSession): LinkHandler {
    const h = new SessionLinkHandler(this, s);
    s.inbound = h;
    return h;
  }

  frame(s: ServerSession, frame: Frame, size: number): void {
    const m = this.hub.metrics;
    m.messagesIn++;
    m.bytesIn += size;
    s.alive = true;
    s.messagesIn++;
    s.lastSeenAt = Date.now();
    if (s.state === 'closed' || s.state === 'closing') return;
    // Connection-state recovery: client frames are counted as they arrive (they are all handled,
    // even if the link drops meanwhile); a client that asked for recovery sends none before the answer.
    if ((s.rec !== undefined || s.resuming !== undefined) && countsForRx(frame.type)) {
      if (s.state === 'opening') {
        this.protocolError(s, ErrorCode.PROTOCOL, 'no messages before the answer to a CONNECT with recover', DisconnectCode.PROTOCOL_ERROR);
        return;
      }
      if (s.rec !== undefined) s.rec.rx++;
    }
    if (s.inbox) {
      s.inbox.push(frame);
      if (s.inbox.length === this.hub.settings.maxQueuedFrames) linkOf(s.conn).pause();
      return;
    }
    const pending = this.process(s, frame);
    if (pending) void this.runQueue(s, pending);
  }

  closed(s: ServerSession, code: number, reason: string, remote: boolean): void {
    this.ended(s, code, reason, remote);
  }

  /** Processes frames queued behind an async step, in order; the link was paused when the queue filled. */
  private async runQueue(s: ServerSession, first: Promise<void>): Promise<void> {
    s.inbox = [];
    await first.catch((err: unknown) => this.hub.report(err, s));
    while (s.inbox && s.inbox.length > 0) {
      const frame = s.inbox.shift()!;
      const pending = this.process(s, frame);
      if (pending) await pending.catch((err: unknown) => this.hub.report(err, s));
    }
    if (s.inbox) {
      s.inbox = null;
      linkOf(s.conn).resume();
    }
  }

  /** Handles one frame; returns a promise when an async step must finish before the next frame. */
  private process(s: ServerSession, frame: Frame): Promise<void> | undefined {
    // An absent session (recovery) goes on handling what it received before its link was lost.
    if (s.state !== 'open' && s.state !== 'opening' && s.state !== 'absent') return undefined;
    try {
      switch (frame.type) {
        case FrameType.JSON:
        case FrameType.BINARY:
          if (s.state === 'opening') return this.connectFirst(s);
          return this.delivery.dispatch(s, frame);
        case FrameType.ACK_REQ:
          if (s.state === 'opening') return this.connectFirst(s);
          // A request asked again after a resume is answered once (docs/protocol.md §8).
          if (s.rec !== undefined && this.recovery?.repeated(s, frame)) return undefined;
          return this.delivery.dispatch(s, frame);
        case FrameType.ACK_RES: {
          if (s.state === 'opening') return this.connectFirst(s);
          const r = parseAckResponse(frame.payload);
          s.requests?.answer(r.id, r.ok, r.body);
          return undefined;
        }
        case FrameType.PING:
          s.conn.sendEncoded(encodePong(frame.payload), false);
          return undefined;
        case FrameType.PONG:
          return undefined;
        case FrameType.CONNECT:
          if (s.state !== 'opening' || s.helloReceived) return this.protocolError(s, ErrorCode.PROTOCOL, 'duplicate CONNECT', DisconnectCode.PROTOCOL_ERROR);
          return this.handshake.hello(s, frame);
        case FrameType.DISCONNECT: {
          // A malformed body is a protocol error (thrown); so is a code a client may not send.
          const body = parseDisconnect(frame.payload);
          if (body && !isPeerCloseCode(body.code)) return this.protocolError(s, ErrorCode.PROTOCOL, 'invalid close code', DisconnectCode.PROTOCOL_ERROR);
          s.conn.disconnect(DisconnectCode.NORMAL, body ? cutReason(body.reason) : '');
          return undefined;
        }
        case FrameType.JOIN:
        case FrameType.LEAVE:
          if (s.state === 'opening') return this.connectFirst(s);
          return this.rooms.clientOp(s, frame);
        case FrameType.ERROR:
          // Counted under a fixed label: the peer's code is never a key (docs/security.md).
          if (s.state === 'opening') return this.connectFirst(s);
          this.hub.metrics.peerError(parseErrorBody(frame.payload).code);
          return undefined;
      }
    } catch (err) {
      if (err instanceof FrameError) return this.protocolError(s, err.code, err.message, err.closeCode);
      throw err;
    }
  }

  private connectFirst(s: ServerSession): undefined {
    return this.protocolError(s, ErrorCode.PROTOCOL, 'CONNECT first', DisconnectCode.PROTOCOL_ERROR);
  }

  protocolError(s: ServerSession, code: string, message: string, closeCode: number): undefined {
    this.hub.metrics.error(code);
    if (s.state === 'open' || s.state === 'opening' || s.state === 'absent') {
      // Reported to onDisconnect instead of whatever the peer's own close says.
      s.failure = { code: closeCode, reason: message };
      this.hub.sendError(s, code, message);
      s.conn.disconnect(closeCode, message);
    }
    return undefined;
  }
}
