import { Buffer } from 'node:buffer';
import { decodeMessage, DisconnectCode, FrameError, LENGTH_PREFIX_SIZE } from '@stelar/codec-tcp';
import { encodeFrameHeader, isValidCloseCode, Opcode, type WsError } from '@stelar/codec-ws';
import { GATHER_MAX, flushOut, hasCompany } from './coalesce';
import { BaseLink, type LinkInit } from './link-base';
import type { ConnectionSlot } from './limits';
import type { ErrorReporter, LinkLimits } from './options';
import type { WsConnection } from './ws-connection';
import { MERGE_MAX, type WsConnectionObserver } from './ws-connection-options';
import { EMPTY } from './ws-socket';


/**
 * Fan-out cache. Core hands the same frame object to every recipient of a broadcast, one after
 * the other, so the server WebSocket frame is built once for consecutive sends of one frame:
 * - small frames (≤ MERGE_MAX with the header): one buffer, header + body, shared by every
 *   recipient — each send is one `socket.write` of that buffer, no header build, no copy;
 * - large frames: the header is shared (it depends only on the length) and the body is a view
 *   of the frame, written after it in one corked pair — the body is never copied.
 * One entry, keyed by object identity (and length): it holds at most one small frame and its copy.
 */
let cachedFrame: Uint8Array | null = null;
let cachedLength = -1;
let cachedWire: Buffer = EMPTY;
let cachedHeaderLength = -1;
let cachedHeader: Buffer = EMPTY;

/** @internal counters for tests and benchmarks: wire frames built vs. reused. */
export const fanOutStats = { built: 0, reused: 0 };

/**
 * A small frame (body + 4-byte WebSocket header ≤ MERGE_MAX) as one unmasked binary WebSocket
 * frame: header written in place, body copied once (the Stelar frame's totalLen is dropped).
 */
function smallWire(frame: Uint8Array): Buffer {
  if (frame === cachedFrame && frame.length === cachedLength) {
    fanOutStats.reused++;
    return cachedWire;
  }
  fanOutStats.built++;
  const bodyLength = frame.length - LENGTH_PREFIX_SIZE;
  const headerLength = bodyLength < 126 ? 2 : 4;
  const wire = Buffer.allocUnsafe(headerLength + bodyLength);
  wire[0] = 0x80 | Opcode.BINARY;
  if (headerLength === 2) wire[1] = bodyLength;
  else {
    wire[1] = 126;
    wire[2] = bodyLength >>> 8;
    wire[3] = bodyLength & 0xff;
  }
  if (bodyLength < 64) {
    for (let i = 0; i < bodyLength; i++) wire[headerLength + i] = frame[LENGTH_PREFIX_SIZE + i]!;
  } else wire.set(frame.subarray(LENGTH_PREFIX_SIZE), headerLength);
  cachedFrame = frame;
  cachedLength = frame.length;
  cachedWire = wire;
  return wire;
}

/** The (shared) header of a large frame's body of `bodyLength` bytes. */
function largeHeader(bodyLength: number): Buffer {
  if (bodyLength !== cachedHeaderLength) {
    fanOutStats.built++;
    cachedHeader = encodeFrameHeader(Opcode.BINARY, bodyLength);
    cachedHeaderLength = bodyLength;
  } else fanOutStats.reused++;
  return cachedHeader;
}

/** Decode options shared by the links of one limit (one object, not one per connection). */
let sharedDecodeOptions: { readonly maxFrameSize: number } = { maxFrameSize: -1 };
function decodeOptionsFor(maxFrameSize: number): { readonly maxFrameSize: number } {
  if (sharedDecodeOptions.maxFrameSize !== maxFrameSize) sharedDecodeOptions = { maxFrameSize };
  return sharedDecodeOptions;
}

export interface WsLinkOptions {
  /** Largest Stelar frame accepted (totalLen included); messages above `maxFrameSize - 4` fail with 1009. */
  maxFrameSize: number;
  limits: LinkLimits;
  report: ErrorReporter;
  slot?: ConnectionSlot | undefined;
  /** Called once the connection has closed (after the link's `onClose`): a listener's counter. */
  onClosed?: (() => void) | undefined;
}

/**
 * A core `Link` over a {@link WsConnection}: each binary message is one Stelar frame without its
 * totalLen (docs/protocol.md §1); a text message is a protocol error (1003).
 */
export class WsLink extends BaseLink implements WsConnectionObserver {
  readonly connection: WsConnection;
  private readonly server: boolean;
  private readonly decodeOptions: { readonly maxFrameSize: number };
  /** The close we asked for while the connection was open (reported by `onClose`). */
  private initiated: { code: number; reason: string } | undefined;
  private readonly onClosed: (() => void) | undefined;

  constructor(connection: WsConnection, init: LinkInit, options: WsLinkOptions) {
    super(init, options.limits, options.report, options.slot);
    this.connection = connection;
    this.server = connection.role === 'server';
    this.decodeOptions = decodeOptionsFor(options.maxFrameSize);
    this.onClosed = options.onClosed;
    connection.setObserver(this);
  }

  /** @internal */
  onWsProtocolError(err: WsError): void {
    this.protocolError(err.code, err.message, err.closeCode);
  }

  /** @internal a pong, and a ping too, are signs of life. */
  onWsPong(): void {
    this.call(() => this.handler.onPong());
  }

  /** @internal */
  onWsPing(): void {
    this.call(() => this.handler.onPong());
  }

  /** @internal */
  onWsDrain(): void {
    this.drained();
  }

  /** @internal */
  onWsClose(code: number, reason: string): void {
    const connection = this.connection;
    const mine = this.initiated;
    if (mine) this.finish(mine.code, mine.reason);
    else if (connection.closeReceived) this.finish(code, reason, true);
    else {
      const sent = connection.closeSent;
      this.finish(sent ? sent.code : code, sent ? sent.reason : reason);
    }
    this.onClosed?.();
  }

  get bufferedAmount(): number {
    return this.connection.bufferedAmount;
  }

  protected get writable(): boolean {
    return this.connection.readyState === 'open';
  }

  /** @internal */
  onWsMessage(data: Buffer, isBinary: boolean): void {
    if (this.failed) return;
    if (!isBinary) {
      this.protocolError('UNSUPPORTED_DATA', 'text messages are not part of the Stelar protocol', DisconnectCode.UNSUPPORTED_DATA);
      return;
    }
    let frame;
    try {
      frame = decodeMessage(data, this.decodeOptions);
    } catch (err) {
      if (err instanceof FrameError) this.protocolError(err.code, err.message, err.closeCode);
      else this.protocolError('BAD_PAYLOAD', String(err), DisconnectCode.PROTOCOL_ERROR);
      return;
    }
    this.deliver(frame, data.length + LENGTH_PREFIX_SIZE);
  }

  protected write(frame: Uint8Array, compress: boolean): void {
    const c = this.connection;
    const deflate = c.deflate;
    const bodyLength = frame.length - LENGTH_PREFIX_SIZE;
    // Uncompressed: no deflate negotiated, below its threshold, or `compress(false)` asked for it.
    if (this.server && (deflate === undefined || !compress || bodyLength < deflate.threshold)) {
      // Without deflate the Sender never queues: during the socket's own read, a frame that finds
      // bytes queued (pipelined replies) is encoded straight into the read's gather buffer; the
      // first reply, and broadcasts, are the (shared) one-buffer frame below.
      if (deflate === undefined && bodyLength + 4 <= GATHER_MAX && hasCompany(c.socket)) {
        c.sendStelarFrame(frame);
        return;
      }
      if (bodyLength + 4 <= MERGE_MAX) c.sendEncoded(smallWire(frame));
      else c.sendEncoded(largeHeader(bodyLength), Buffer.from(frame.buffer, frame.byteOffset + LENGTH_PREFIX_SIZE, bodyLength));
      return;
    }
    c.send(frame.subarray(LENGTH_PREFIX_SIZE), compress ? { binary: true } : { binary: true, compress: false });
  }

  cork(): void {
    this.connection.socket.cork();
  }

  uncork(): void {
    const s = this.connection.socket;
    flushOut(s);
    s.uncork();
  }

  ping(): void {
    if (!this.closing) this.connection.ping();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    if (this.connection.readyState !== 'open') return;
    const sendable = isValidCloseCode(code) ? code : DisconnectCode.NORMAL;
    this.initiated = { code: sendable, reason };
    this.connection.close(sendable, reason);
  }

  terminate(): void {
    this.closing = true;
    this.connection.terminate();
  }

  pause(): void {
    this.connection.pause();
  }

  resume(): void {
    this.connection.resume();
  }
}
