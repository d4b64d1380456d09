import { DisconnectCode, encodeServerConnect, ErrorCode, parseClientHello, PROTOCOL_VERSION, type Frame } from '@stelar/codec-tcp';
import { markOpen } from './connection';
import { isExposed, publicErrorBody } from './errors';
import type { HubContext } from './hub-context';
import { runMiddleware } from './middleware';
import type { ServerSession } from './session';

/**
 * Opening a session: the client's CONNECT (protocol version, `auth`), connection middleware, then
 * the hub's CONNECT answer, or a refusal (ERROR then close 4001 / 4002), or, when middleware
 * crashed, ERROR INTERNAL_ERROR then close 1011, which clients retry. docs/protocol.md §4.
 *
 * Connect errors with more detail for the client, or resuming a recovered session from an id in
 * CONNECT, would be decided here.
 */
export class Handshake<In extends object, Out extends object> {
  constructor(private readonly hub: HubContext<In, Out>) {}

  /** The client's CONNECT; returns a promise while connection middleware runs. */
  hello(s: ServerSession, frame: Frame): Promise<void> | undefined {
    const hello = parseClientHello(frame.payload);
    s.helloReceived = true;
    if (hello.v !== PROTOCOL_VERSION) {
      this.refuse(s, ErrorCode.VERSION_MISMATCH, `protocol version ${hello.v} is not supported (server speaks ${PROTOCOL_VERSION})`, DisconnectCode.VERSION_MISMATCH);
      return undefined;
    }
    s.conn.auth = hello.auth;
    const chain = this.hub.callbacks.connectionMiddleware;
    if (chain.length === 0) {
      this.accept(s);
      return undefined;
    }
    return runMiddleware(chain, s.conn, () => undefined).then(
      (completed) => {
        if (s.state !== 'opening') return;
        if (completed) this.accept(s);
        else this.refuse(s, ErrorCode.UNAUTHORIZED, 'refused by connection middleware', DisconnectCode.UNAUTHORIZED);
      },
      (err: unknown) => {
        if (s.state !== 'opening') return;
        // Only AuthError (code UNAUTHORIZED) refuses, and VERSION_MISMATCH; any other throw is a
        // server failure the client may retry (1011), reported like every other crash.
        if (isExposed(err) && (err.code === ErrorCode.UNAUTHORIZED || err.code === ErrorCode.VERSION_MISMATCH)) {
          this.hub.log.debug?.({ conn: s.conn.id, code: err.code }, 'session refused by connection middleware');
          this.refuse(s, err.code, err.message, err.code === ErrorCode.VERSION_MISMATCH ? DisconnectCode.VERSION_MISMATCH : DisconnectCode.UNAUTHORIZED);
          return;
        }
        const body = publicErrorBody(err, this.hub.settings.exposeErrors);
        this.hub.emitError(err, s.conn, 'connection middleware failed');
        this.refuse(s, body.code, body.message, DisconnectCode.INTERNAL_ERROR);
      },
    );
  }

  private refuse(s: ServerSession, code: string, message: string, closeCode: number): void {
    const m = this.hub.metrics;
    m.rejected++;
    m.error(code);
    this.hub.sendError(s, code, message);
    s.conn.disconnect(closeCode, message);
  }

  private accept(s: ServerSession): void {
    const hub = this.hub;
    const m = hub.metrics;
    const conn = s.conn;
    hub.opening.delete(s);
    m.opening--;
    markOpen(conn);
    hub.open.set(conn.id, conn);
    m.open++;
    m.total++;
    m.transportDelta(conn.transport, 1);
    const hb = hub.settings.heartbeat;
    conn.sendEncoded(encodeServerConnect({ v: PROTOCOL_VERSION, id: conn.id, heartbeat: hb ? hb.interval : 0, maxFrame: hub.settings.maxFrameSize }), false);
    hub.log.debug?.({ conn: conn.id, transport: conn.transport, remoteAddress: conn.remoteAddress }, 'connection accepted');
    hub.notify(s, hub.callbacks.connection);
  }
}
