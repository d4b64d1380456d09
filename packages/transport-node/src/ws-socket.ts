// How a WsConnection is wired to its socket, its Receiver and its Sender without a closure per
// connection: shared listener functions that find the connection on the socket, and one object
// with prototype methods for each of the receiver's and the sender's callbacks. Also the write of
// one frame to the socket (merged or corked, held to the end of the turn).
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { PerMessageDeflate, ReceiverHandlers, Role, SenderOptions, WsError } from '@stelar/codec-ws';
import { holdWrites, releaseIfFull } from './coalesce';
import { MERGE_MAX } from './ws-connection-options';
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
 * Writes one frame, `header` then `payload` (either may be empty), and returns what `socket.write`
 * did. Outside this socket's own reads (a broadcast, a timer) writes wait for the end of the turn;
 * small frames go as one merged buffer, bigger ones as two corked writes.
 */
export function writeFrame(s: Socket, header: Buffer, payload: Buffer, cb: (() => void) | undefined): boolean {
  holdWrites(s);
  let ok: boolean;
  if (payload.length === 0) {
    ok = s.write(header, cb);
  } else if (header.length === 0) {
    ok = s.write(payload, cb);
  } else if (header.length + payload.length <= MERGE_MAX) {
    const merged = Buffer.allocUnsafe(header.length + payload.length);
    header.copy(merged, 0);
    payload.copy(merged, header.length);
    ok = s.write(merged, cb);
  } else {
    s.cork();
    s.write(header);
    ok = s.write(payload, cb);
    s.uncork();
  }
  releaseIfFull(s);
  return ok;
}
