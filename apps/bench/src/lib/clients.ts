/**
 * Lean raw clients, the same code for every server of a wire, so the client is not what is
 * measured:
 *
 * - every message is built once per generator, already framed (and masked, on WebSocket, with one
 *   fixed key per generator): sending is one `socket.write` of a prebuilt buffer; replies to k
 *   echoes read in one chunk are k copies of that buffer in one write;
 * - incoming bytes are never copied or decoded: the parsers read frame headers and the first two
 *   bytes of each message, and skip the rest (permessage-deflate replies are counted, not
 *   inflated);
 * - handshakes are hand-rolled: HTTP upgrade, Stelar CONNECT (docs/protocol.md §4), socket.io's
 *   engine.io open packet and `40` namespace connect; WebSocket pings, Stelar PINGs and engine.io
 *   pings (`2`) are answered.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { encodeBinary, encodeClientConnect, encodePong, FrameType } from '@stelar/codec-tcp';
import { HOST, isPlain, OP_ECHO, OP_PUB, payloadText, wireOf, type ClientSpec, type ServerKind, type Wire } from './common';

const WS_TEXT = 0x1;
const WS_BINARY = 0x2;
const WS_CLOSE = 0x8;
const WS_PING = 0x9;
const CHAR_0 = 0x30;
const CHAR_2 = 0x32;
const CHAR_4 = 0x34;
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Prebuilt wire messages of one generator. */
export interface Wires {
  kind: ServerKind;
  wire: Wire;
  maskKey: Buffer;
  /** One echo message, uncompressed / pre-compressed (permessage-deflate, no context takeover). */
  echo: Buffer;
  echoZ: Buffer | undefined;
  pub: Buffer;
  /** Stelar CONNECT, or socket.io's `40`, sent once the transport is up. */
  hello: Buffer | undefined;
  /** The HTTP upgrade request (WebSocket kinds). */
  upgrade: string | undefined;
}

/** Client frame: FIN, opcode, RSV1 when compressed, masked with `key`. */
export function wsClientFrame(opcode: number, payload: Buffer, key: Buffer, rsv1 = false): Buffer {
  const len = payload.length;
  const hl = (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + 4;
  const out = Buffer.allocUnsafe(hl + len);
  out[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 0x10000) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(len, 6);
  }
  key.copy(out, hl - 4);
  for (let i = 0; i < len; i++) out[hl + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

/** One message compressed on its own (RFC 7692 §7.2.1, as with client_no_context_takeover). */
function deflateMessage(data: Buffer): Buffer {
  const z = deflateRawSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return z.subarray(0, z.length - 4);
}

function stelarFrame(event: string, payload: Buffer): Buffer {
  const f = encodeBinary(event, payload);
  return Buffer.from(f.buffer, f.byteOffset, f.length);
}

function opMessage(op: number, payload: Buffer): Buffer {
  const body = Buffer.allocUnsafe(1 + payload.length);
  body[0] = op;
  payload.copy(body, 1);
  return body;
}

export function buildWires(spec: ClientSpec, key: Buffer): Wires {
  const kind = spec.kind;
  const wire = wireOf(kind);
  const text = payloadText(spec.size);
  const payload = Buffer.from(text, 'latin1');
  const upgrade =
    wire === 'ws'
      ? [
          `GET ${kind === 'socketio' ? '/socket.io/?EIO=4&transport=websocket' : '/'} HTTP/1.1`,
          `Host: ${HOST}:${spec.port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Version: 13',
          ...(spec.deflate ? ['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover'] : []),
          '',
          '',
        ].join('\r\n')
      : undefined;
  const ws = (opcode: number, body: Buffer): { plain: Buffer; z: Buffer | undefined } => ({
    plain: wsClientFrame(opcode, body, key),
    z: spec.deflate ? wsClientFrame(opcode, deflateMessage(body), key, true) : undefined,
  });
  switch (kind) {
    case 'stelar-ws': {
      const echo = ws(WS_BINARY, stelarFrame('echo', payload).subarray(4));
      const connect = encodeClientConnect(undefined, spec.recover ? {} : undefined);
      return {
        kind,
        wire,
        maskKey: key,
        echo: echo.plain,
        echoZ: echo.z,
        pub: ws(WS_BINARY, stelarFrame('pub', payload).subarray(4)).plain,
        hello: wsClientFrame(WS_BINARY, Buffer.from(connect.buffer, connect.byteOffset + 4, connect.length - 4), key),
        upgrade,
      };
    }
    case 'stelar-tcp':
    case 'stelar-tls': {
      const connect = encodeClientConnect(undefined, spec.recover ? {} : undefined);
      return {
        kind,
        wire,
        maskKey: key,
        echo: stelarFrame('echo', payload),
        echoZ: undefined,
        pub: stelarFrame('pub', payload),
        hello: Buffer.from(connect.buffer, connect.byteOffset, connect.length),
        upgrade,
      };
    }
    case 'ws':
    case 'ws-bu':
    case 'ws-frame':
    case 'uws': {
      const echo = ws(WS_BINARY, opMessage(OP_ECHO, payload));
      return { kind, wire, maskKey: key, echo: echo.plain, echoZ: echo.z, pub: ws(WS_BINARY, opMessage(OP_PUB, payload)).plain, hello: undefined, upgrade };
    }
    case 'socketio': {
      const echo = ws(WS_TEXT, Buffer.from(`42["echo","${text}"]`, 'latin1'));
      return {
        kind,
        wire,
        maskKey: key,
        echo: echo.plain,
        echoZ: echo.z,
        pub: ws(WS_TEXT, Buffer.from(`42["pub","${text}"]`, 'latin1')).plain,
        hello: wsClientFrame(WS_TEXT, Buffer.from('40', 'latin1'), key),
        upgrade,
      };
    }
    case 'net': {
      const frame = (op: number): Buffer => {
        const body = opMessage(op, payload);
        const out = Buffer.allocUnsafe(4 + body.length);
        out.writeUInt32BE(body.length, 0);
        body.copy(out, 4);
        return out;
      };
      return { kind, wire, maskKey: key, echo: frame(OP_ECHO), echoZ: undefined, pub: frame(OP_PUB), hello: undefined, upgrade };
    }
  }
}

/**
 * `echo`: closed loop, `window` messages in flight per connection; `rtt`: one message in flight,
 * each round trip timed (ping-pong); `fan`: receivers count broadcasts.
 */
export type Mode = 'idle' | 'echo' | 'rtt' | 'fan';

/** What all clients of one generator share: mode, counters, samples. */
export class Pool {
  mode: Mode = 'idle';
  messages = 0;
  bytes = 0;
  errors = 0;
  closed = 0;
  firstError: string | undefined;
  /** Echo: copies of the echo message, `window` of them, per variant. */
  window = 1;
  private readonly bursts = new Map<Buffer, Buffer>();
  /** Round trips in ms, recorded while `recording`. */
  recording = false;
  samples: number[] = [];
  /** Fan-out: data messages counted by receivers, and the time each round (burst) completed here. */
  receivers = 0;
  /** Broadcasts per round: a round is complete when every receiver here has this many. */
  perRound = 1;
  fanCount = 0;
  roundTimes: number[] = [];
  private roundWaiters: { round: number; resolve: (t: number) => void }[] = [];
  shuttingDown = false;

  constructor(readonly wires: Wires) {}

  burstOf(msg: Buffer): Buffer {
    let b = this.bursts.get(msg);
    if (!b || b.length !== msg.length * this.window) {
      b = Buffer.allocUnsafe(msg.length * this.window);
      for (let i = 0; i < this.window; i++) msg.copy(b, i * msg.length);
      this.bursts.set(msg, b);
    }
    return b;
  }

  error(msg: string): void {
    this.errors++;
    this.firstError ??= msg;
  }

  /** `n` copies of the publish message in one buffer (a burst of broadcasts in one write). */
  pubBurst(n: number): Buffer {
    const pub = this.wires.pub;
    let b = this.bursts.get(pub);
    if (!b || b.length !== pub.length * n) {
      b = Buffer.allocUnsafe(pub.length * n);
      for (let i = 0; i < n; i++) pub.copy(b, i * pub.length);
      this.bursts.set(pub, b);
    }
    return b;
  }

  fanMessage(monoNow: () => number): void {
    this.fanCount++;
    if (this.receivers > 0 && this.fanCount % (this.receivers * this.perRound) === 0) {
      const t = monoNow();
      this.roundTimes.push(t);
      const round = this.roundTimes.length;
      this.roundWaiters = this.roundWaiters.filter((w) => {
        if (w.round > round) return true;
        w.resolve(this.roundTimes[w.round - 1]!);
        return false;
      });
    }
  }

  waitRound(round: number): Promise<number> {
    const t = this.roundTimes[round - 1];
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve) => this.roundWaiters.push({ round, resolve }));
  }

  resetFan(receivers: number, perRound = 1): void {
    this.receivers = receivers;
    this.perRound = Math.max(1, perRound);
    this.fanCount = 0;
    this.roundTimes = [];
    this.roundWaiters = [];
  }
}

const State = { Upgrading: 0, Hello: 1, Ready: 2, Closed: 3 } as const;
type State = (typeof State)[keyof typeof State];

/** One connection. */
export class Client {
  socket!: net.Socket;
  /** The echo message this connection sends (compressed when the server allows it). */
  echoMsg: Buffer;
  /** Latency: send times (ms) of the messages in flight, oldest first. */
  private times: number[] = [];
  private head = 0;
  private state: State = State.Upgrading;
  private http = '';
  // Frame parser state (both wires).
  private readonly hbuf = Buffer.alloc(14);
  private hlen = 0;
  private remaining = 0;
  private opcode = 0;
  private fin = false;
  private msgPos = 0;
  private msgLen = 0;
  private b0 = -1;
  private b1 = -1;
  private ctl: Buffer | null = null;
  private ctlPos = 0;
  private ctlOpcode = 0;
  /** Handshake messages the server compressed (engine.io compresses its open packet): kept to inflate. */
  private zmsg: Buffer[] | null = null;
  private zhist: Buffer[] = [];
  private zout = 0;
  private onReady: (() => void) | undefined;
  private onFail: ((e: Error) => void) | undefined;
  /** Closed on purpose by the generator (not counted as a server-side close). */
  private leaving = false;

  constructor(
    private readonly pool: Pool,
    /** Publishers are not counted as receivers. */
    readonly counted: boolean,
  ) {
    this.echoMsg = pool.wires.echo;
  }

  connect(port: number, localAddress: string | undefined, timeoutMs: number): Promise<void> {
    const w = this.pool.wires;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('handshake timeout')), timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        this.onReady = undefined;
        this.onFail = undefined;
        this.socket.destroy();
        reject(e);
      };
      this.onFail = fail;
      this.onReady = () => {
        clearTimeout(timer);
        this.onReady = undefined;
        this.onFail = undefined;
        resolve();
      };
      const opts = { host: HOST, port, ...(localAddress ? { localAddress } : {}) };
      const start = (): void => {
        this.socket.setNoDelay(true);
        if (w.wire === 'ws') this.socket.write(w.upgrade ?? '', 'latin1');
        else this.transportUp();
      };
      if (w.wire === 'tls') {
        this.socket = tls.connect({ ...opts, rejectUnauthorized: false }, start);
      } else {
        this.socket = net.connect(opts, start);
      }
      this.socket.on('data', (chunk: Buffer) => {
        try {
          this.onData(chunk);
        } catch (err) {
          if (this.onFail) this.onFail(err instanceof Error ? err : new Error(String(err)));
          else {
            this.pool.error(`client: ${String(err)}`);
            this.socket.destroy();
          }
        }
      });
      this.socket.on('error', (err) => {
        if (this.onFail) this.onFail(err);
      });
      this.socket.on('close', () => {
        const was = this.state;
        this.state = State.Closed;
        if (this.onFail) this.onFail(new Error('closed during handshake'));
        else if (was === State.Ready && !this.pool.shuttingDown && !this.leaving) this.pool.closed++;
      });
    });
  }

  /** TCP/TLS connected, or WebSocket upgraded: say hello, or be ready. */
  private transportUp(): void {
    const hello = this.pool.wires.hello;
    this.state = State.Hello;
    // socket.io's `40` goes after the engine.io open packet (see message()).
    if (hello && this.pool.wires.kind !== 'socketio') this.socket.write(hello);
    if (isPlain(this.pool.wires.kind)) this.ready();
  }

  private ready(): void {
    this.state = State.Ready;
    this.onReady?.();
  }

  write(buf: Buffer): void {
    if (this.state === State.Ready) this.socket.write(buf);
  }

  /** Echo mode: start `window` messages. */
  startEcho(): void {
    this.write(this.pool.burstOf(this.echoMsg));
  }

  /** RTT mode: one message, timed (the next one leaves when its echo is back). */
  sendTimed(): void {
    if (this.state !== State.Ready) return;
    this.times.push(performance.now());
    this.socket.write(this.echoMsg);
  }

  destroy(): void {
    this.socket?.destroy();
  }

  /** Closes this connection on purpose; resolves once the socket is closed. */
  leave(): Promise<void> {
    this.leaving = true;
    const s = this.socket;
    if (!s || s.closed) return Promise.resolve();
    return new Promise((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.state === State.Upgrading) {
      this.http += chunk.toString('latin1');
      const end = this.http.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.http.length > 16384) this.onFail?.(new Error('oversized upgrade response'));
        return;
      }
      const head = this.http.slice(0, end);
      const rest = chunk.subarray(chunk.length - (this.http.length - end - 4));
      this.http = '';
      if (!/^HTTP\/1\.1 101/.test(head)) {
        this.onFail?.(new Error(`upgrade refused: ${head.split('\r\n')[0] ?? ''}`));
        return;
      }
      const ext = /^sec-websocket-extensions:(.*)$/im.exec(head)?.[1] ?? '';
      if (this.pool.wires.echoZ) {
        if (!/permessage-deflate/i.test(ext)) {
          this.onFail?.(new Error('permessage-deflate was not negotiated'));
          return;
        }
        if (/client_no_context_takeover/i.test(ext)) this.echoMsg = this.pool.wires.echoZ;
      }
      this.transportUp();
      if (rest.length === 0) return;
      chunk = rest;
    }
    const pool = this.pool;
    if (this.state === State.Ready) pool.bytes += chunk.length;
    const done = pool.wires.wire === 'ws' ? this.parseWs(chunk) : this.parseLp(chunk);
    if (done === 0 || !this.counted) return;
    switch (pool.mode) {
      case 'echo': {
        const burst = pool.burstOf(this.echoMsg);
        let k = done;
        while (k > pool.window) {
          this.write(burst);
          k -= pool.window;
        }
        this.write(k === pool.window ? burst : burst.subarray(0, k * this.echoMsg.length));
        break;
      }
      case 'rtt': {
        const now = performance.now();
        for (let i = 0; i < done; i++) {
          const sent = this.times[this.head++];
          if (sent !== undefined && pool.recording) pool.samples.push(now - sent);
        }
        if (this.head > 4096 && this.head * 2 > this.times.length) {
          this.times = this.times.slice(this.head);
          this.head = 0;
        }
        // Ping-pong: the next message leaves as soon as this echo is in.
        this.sendTimed();
        break;
      }
      default:
        break;
    }
  }

  /** A complete data message whose first bytes are b0, b1. Returns 1 when it is counted. */
  private message(isText: boolean): number {
    const pool = this.pool;
    const kind = pool.wires.kind;
    if (kind === 'socketio') {
      if (isText && this.msgLen === 1 && this.b0 === CHAR_2) {
        this.socket.write(wsClientFrame(WS_TEXT, Buffer.from('3', 'latin1'), pool.wires.maskKey));
        return 0;
      }
      if (this.state === State.Hello) {
        if (this.b0 === CHAR_0) this.socket.write(pool.wires.hello ?? Buffer.alloc(0));
        else if (this.b0 === CHAR_4 && this.b1 === CHAR_0) this.ready();
        else this.onFail?.(new Error(`socket.io refused the connection (${String.fromCharCode(this.b0, this.b1)}…)`));
        return 0;
      }
    } else if (kind === 'stelar-ws' || kind === 'stelar-tcp' || kind === 'stelar-tls') {
      if (this.b0 === FrameType.ERROR || this.b0 === FrameType.DISCONNECT) {
        if (this.state === State.Hello) this.onFail?.(new Error(`stelar refused the session (frame type ${this.b0})`));
        else pool.error(`stelar frame type ${this.b0}`);
        return 0;
      }
      if (this.state === State.Hello) {
        if (this.b0 === FrameType.CONNECT) this.ready();
        return 0;
      }
      if (this.b0 === FrameType.PONG) return 0;
    }
    if (this.state !== State.Ready) return 0;
    if (!this.counted) return 0;
    pool.messages++;
    if (pool.mode === 'fan') pool.fanMessage(monoMicrosNow);
    return 1;
  }

  /** Length-prefixed frames: Stelar TCP (totalLen includes its 7-byte header) or the net echo (u32 body length). */
  private parseLp(chunk: Buffer): number {
    const stelar = this.pool.wires.kind !== 'net';
    const n = chunk.length;
    let i = 0;
    let done = 0;
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        if (this.ctl) {
          chunk.copy(this.ctl, this.ctlPos, i, i + take);
          this.ctlPos += take;
        }
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) done += this.endLp(stelar);
        continue;
      }
      let len: number;
      let b0: number;
      let b1: number;
      if (this.hlen === 0 && n - i >= 6) {
        len = chunk.readUInt32BE(i);
        b0 = chunk[i + 4]!;
        b1 = chunk[i + 5]!;
        i += 6;
      } else {
        this.hbuf[this.hlen++] = chunk[i++]!;
        if (this.hlen < 6) continue;
        this.hlen = 0;
        len = this.hbuf.readUInt32BE(0);
        b0 = this.hbuf[4]!;
        b1 = this.hbuf[5]!;
      }
      this.b0 = b0;
      this.b1 = b1;
      // Bytes left after the 6 read: Stelar frames are at least 7 bytes, net bodies at least 2 here.
      this.remaining = stelar ? len - 6 : len - 2;
      this.ctl = null;
      if (stelar && b0 === FrameType.PING) {
        this.ctl = Buffer.allocUnsafe(this.remaining);
        this.ctlPos = 0;
      }
      if (this.remaining <= 0) {
        this.remaining = 0;
        done += this.endLp(stelar);
      }
    }
    return done;
  }

  private endLp(stelar: boolean): number {
    if (stelar && this.b0 === FrameType.PING) {
      // PING: event length 0, so the payload starts after the 7-byte header (we consumed 6).
      const body = this.ctl ? this.ctl.subarray(1) : Buffer.alloc(0);
      this.ctl = null;
      const pong = encodePong(body);
      this.socket.write(pong);
      return 0;
    }
    return this.message(false);
  }

  /** Server WebSocket frames (unmasked). */
  private parseWs(chunk: Buffer): number {
    const n = chunk.length;
    let i = 0;
    let done = 0;
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        if (this.ctl) {
          chunk.copy(this.ctl, this.ctlPos, i, i + take);
          this.ctlPos += take;
        } else if (this.zmsg) {
          this.zmsg.push(Buffer.from(chunk.subarray(i, i + take)));
        } else if (this.msgPos < 2) {
          if (this.msgPos === 0) {
            this.b0 = chunk[i]!;
            if (take > 1) this.b1 = chunk[i + 1]!;
          } else this.b1 = chunk[i]!;
        }
        if (!this.ctl) this.msgPos += take;
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) done += this.endWsFrame();
        continue;
      }
      // Header: 2, 4 or 10 bytes.
      let b0: number;
      let len: number;
      if (this.hlen === 0 && n - i >= 2) {
        const l7 = chunk[i + 1]! & 0x7f;
        const hl = l7 < 126 ? 2 : l7 === 126 ? 4 : 10;
        if (n - i < hl) {
          this.hbuf[this.hlen++] = chunk[i++]!;
          continue;
        }
        b0 = chunk[i]!;
        len = l7 < 126 ? l7 : l7 === 126 ? chunk.readUInt16BE(i + 2) : chunk.readUInt32BE(i + 6);
        i += hl;
      } else {
        this.hbuf[this.hlen++] = chunk[i++]!;
        if (this.hlen < 2) continue;
        const l7 = this.hbuf[1]! & 0x7f;
        const hl = l7 < 126 ? 2 : l7 === 126 ? 4 : 10;
        if (this.hlen < hl) continue;
        this.hlen = 0;
        b0 = this.hbuf[0]!;
        len = l7 < 126 ? l7 : l7 === 126 ? this.hbuf.readUInt16BE(2) : this.hbuf.readUInt32BE(6);
      }
      const opcode = b0 & 0x0f;
      this.fin = (b0 & 0x80) !== 0;
      if (opcode >= 8) {
        this.ctl = Buffer.allocUnsafe(len);
        this.ctlPos = 0;
        this.ctlOpcode = opcode;
      } else {
        this.ctl = null;
        if (opcode !== 0) {
          this.opcode = opcode;
          this.msgPos = 0;
          this.msgLen = 0;
          this.b0 = -1;
          this.b1 = -1;
          this.zmsg = this.state === State.Hello && (b0 & 0x40) !== 0 ? [] : null;
        }
        this.msgLen += len;
      }
      this.remaining = len;
      if (len === 0) done += this.endWsFrame();
    }
    return done;
  }

  private endWsFrame(): number {
    const ctl = this.ctl;
    if (ctl) {
      this.ctl = null;
      if (this.ctlOpcode === WS_PING) this.socket.write(wsClientFrame(0xa, ctl, this.pool.wires.maskKey));
      else if (this.ctlOpcode === WS_CLOSE) {
        if (this.state === State.Ready && !this.pool.shuttingDown) this.pool.error(`server closed (${ctl.length >= 2 ? ctl.readUInt16BE(0) : 1005})`);
        this.socket.end(wsClientFrame(WS_CLOSE, ctl.subarray(0, Math.min(2, ctl.length)), this.pool.wires.maskKey));
      }
      return 0;
    }
    if (!this.fin) return 0;
    if (this.zmsg) {
      // Inflate the compressed messages so far together (the server may use context takeover).
      this.zhist.push(...this.zmsg, DEFLATE_TAIL);
      this.zmsg = null;
      const out = inflateRawSync(Buffer.concat(this.zhist), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      const msg = out.subarray(this.zout);
      this.zout = out.length;
      this.b0 = msg.length > 0 ? msg[0]! : -1;
      this.b1 = msg.length > 1 ? msg[1]! : -1;
      this.msgLen = msg.length;
    }
    return this.message(this.opcode === WS_TEXT);
  }
}

function monoMicrosNow(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
