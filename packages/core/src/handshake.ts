import { DisconnectCode, encodeServerConnect, ErrorCode, parseClientHello, PROTOCOL_VERSION, type Frame } from '@stelar/codec-tcp';
import { markOpen } from './connection-access';
import { isExposed, publicErrorBody } from './errors';
import type { HubContext } from './hub-context';
import { runMiddleware } from './middleware';
import type { Recovery } from './recovery';
import type { ServerSession } from './session';

/**
 * Opening a session: the client's CONNECT (protocol version, `auth`, connection-state recovery),
 * connection middleware, then the hub's CONNECT answer, or a refusal (ERROR then close 4001 /
 * 4002), or, when middleware crashed, ERROR INTERNAL_ERROR then close 1011, which clients retry.
 * docs/protocol.md §4 and §8.
 *
 * A CONNECT that resumes a session runs the middleware on that session's connection
 * (`conn.recovered` is true there); connect errors with more detail for the client would be
 * decided here too.
 */
export class Handshake<In extends object, Out extends object> {
  constructor(
    private readonly hub: HubContext<In, Out>,
    private readonly recovery: Recovery<In, Out> | undefined,
  ) {}

  /** The client's CONNECT; returns a promise while connection middleware runs. */
  hello(s: ServerSession, frame: Frame): Promise<void> | undefined {
    const hello = parseClientHello(frame.payload);
    s.helloReceived = true;
    if (hello.v !== PROTOCOL_VERSION) {
      this.refuse(s, ErrorCode.VERSION_MISMATCH, `protocol version ${hello.v} is not supported (server speaks ${PROTOCOL_VERSION})`, DisconnectCode.VERSION_MISMATCH);
      return undefined;
    }
    // The session the middleware sees: this one, or the one the client resumes.
    let target = s;
    const rec = this.recovery;
    if (rec !== undefined && hello.recover !== undefined) {
      const { token, offset } = hello.recover;
      if (token !== undefined && !this.hub.draining && rec.shared) {
        // A shared log (a cluster): the session is claimed from the shared store, asynchronously.
        return rec.claimShared(s, token, offset!).then((old) => {
          if (s.state !== 'opening') return;
          if (old === undefined) rec.optIn(s, true);
          return this.authorize(s, old ?? s, hello.auth);
        });
      }
      const old = token === undefined || this.hub.draining ? undefined : rec.claim(s, token, offset!);
      if (old !== undefined) target = old;
      else rec.optIn(s, token !== undefined);
    }
    return this.authorize(s, target, hello.auth);
  }

  /** Connection middleware on the session's connection (`target`: the one resumed, else `s`'s). */
  private authorize(s: ServerSession, target: ServerSession, auth: unknown): Promise<void> | undefined {
    target.conn.auth = auth;
    const chain = this.hub.callbacks.connectionMiddleware;
    if (chain.length === 0) {
      this.open(s, target);
      return undefined;
    }
    return runMiddleware(chain, target.conn, () => undefined).then(
      (completed) => {
        if (s.state !== 'opening') return;
        if (completed) this.open(s, target);
        else this.refuse(s, ErrorCode.UNAUTHORIZED, 'refused by connection middleware', DisconnectCode.UNAUTHORIZED, target);
      },
      (err: unknown) => {
        if (s.state !== 'opening') return;
        // Only AuthError (code UNAUTHORIZED) refuses, and VERSION_MISMATCH; any other throw is a
        // server failure the client may retry (1011), reported like every other crash.
        if (isExposed(err) && (err.code === ErrorCode.UNAUTHORIZED || err.code === ErrorCode.VERSION_MISMATCH)) {
          this.hub.log.debug?.({ conn: s.conn.id, code: err.code }, 'session refused by connection middleware');
          this.refuse(s, err.code, err.message, err.code === ErrorCode.VERSION_MISMATCH ? DisconnectCode.VERSION_MISMATCH : DisconnectCode.UNAUTHORIZED, target);
          return;
        }
        const body = publicErrorBody(err, this.hub.settings.exposeErrors);
        this.hub.emitError(err, s.conn, 'connection middleware failed');
        this.refuse(s, body.code, body.message, DisconnectCode.INTERNAL_ERROR, target);
      },
    );
  }

  /** Middleware passed: a new session, or the resumed one. */
  private open(s: ServerSession, target: ServerSession): void {
    if (target === s) {
      this.accept(s);
      return;
    }
    if (this.recovery!.resume(target, s)) return;
    // Its missed messages were trimmed while the middleware ran, or the application closed it:
    // this link goes, and the client's next CONNECT gets a fresh session.
    this.recovery!.discard(target);
    s.conn.disconnect(DisconnectCode.TRY_AGAIN_LATER, 'session could not be resumed; reconnect');
  }

  private refuse(s: ServerSession, code: string, message: string, closeCode: number, target: ServerSession = s): void {
    const m = this.hub.metrics;
    m.rejected++;
    m.error(code);
    this.hub.sendError(s, code, message);
    s.conn.disconnect(closeCode, message);
    // A refused resume ends the session it asked for (its credentials no longer hold).
    if (target !== s) this.recovery!.discard(target, closeCode, message);
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
    const hello = { v: PROTOCOL_VERSION, id: conn.id, heartbeat: hb ? hb.interval : 0, maxFrame: hub.settings.maxFrameSize };
    conn.sendEncoded(encodeServerConnect(s.rec !== undefined ? { ...hello, recovery: this.recovery!.accepted(s) } : hello), false);
    hub.log.debug?.({ conn: conn.id, transport: conn.transport, remoteAddress: conn.remoteAddress }, 'connection accepted');
    hub.notify(s, hub.callbacks.connection);
  }
}
