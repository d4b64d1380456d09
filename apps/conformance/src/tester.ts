/**
 * The tester: one raw TCP connection to (or from) the peer under test, hand-built frames out,
 * every frame the peer sends checked against RFC 6455 / RFC 7692 and logged.
 *
 * Roles are named after the peer under test: in the `server` role the tester is a WebSocket
 * client (it masks its frames, the peer must not); in the `client` role the tester is a server.
 */
import type { Socket } from 'node:net';
import { TesterDeflater, TesterInflater, type PmdParams } from './deflate';
import {
  buildFrame,
  closeBody,
  FrameParser,
  isSendableCloseCode,
  isStrictUtf8,
  OP,
  OPCODE_NAMES,
  RSV1,
  toBuf,
  type Bytes,
  type FrameSpec,
  type ParsedFrame,
} from './wire';

const DEBUG = process.env['CONFORMANCE_DEBUG'] === '1';

export type PeerRole = 'server' | 'client';

export type LogEvent =
  | { kind: 'message'; at: number; binary: boolean; data: Buffer; frames: number; compressed: boolean }
  | { kind: 'ping'; at: number; data: Buffer }
  | { kind: 'pong'; at: number; data: Buffer }
  | { kind: 'close'; at: number; code: number | undefined; reason: Buffer };

export type ExpectedEvent = { kind: 'message'; binary: boolean; data: Buffer } | { kind: 'pong'; data: Buffer };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Negotiated permessage-deflate, from the tester's point of view. */
export interface TesterPmd {
  params: PmdParams;
  deflater: TesterDeflater;
  inflater: TesterInflater;
}

export function testerPmd(role: PeerRole, params: PmdParams): TesterPmd {
  const serverBits = params.serverMaxWindowBits ?? 15;
  const clientBits = typeof params.clientMaxWindowBits === 'number' ? params.clientMaxWindowBits : 15;
  // The tester is the other end: as a client it compresses with the client's parameters.
  return role === 'server'
    ? {
        params,
        deflater: new TesterDeflater(clientBits, params.clientNoContextTakeover),
        inflater: new TesterInflater(serverBits, params.serverNoContextTakeover),
      }
    : {
        params,
        deflater: new TesterDeflater(serverBits, params.serverNoContextTakeover),
        inflater: new TesterInflater(clientBits, params.clientNoContextTakeover),
      };
}

export interface SendMessageOptions {
  binary?: boolean;
  /** Compress (needs negotiated permessage-deflate). */
  compress?: boolean;
  /** Split the (compressed) payload into frames of this many bytes, or at these sizes. */
  fragments?: number | number[];
  /** Control frames to put between fragments (after fragment i, for every i but the last). */
  between?: FrameSpec;
}

export class Tester {
  readonly role: PeerRole;
  readonly socket: Socket;
  readonly pmd: TesterPmd | undefined;
  readonly log: LogEvent[] = [];
  readonly violations: string[] = [];
  readonly expected: ExpectedEvent[] = [];
  readonly marks = new Map<string, number>();
  readonly metrics: Record<string, number> = {};
  readonly notes: string[] = [];
  readonly checks: (() => string | undefined)[] = [];
  /** Masking keys seen on the peer's frames (client role). */
  readonly maskKeys = new Set<string>();
  readonly t0 = performance.now();
  tcpClosedAt: number | undefined;
  /** Messages and pongs logged so far. */
  dataCount = 0;
  /** Answer the peer's pings (default true). */
  autoPong = true;
  /** Our close frame (code undefined = empty body). */
  closeSent: { code: number | undefined; at: number } | undefined;
  private readonly parser: FrameParser;
  private peerClose: { code: number | undefined; reason: Buffer; at: number } | undefined;
  private waiters = new Set<() => void>();
  private chain: Promise<void> = Promise.resolve();
  // Message being assembled.
  private msgOpcode = -1;
  private msgCompressed = false;
  private msgFrames: Buffer[] = [];

  constructor(role: PeerRole, socket: Socket, pmd: TesterPmd | undefined, head: Buffer | undefined) {
    this.role = role;
    this.socket = socket;
    this.pmd = pmd;
    this.parser = new FrameParser(
      (f) => this.onFrame(f),
      (m) => this.violation(m),
    );
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.parser.push(c));
    socket.on('error', () => undefined);
    socket.on('end', () => {
      // Half-closed by the peer: finish our side.
      if (!socket.destroyed) socket.end();
    });
    socket.on('close', () => {
      if (DEBUG) console.log(`[${this.now().toFixed(1)}] tcp closed`);
      this.tcpClosedAt = this.now();
      this.poke();
    });
    if (head && head.length > 0) this.parser.push(head);
  }

  now(): number {
    return performance.now() - this.t0;
  }

  /** The peer's close frame, as soon as it is parsed (its log entry may wait behind an inflate). */
  get peerClosed(): { code: number | undefined; reason: Buffer; at: number } | undefined {
    return this.peerClose;
  }

  get tcpClosed(): boolean {
    return this.tcpClosedAt !== undefined;
  }

  // ── sending ────────────────────────────────────────────────────────────────

  /** Builds one frame (masked if we are the client, unless the spec says otherwise). */
  frame(spec: FrameSpec): Buffer {
    return buildFrame(spec, this.role === 'server');
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  send(...specs: FrameSpec[]): void {
    if (specs.length === 1) this.write(this.frame(specs[0]!));
    else this.write(Buffer.concat(specs.map((s) => this.frame(s))));
  }

  /** Writes `bytes` in pieces of `size` bytes, `delayMs` apart (0: every piece in its own tick). */
  async writeChopped(bytes: Buffer, size: number, delayMs = 0): Promise<void> {
    for (let i = 0; i < bytes.length; i += size) {
      if (this.socket.destroyed) return;
      this.write(bytes.subarray(i, i + size));
      if (delayMs > 0) await sleep(delayMs);
      else await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Sends a data message, optionally compressed and fragmented. */
  async message(data: Bytes, options: SendMessageOptions = {}): Promise<void> {
    const raw = toBuf(data);
    const binary = options.binary ?? typeof data !== 'string';
    let payload = raw;
    if (options.compress) {
      if (!this.pmd) throw new Error('compress without negotiated permessage-deflate');
      payload = await this.pmd.deflater.compress(raw);
    }
    const sizes = splitSizes(payload.length, options.fragments);
    const frames: Buffer[] = [];
    let off = 0;
    sizes.forEach((n, i) => {
      const last = i === sizes.length - 1;
      frames.push(
        this.frame({
          opcode: i === 0 ? (binary ? OP.BINARY : OP.TEXT) : OP.CONT,
          fin: last,
          rsv: i === 0 && options.compress ? RSV1 : 0,
          payload: payload.subarray(off, off + n),
        }),
      );
      if (!last && options.between) frames.push(this.frame(options.between));
      off += n;
    });
    this.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  ping(payload: Bytes = ''): void {
    this.send({ opcode: OP.PING, payload });
  }

  pong(payload: Bytes = ''): void {
    this.send({ opcode: OP.PONG, payload });
  }

  /** Sends our close frame (no code: empty body). */
  close(code?: number, reason: Bytes = ''): void {
    if (this.closeSent) return;
    this.closeSent = { code, at: this.now() };
    this.send({ opcode: OP.CLOSE, payload: closeBody(code, reason) });
  }

  /** A raw close frame with any body (bad codes, bad reasons); counts as our close. */
  closeRaw(body: Buffer, extra: Partial<FrameSpec> = {}): void {
    this.closeSent = { code: body.length >= 2 ? body.readUInt16BE(0) : undefined, at: this.now() };
    this.send({ opcode: OP.CLOSE, payload: body, ...extra });
  }

  // ── expectations ───────────────────────────────────────────────────────────

  expectMessage(data: Bytes, binary = typeof data !== 'string'): void {
    this.expected.push({ kind: 'message', binary, data: toBuf(data) });
  }

  expectPong(data: Bytes = ''): void {
    this.expected.push({ kind: 'pong', data: toBuf(data) });
  }

  mark(name: string): void {
    this.marks.set(name, this.now());
  }

  metric(name: string, value: number): void {
    this.metrics[name] = value;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** Registers a check run when the case is judged: it returns a problem, or undefined. */
  check(fn: () => string | undefined): void {
    this.checks.push(fn);
  }

  /** Resolves once every frame received so far has been logged (inflation is asynchronous). */
  flushed(): Promise<void> {
    return this.chain;
  }

  // ── waiting ────────────────────────────────────────────────────────────────

  /** Resolves true once `cond` holds, false after `ms`. */
  waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (!cond()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(cond());
      }, ms);
      this.waiters.add(check);
    });
  }

  /** Data events (messages and pongs) seen so far. */
  get dataEvents(): LogEvent[] {
    return this.log.filter((e) => e.kind === 'message' || e.kind === 'pong');
  }

  /** Waits until the peer closed (close frame or TCP). */
  waitPeerGone(ms: number): Promise<boolean> {
    return this.waitFor(() => this.peerClose !== undefined || this.tcpClosed, ms);
  }

  /** Waits for `n` data events, or until the peer is gone or has already failed the case. */
  waitData(n: number, ms: number): Promise<boolean> {
    return this.waitFor(() => this.dataCount >= n || this.peerClose !== undefined || this.tcpClosed || this.violations.length > 0, ms);
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Destroys the socket (end of the case). */
  destroy(): void {
    this.socket.destroy();
  }

  // ── receiving ──────────────────────────────────────────────────────────────

  private violation(message: string): void {
    this.violations.push(message);
    this.poke();
  }

  private push(ev: LogEvent): void {
    this.log.push(ev);
    if (ev.kind === 'message' || ev.kind === 'pong') this.dataCount++;
    this.poke();
  }

  /** Runs `fn` after everything received earlier has been logged (inflation is asynchronous). */
  private inOrder(fn: () => Promise<void> | void): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => this.violation(`tester error: ${String(err)}`));
  }

  private onFrame(f: ParsedFrame): void {
    if (DEBUG) console.log(`[${this.now().toFixed(1)}] frame op=${f.opcode} fin=${f.fin} rsv=${f.rsv} len=${f.payload.length}`);
    const name = OPCODE_NAMES[f.opcode] ?? `0x${f.opcode.toString(16)}`;
    if (this.peerClose) {
      this.violation(`${name} frame after the peer's close frame`);
      return;
    }
    if (this.role === 'server' && f.masked) this.violation(`masked ${name} frame from the server`);
    if (this.role === 'client') {
      if (!f.masked) this.violation(`unmasked ${name} frame from the client`);
      else this.maskKeys.add(f.maskKey!.toString('hex'));
    }
    if (!f.minimalLength) this.violation(`${name} frame with a non-minimal length encoding`);
    if (f.rsv & 3) this.violation(`${name} frame with RSV2/RSV3 set`);
    const control = (f.opcode & 8) !== 0;
    if (f.rsv & RSV1) {
      if (!this.pmd) this.violation(`${name} frame with RSV1 set without permessage-deflate`);
      else if (control || f.opcode === OP.CONT) this.violation(`RSV1 on a ${name} frame`);
    }
    if (!(f.opcode <= 2 || (f.opcode >= 8 && f.opcode <= 10))) {
      this.violation(`reserved opcode 0x${f.opcode.toString(16)}`);
      return;
    }
    if (control) {
      if (!f.fin) this.violation(`fragmented ${name} frame`);
      if (f.payload.length > 125) this.violation(`${name} frame with ${f.payload.length} bytes`);
      const at = this.now();
      if (f.opcode === OP.PING) {
        this.inOrder(() => this.push({ kind: 'ping', at, data: f.payload }));
        // Answer like any endpoint would.
        if (!this.closeSent && this.autoPong) this.send({ opcode: OP.PONG, payload: f.payload });
      } else if (f.opcode === OP.PONG) this.inOrder(() => this.push({ kind: 'pong', at, data: f.payload }));
      else this.onClose(f.payload, at);
      return;
    }
    if (f.opcode === OP.CONT) {
      if (this.msgOpcode < 0) {
        this.violation('continuation frame without a message to continue');
        return;
      }
    } else {
      if (this.msgOpcode >= 0) {
        this.violation(`new ${name} frame inside a fragmented message`);
        return;
      }
      this.msgOpcode = f.opcode;
      this.msgCompressed = (f.rsv & RSV1) !== 0;
      this.msgFrames = [];
    }
    this.msgFrames.push(f.payload);
    if (!f.fin) return;
    const opcode = this.msgOpcode;
    const compressed = this.msgCompressed;
    const frames = this.msgFrames;
    this.msgOpcode = -1;
    this.msgFrames = [];
    const at = this.now();
    this.inOrder(async () => {
      let data = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
      if (compressed) {
        try {
          data = await this.pmd!.inflater.inflate(data);
        } catch (err) {
          this.violation(`compressed message does not inflate with the negotiated parameters: ${(err as Error).message}`);
          return;
        }
      }
      if (opcode === OP.TEXT && !isStrictUtf8(data)) this.violation('text message that is not valid UTF-8');
      this.push({ kind: 'message', at, binary: opcode === OP.BINARY, data, frames: frames.length, compressed });
    });
  }

  private onClose(payload: Buffer, at: number): void {
    let code: number | undefined;
    if (payload.length === 1) this.violation('close frame with a 1-byte body');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isSendableCloseCode(code)) this.violation(`close frame with code ${code}, which may not be sent`);
      if (!isStrictUtf8(payload.subarray(2))) this.violation('close reason that is not valid UTF-8');
    }
    const reason = payload.subarray(2);
    this.peerClose = { code, reason, at };
    this.inOrder(() => this.push({ kind: 'close', at, code, reason }));
    // Echo it (RFC 6455 §5.5.1) unless we already sent ours.
    if (!this.closeSent) {
      this.closeSent = { code, at };
      this.send({ opcode: OP.CLOSE, payload: code === undefined ? Buffer.alloc(0) : closeBody(code) });
    }
    // A server closes the TCP connection first (§7.1.1): as the server, we do it now.
    if (this.role === 'client') this.socket.end();
  }
}

/** Splits `total` bytes into frame sizes: one frame, frames of `n` bytes, or the given sizes. */
export function splitSizes(total: number, fragments: number | number[] | undefined): number[] {
  if (fragments === undefined) return [total];
  if (Array.isArray(fragments)) {
    const sum = fragments.reduce((a, b) => a + b, 0);
    if (sum !== total) throw new Error(`fragment sizes add up to ${sum}, not ${total}`);
    return fragments;
  }
  if (total === 0) return [0];
  const out: number[] = [];
  for (let off = 0; off < total; off += fragments) out.push(Math.min(fragments, total - off));
  return out;
}
