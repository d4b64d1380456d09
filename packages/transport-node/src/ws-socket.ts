// How a WsConnection is wired to its socket, its Receiver and its Sender without a closure per
// connection: shared listener functions that find the connection on the socket, and one object
// with prototype methods for each of the receiver's and the sender's callbacks. Also the write of
// one frame to the socket (merged or corked, held to the end of the turn).
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { Opcode, type PerMessageDeflate, type ReceiverHandlers, type Role, type SenderOptions, type WsError } from '@stelar/codec-ws';
import { commit, reserve, writeOut } from './coalesce';
import type { WsConnection } from './ws-connection';

/** Output bytes above which pings are answered only once the output drains. */
export const PONG_BACKLOG = 64 * 1024;
/** The empty payload, shared. */
export const EMPTY = Buffer.alloc(0);

const OWNER = Symbol('stelar.wsConnection');
type OwnedSocket = Socket & { [OWNER]: WsConnection };

/** Makes `connection` the owner of `socket`: the shared listeners below find it there. */
export function own(socket: Socket, connection: WsConnection): void {
  (socket as OwnedSocket)[OWNER] = connection;
}

/** Sets `socket` up for `connection`: no timeout, no Nagle, and the shared listeners below. */
export function attach(socket: Socket, connection: WsConnection): void {
  socket.setTimeout(0);
  socket.setNoDelay(true);
  own(socket, connection);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  socket.on('end', onSocketEnd);
  socket.on('drain', onSocketDrain);
}

export function onSocketError(this: Socket, err: Error): void {
  (this as OwnedSocket)[OWNER].socketError(err);
}
export function onSocketClose(this: Socket): void {
  (this as OwnedSocket)[OWNER].socketClose();
}
export function onSocketEnd(this: Socket): void {
  (this as OwnedSocket)[OWNER].socketEnd();
}
export function onSocketDrain(this: Socket): void {
  (this as OwnedSocket)[OWNER].checkDrain();
}
export function onSocketData(this: Socket, chunk: Buffer): void {
  (this as OwnedSocket)[OWNER].socketData(chunk);
}

/** The receiver's handlers for one connection, as prototype methods. */
export class Events implements ReceiverHandlers {
  constructor(private readonly c: WsConnection) {}
  onMessage(data: Buffer, isBinary: boolean): void {
    this.c.rxMessage(data, isBinary);
  }
  onPing(payload: Buffer): void {
    this.c.rxPing(payload);
  }
  onPong(payload: Buffer): void {
    this.c.rxPong(payload);
  }
  onClose(code: number | undefined, reason: string): void {
    this.c.rxClose(code, reason);
  }
  onError(err: WsError): void {
    this.c.rxError(err);
  }
  onDrain(): void {
    this.c.rxDrain();
  }
}

/** The sender's output for one connection, as prototype methods. */
export class SenderOut implements SenderOptions {
  constructor(
    private readonly c: WsConnection,
    readonly role: Role,
    readonly deflate: PerMessageDeflate | undefined,
  ) {}
  write(header: Buffer, payload: Buffer): void {
    this.c.txWrite(header, payload);
  }
  onError(err: WsError): void {
    this.c.txError(err);
  }
}

/**
 * Writes one frame, `header` then `payload` (either may be empty), and returns false at or above
 * the socket's high-water mark (as `socket.write`). Outside this socket's own reads (a broadcast,
 * a timer) writes wait for the end of the turn; during them small parts are gathered into one
 * buffer, a large payload is written as it is after them (see coalesce.ts).
 */
export function writeFrame(s: Socket, header: Buffer, payload: Buffer, cb: (() => void) | undefined): boolean {
  if (payload.length === 0) return writeOut(s, header, cb);
  if (header.length !== 0) writeOut(s, header);
  return writeOut(s, payload, cb);
}

/**
 * Writes one unmasked binary frame whose payload is a Stelar frame without its 4-byte totalLen
 * (at most GATHER_MAX - 4 bytes), header and payload encoded straight into the gather buffer of
 * the socket being read (only when `hasCompany(s)`). Returns false at or above the socket's
 * high-water mark.
 */
export function writeBinary(s: Socket, frame: Uint8Array, cb: (() => void) | undefined): boolean {
  const n = frame.length - 4;
  const h = n < 126 ? 2 : 4;
  const o = reserve(h + n, cb);
  const b = o.buf!;
  const at = o.end;
  // The whole frame is copied so that its body lands after the header (one `set`, no subarray):
  // its 4-byte totalLen then covers the header's place, and for a 2-byte header also the 2 bytes
  // before `at` (this region's own: earlier bytes or its pad), put back after.
  if (h === 4) {
    b.set(frame, at);
    b[at + 1] = 126;
    b[at + 2] = n >>> 8;
    b[at + 3] = n & 0xff;
  } else {
    const x = b[at - 2]!;
    const y = b[at - 1]!;
    b.set(frame, at - 2);
    b[at - 2] = x;
    b[at - 1] = y;
    b[at + 1] = n;
  }
  b[at] = 0x80 | Opcode.BINARY; // FIN + binary
  return commit(s, h + n);
}
