/** The few `ws` 8 APIs the bench uses (`ws` ships no types and `@types/ws` is not a dependency). */
declare module 'ws' {
  import type { EventEmitter } from 'node:events';
  import type { Server as HttpServer } from 'node:http';
  import type { Socket } from 'node:net';

  export interface PerMessageDeflateOptions {
    threshold?: number;
    serverNoContextTakeover?: boolean;
    clientNoContextTakeover?: boolean;
  }

  export interface FrameOptions {
    fin: boolean;
    rsv1: boolean;
    opcode: number;
    mask: boolean;
    readOnly: boolean;
  }

  /** ws's frame writer; `Sender.frame` is public (a frame built once can go to many sockets). */
  export class Sender {
    static frame(data: Buffer, options: FrameOptions): Buffer[];
  }

  export class WebSocket extends EventEmitter {
    constructor(address: string);
    static readonly OPEN: 1;
    readonly readyState: number;
    /** The underlying socket (private in ws; the pre-framed broadcast writes to it). */
    readonly _socket: Socket;
    send(data: Buffer | Uint8Array | string, options?: { binary?: boolean; compress?: boolean }, cb?: (err?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
    on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'open', listener: () => void): this;
    once(event: 'open', listener: () => void): this;
    once(event: 'error', listener: (err: Error) => void): this;
  }

  export default WebSocket;

  export interface ServerOptions {
    host?: string;
    port?: number;
    server?: HttpServer;
    perMessageDeflate?: boolean | PerMessageDeflateOptions;
    maxPayload?: number;
    clientTracking?: boolean;
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options: ServerOptions, callback?: () => void);
    readonly clients: Set<WebSocket>;
    address(): { port: number } | string;
    close(cb?: (err?: Error) => void): void;
    on(event: 'connection', listener: (socket: WebSocket) => void): this;
    on(event: 'listening', listener: () => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
  }
}
