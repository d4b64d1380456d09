import { Buffer } from 'node:buffer';
import { decodeMessage, FrameError, LENGTH_PREFIX_SIZE } from '@stelar/codec-tcp';
import { encodeFrameHeader, isValidCloseCode, Opcode } from '@stelar/codec-ws';
import { BaseLink, type LinkInit } from './link-base';
import type { ConnectionSlot } from './limits';
import type { ErrorReporter, LinkLimits } from './options';
import { MERGE_MAX, type WsConnection } from './ws-connection';

const EMPTY = Buffer.alloc(0);

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

/** Server-side wire form of `frame`: `[whole frame, EMPTY]` when small, `[header, body view]` when large. */
function serverWire(frame: Uint8Array, out: { header: Buffer; body: Buffer }): void {
  const bodyLength = frame.length - LENGTH_PREFIX_SIZE;
  if (frame === cachedFrame && frame.length === cachedLength) {
    fanOutStats.reused++;
    out.header = cachedWire;
    out.body = EMPTY;
    return;
  }
  const body = Buffer.from(frame.buffer, frame.byteOffset + LENGTH_PREFIX_SIZE, bodyLength);
  if (bodyLength + 10 <= MERGE_MAX) {
    fanOutStats.built++;
    const header = encodeFrameHeader(Opcode.BINARY, bodyLength);
    const wire = Buffer.allocUnsafe(header.length + bodyLength);
    header.copy(wire, 0);
    body.copy(wire, header.length);
    cachedFrame = frame;
    cachedLength = frame.length;
    cachedWire = wire;
    out.header = wire;
    out.body = EMPTY;
    return;
  }
  if (bodyLength !== cachedHeaderLength) {
    fanOutStats.built++;
    cachedHeader = encodeFrameHeader(Opcode.BINARY, bodyLength);
    cachedHeaderLength = bodyLength;
  } else fanOutStats.reused++;
  out.header = cachedHeader;
  out.body = body;
}

const scratch = { header: EMPTY, body: EMPTY };

export interface WsLinkOptions {
  /** Largest Stelar frame accepted (totalLen included); messages above `maxFrameSize - 4` fail with 1009. */
  maxFrameSize: number;
  limits: LinkLimits;
  report: ErrorReporter;
  slot?: ConnectionSlot | undefined;
}

/**
 * A core `Link` over a {@link WsConnection}: each binary message is one Stelar frame without its
 * totalLen (docs/protocol.md §1); a text message is a protocol error (1003).
 */
export class WsLink extends BaseLink {
  readonly connection: WsConnection;
  private readonly server: boolean;
  /** The close we asked for while the connection was open (reported by `onClose`). */
  private initiated: { code: number; reason: string } | undefined;

  constructor(connection: WsConnection, init: LinkInit, options: WsLinkOptions) {
    super(init, options.limits, options.report, options.slot);
    this.connection = connection;
    this.server = connection.role === 'server';
    const decodeOptions = { maxFrameSize: options.maxFrameSize };
    connection.on('message', (data, isBinary) => {
      if (this.failed) return;
      if (!isBinary) {
        this.protocolError('UNSUPPORTED_DATA', 'text messages are not part of the Stelar protocol', 1003);
        return;
      }
      let frame;
      try {
        frame = decodeMessage(data, decodeOptions);
      } catch (err) {
        if (err instanceof FrameError) this.protocolError(err.code, err.message, err.closeCode);
        else this.protocolError('BAD_PAYLOAD', String(err), 1002);
        return;
      }
      const size = data.length + LENGTH_PREFIX_SIZE;
      this.deliver(() => this.handler.onFrame(frame, size));
    });
    connection.on('protocolError', (err) => this.protocolError(err.code, err.message, err.closeCode));
    const alive = (): void => this.call(() => this.handler.onPong());
    connection.on('pong', alive);
    connection.on('ping', alive);
    connection.on('drain', () => this.drained());
    connection.on('close', (code, reason) => {
      const mine = this.initiated;
      if (mine) this.finish(mine.code, mine.reason);
      else if (connection.closeReceived) this.finish(code, reason, true);
      else {
        const sent = connection.closeSent;
        this.finish(sent ? sent.code : code, sent ? sent.reason : reason);
      }
    });
  }

  get bufferedAmount(): number {
    return this.connection.bufferedAmount;
  }

  protected get writable(): boolean {
    return this.connection.readyState === 'open';
  }

  protected write(frame: Uint8Array): void {
    const c = this.connection;
    const deflate = c.deflate;
    if (this.server && (deflate === undefined || frame.length - LENGTH_PREFIX_SIZE < deflate.threshold)) {
      serverWire(frame, scratch);
      c.sendEncoded(scratch.header, scratch.body);
      scratch.body = EMPTY;
      return;
    }
    c.send(frame.subarray(LENGTH_PREFIX_SIZE), { binary: true });
  }

  cork(): void {
    this.connection.socket.cork();
  }

  uncork(): void {
    this.connection.socket.uncork();
  }

  ping(): void {
    if (!this.closing) this.connection.ping();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    if (this.connection.readyState !== 'open') return;
    const sendable = isValidCloseCode(code) ? code : 1000;
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
