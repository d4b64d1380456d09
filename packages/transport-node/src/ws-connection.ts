import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { CloseCode, encodeCloseFrame, isValidCloseCode, Receiver, Sender, type PerMessageDeflate, type Role, type WsError } from '@stelar/codec-ws';
import { DEFAULT_CLOSE_TIMEOUT } from './options';
import type { WsConnectionEvents, WsConnectionObserver, WsConnectionOptions, WsReadyState } from './ws-connection-options';
import { WsInput } from './ws-input';
import { endOut, gathered } from './coalesce';
import { attach, EMPTY, Events, onSocketClose, onSocketData, PONG_BACKLOG, SenderOut, writeBinary, writeFrame } from './ws-socket';

/**
 * One RFC 6455 connection over a connected `net.Socket` or `tls.TLSSocket`, in either role, on
 * the codec-ws `Receiver`/`Sender` (and `PerMessageDeflate` when negotiated):
 *
 * - sends text and binary messages in call order, compressed when negotiated and at least the
 *   deflate instance's threshold; answers pings with pongs;
 * - the closing handshake: `close()` sends a close frame and waits up to `closeTimeout` for the
 *   peer's, then the socket is ended (the server closes TCP first) or destroyed; a peer's close
 *   frame is echoed;
 * - protocol violations fail the connection with the right close code (1002, 1007, 1009…);
 * - any socket error destroys the socket; the only timer is the close timeout.
 *
 * Reading starts on the next tick, so listeners attached right after construction see
 * everything, `head` included.
 */
export class WsConnection extends EventEmitter<WsConnectionEvents> {
  readonly socket: Socket;
  readonly role: Role;
  readonly protocol: string | undefined;
  readonly deflate: PerMessageDeflate | undefined;
  /** The socket error that ended the connection, if any. */
  error: Error | undefined;
  /** The reading side: the receiver, flow control, the input guard. */
  private readonly input: WsInput;
  private readonly sender: Sender;
  private readonly closeTimeout: number;
  private state: WsReadyState = 'open';
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private sent: { code: number; reason: string } | undefined;
  private received: { code: number; reason: string } | undefined;
  /** Our close frame has been handed to the socket (or never will be): ending is safe. */
  private closeWritten = false;
  /** We want to half-close once our close frame is written. */
  private wantEnd = false;
  /** The socket closed while a compressed message was still inflating (see socketClose). */
  private socketGone = false;
  /** The latest ping to answer once the output drains (see answerPing). */
  private latePong: Buffer | null = null;
  private needDrain = false;
  /** The link built on this connection (see `setObserver`): called directly, before the events. */
  private observer: WsConnectionObserver | undefined;
  /** The write callback that checks for a drain, made on the first write finding the output full. */
  private drainCallback: (() => void) | undefined;

  constructor(socket: Socket, options: WsConnectionOptions) {
    super();
    // No listener table (a ~180 B dictionary a server connection, served by its observer, never uses)
    // until the first `on`: Node's EventEmitter makes it then when `_events` is undefined.
    (this as unknown as { _events: undefined })._events = undefined;
    this.socket = socket;
    this.role = options.role;
    this.protocol = options.protocol;
    this.deflate = options.deflate;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    // One object with prototype methods for the receiver's and the sender's callbacks: no closure
    // per callback per connection.
    const events = new Events(this);
    const receiver = new Receiver(
      {
        role: options.role,
        deflate: options.deflate,
        ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
        ...(options.maxFrameSize !== undefined ? { maxFrameSize: options.maxFrameSize } : {}),
      },
      events,
    );
    this.input = new WsInput(socket, receiver, options.guard);
    this.sender = new Sender(new SenderOut(this, options.role, options.deflate));

    // Shared listener functions that find this connection on the socket: no closure (and no
    // captured context, which kept the upgrade's `head` buffer alive) per connection.
    attach(socket, this);
    if (socket.destroyed) {
      // Closed before we got it: report once, asynchronously.
      process.nextTick(onSocketClose.bind(socket));
      return;
    }
    const head = options.head;
    if (head && head.length > 0) process.nextTick(onSocketData.bind(socket), head);
    socket.on('data', onSocketData);
  }

  /** @internal (socket) */
  socketError(err: Error): void {
    this.error ??= err;
    this.socket.destroy();
  }

  /** @internal (socket) the peer half-closed: without a closing handshake there is nothing left to say. */
  socketEnd(): void {
    if (this.state === 'open') endOut(this.socket);
    else this.requestEnd();
  }

  /** @internal (socket, and writes made while the output was full) */
  checkDrain(): void {
    if (!this.needDrain || this.state === 'closed') return;
    const s = this.socket;
    if (this.sender.pendingBytes > 0 || s.writableLength > 0 || gathered(s) > 0) return;
    this.needDrain = false;
    this.observer?.onWsDrain();
    this.emit('drain');
  }

  /** Our close frame has been handed to the socket. */
  private closeWrittenNow(): void {
    this.closeWritten = true;
    if (this.wantEnd) endOut(this.socket);
  }

  /** @internal (socket) */
  socketData(chunk: Buffer): void {
    this.input.push(chunk);
  }

  /**
   * @internal The link built on this connection: told of every event, before (for messages:
   * instead of, when no `message` listener is attached) the emitter's listeners. One object with
   * methods instead of a listener closure per event per connection, and no emitter call per
   * message.
   */
  setObserver(observer: WsConnectionObserver): void {
    this.observer = observer;
  }

  /** `open`, `closing` (close frame sent or received) or `closed` (socket gone). */
  get readyState(): WsReadyState {
    return this.state;
  }

  /** Bytes queued and not yet handed to the OS: the socket's buffer plus what waits for compression. */
  get bufferedAmount(): number {
    const s = this.socket;
    return s.writableLength + gathered(s) + this.sender.pendingBytes;
  }

  /** The close frame we sent, if any (`code` 1005 when it had no body). */
  get closeSent(): { readonly code: number; readonly reason: string } | undefined {
    return this.sent;
  }

  /** The close frame we received, if any (`code` 1005 when it had no body). */
  get closeReceived(): { readonly code: number; readonly reason: string } | undefined {
    return this.received;
  }

  /**
   * Sends a message: text for a string (unless `binary`), binary for bytes. Returns false if the
   * connection is not open. Never modifies `data`.
   */
  send(data: string | Uint8Array, options: { binary?: boolean; compress?: boolean; fin?: boolean } = {}): boolean {
    if (this.state !== 'open') return false;
    const ok = this.sender.send(data, options);
    if (this.sender.pendingBytes > 0) this.needDrain = true;
    return ok;
  }

  /**
   * Sends a frame encoded elsewhere (server role only: it must be unmasked), in order with the
   * other sends: `header` then `payload`. A whole frame may be passed as `header` with an empty
   * `payload` (one write). Used to share one encoded frame between the recipients of a broadcast.
   */
  sendEncoded(header: Buffer, payload: Buffer = EMPTY): boolean {
    if (this.role !== 'server') throw new Error('sendEncoded is for the server role (client frames are masked)');
    if (this.state !== 'open') return false;
    // A whole frame goes as the payload part: the Sender counts only payload bytes in
    // pendingBytes, and a frame waiting behind a compression must count in bufferedAmount.
    const ok = payload.length === 0 ? this.sender.sendParts(EMPTY, header) : this.sender.sendParts(header, payload);
    if (this.sender.pendingBytes > 0) this.needDrain = true;
    return ok;
  }

  /**
   * @internal One binary message: a Stelar frame without its totalLen (≤ GATHER_MAX - 4 bytes),
   * encoded straight into the gather buffer of this socket's read (when `hasCompany(socket)`).
   * Server role without permessage-deflate only: its Sender never queues, so order is kept.
   */
  sendStelarFrame(frame: Uint8Array): boolean {
    if (this.state !== 'open') return false;
    const s = this.socket;
    if (s.destroyed || s.writableEnded) return true;
    if (!writeBinary(s, frame, this.needDrain ? (this.drainCallback ??= () => this.checkDrain()) : undefined)) this.needDrain = true;
    return true;
  }

  /** Sends a ping (payload at most 125 bytes). */
  ping(payload: string | Uint8Array = EMPTY): boolean {
    if (this.state !== 'open') return false;
    return this.sender.ping(payload);
  }

  /** Sends an unsolicited pong (payload at most 125 bytes). */
  pong(payload: string | Uint8Array = EMPTY): boolean {
    if (this.state !== 'open') return false;
    return this.sender.pong(payload);
  }

  /**
   * Starts the closing handshake: queues a close frame (after what is already queued), then waits
   * up to `closeTimeout` for the peer's close frame and the end of the TCP connection. No code: an
   * empty close frame (the peer sees 1005). The reason is cut to 123 bytes.
   * @throws RangeError for a code that may not be sent (e.g. 1005, 1006, 999)
   */
  close(code?: number, reason = ''): void {
    if (code !== undefined && !isValidCloseCode(code)) throw new RangeError(`Close code ${code} may not be sent`);
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.sent = { code: code ?? CloseCode.NO_STATUS, reason: code === undefined ? '' : reason };
    if (!this.sender.close(code, reason, () => this.closeWrittenNow())) this.closeWritten = true;
    this.startCloseTimer();
    // The receiver is done (peer's close already in, or a protocol error): nothing more to wait for.
    if (this.input.receiver.isDone) this.requestEnd();
  }

  /** Destroys the socket at once (no closing handshake). */
  terminate(): void {
    this.socket.destroy();
  }

  /** @internal (receiver) a data message. */
  rxMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    const o = this.observer;
    if (o !== undefined) o.onWsMessage(data, isBinary);
    if (o === undefined || this.listenerCount('message') !== 0) this.emit('message', data, isBinary);
  }

  /** @internal (receiver) a ping. */
  rxPing(payload: Buffer): void {
    if (this.state === 'open') this.answerPing(payload);
    this.observer?.onWsPing();
    this.emit('ping', payload);
  }

  /** @internal (receiver) a pong. */
  rxPong(payload: Buffer): void {
    this.observer?.onWsPong();
    this.emit('pong', payload);
  }

  /** @internal (receiver) the peer's close frame. */
  rxClose(code: number | undefined, reason: string): void {
    this.input.release();
    this.onPeerClose(code, reason);
    if (this.socketGone) this.finalize();
  }

  /** @internal (receiver) a protocol violation. */
  rxError(err: WsError): void {
    this.input.release();
    this.onProtocolError(err);
    if (this.socketGone) this.finalize();
  }

  /** @internal (receiver) input may flow again after an inflate. */
  rxDrain(): void {
    this.input.drained(!this.socketGone && this.state !== 'closed');
    if (this.socketGone) this.finalize();
  }

  /** @internal (sender) a frame to write. */
  txWrite(header: Buffer, payload: Buffer): void {
    this.write(header, payload);
  }

  /** @internal (sender) a compression failure. */
  txError(err: WsError): void {
    this.onSendError(err);
  }

  /**
   * Answers a ping. While the peer is not reading (our output backed up), only the most recent
   * ping is answered, once the output drains (RFC 6455 §5.5.3 allows it): a ping flood from a
   * peer that never reads cannot grow our buffer.
   */
  private answerPing(payload: Buffer): void {
    // Only bytes the peer has not read count: a compression in progress for a peer that does
    // read must not hold the pong back (RFC 6455 §5.5.2: answer as soon as practical).
    if (this.socket.writableLength + gathered(this.socket) < PONG_BACKLOG) {
      this.sender.pong(payload);
      return;
    }
    const waiting = this.latePong !== null;
    this.latePong = Buffer.from(payload);
    if (!waiting) {
      this.socket.once('drain', () => {
        const p = this.latePong;
        this.latePong = null;
        if (p && this.state === 'open') this.sender.pong(p);
      });
    }
  }

  /** Stops reading from the peer (the guard's message deadline stops too). */
  pause(): void {
    this.input.pause();
  }

  /** Resumes reading (unless an inflate is still holding input). */
  resume(): void {
    this.input.resume(this.state !== 'closed');
  }

  private write(header: Buffer, payload: Buffer): void {
    const s = this.socket;
    if (s.destroyed || s.writableEnded) return;
    if (!writeFrame(s, header, payload, this.needDrain ? (this.drainCallback ??= () => this.checkDrain()) : undefined)) this.needDrain = true;
  }

  private startCloseTimer(): void {
    if (this.closeTimer !== undefined || this.state === 'closed') return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
    this.closeTimer.unref?.();
  }

  /**
   * Half-closes our side once our close frame has been handed to the socket (it may wait behind a
   * compression in progress); the close timer bounds the wait.
   */
  private requestEnd(): void {
    this.wantEnd = true;
    this.startCloseTimer();
    if (this.closeWritten) endOut(this.socket);
  }

  private onPeerClose(code: number | undefined, reason: string): void {
    this.received = { code: code ?? CloseCode.NO_STATUS, reason };
    this.input.readToEnd();
    if (this.state === 'open') {
      this.state = 'closing';
      // Echo the status code (RFC 6455 §5.5.1).
      this.sent = { code: code ?? CloseCode.NO_STATUS, reason: '' };
      if (!this.sender.close(code, undefined, () => this.closeWrittenNow())) this.closeWritten = true;
    }
    this.startCloseTimer();
    // The server closes the TCP connection first; a client waits for it (bounded by the timer).
    if (this.role === 'server') this.requestEnd();
  }

  private onProtocolError(err: WsError): void {
    if (this.state === 'closed') return;
    this.input.readToEnd();
    this.observer?.onWsProtocolError(err);
    this.emit('protocolError', err);
    if (this.state === 'open') this.close(err.closeCode, err.message);
    else this.requestEnd();
  }

  private onSendError(err: WsError): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') {
      // The Sender refuses everything after a failure: write the close frame directly.
      this.state = 'closing';
      this.sent = { code: err.closeCode, reason: err.message };
      const [h, p] = encodeCloseFrame(this.role, err.closeCode, err.message);
      this.write(h, p);
    }
    this.closeWritten = true;
    this.requestEnd();
  }

  /** @internal (socket) */
  socketClose(): void {
    if (this.state === 'closed' || this.socketGone) return;
    this.socketGone = true;
    if (this.input.receiver.isBusy) {
      // Bytes that arrived before the socket closed are still being inflated: deliver them (and
      // a close frame behind them) first. The receiver calls onDrain, onClose or onError once it
      // is idle, since the push that found it busy returned false; the close timeout bounds it.
      if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
      this.closeTimer = setTimeout(() => this.finalize(), this.closeTimeout);
      return;
    }
    this.finalize();
  }

  private finalize(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.input.destroy();
    this.deflate?.close();
    const r = this.received;
    const code = r ? r.code : CloseCode.ABNORMAL;
    const reason = r ? r.reason : '';
    this.observer?.onWsClose(code, reason);
    this.emit('close', code, reason);
  }
}
