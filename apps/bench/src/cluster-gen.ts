/**
 * Load generator of the real-process cluster bench (forked by cluster.ts): raw clients,
 * the same code for Stelar (WebSocket or TCP) and Socket.IO, so the client is not what is
 * measured.
 *
 * - Every message is one text payload `<publisher>:<seq>:<µs>|padding…`, sent as a Stelar JSON
 *   event `pub` (a JSON string) or a Socket.IO event `42["pub","…"]`; servers relay it to their
 *   room except the sender, as event `fan`.
 * - A client counts every `fan` it receives without decoding it; only probes (one per
 *   publisher, on another node) read the publisher index, and in the paced phase every client
 *   on a node other than the publisher's reads the time stamp (CLOCK_MONOTONIC, shared by the
 *   processes of the machine).
 * - Publishers run a closed loop: at most `window` of their messages not yet seen by their probe.
 * - The latency probes of the paced phase are this same program holding ONE client (cluster.ts
 *   forks one per remote node, `perNode` 1 on that node and 0 elsewhere, no publisher), so the
 *   probe reads with the same code as the load clients, in a process of its own.
 * - Time stamps are `process.hrtime.bigint()`: CLOCK_MONOTONIC on Linux, one clock for all the
 *   processes of the host. (`performance.timeOrigin + performance.now()` is not one clock: each
 *   process's timeOrigin is the wall clock read once at its start, so it agrees across processes
 *   only while the wall clock is not stepped or slewed between their starts.)
 */
import * as net from 'node:net';
import { encodeClientConnect, encodeJson, encodePong } from '@stelar/codec-tcp';
import { serveRequests } from './lib/ipc';

type Kind = 'stelar-ws' | 'stelar-tcp' | 'socketio';

const HOST = '127.0.0.1';
const KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);
const SIO_FAN = Buffer.from('42["fan","', 'latin1');

function mono(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** A masked client WebSocket frame. */
function wsFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const hl = (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + 4;
  const out = Buffer.allocUnsafe(hl + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 0x10000) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(len, 6);
  }
  KEY.copy(out, hl - 4);
  for (let i = 0; i < len; i++) out[hl + i] = payload[i]! ^ KEY[i & 3]!;
  return out;
}

const asBuf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.length);

/** Reads `<publisher>:<seq>:<µs>` at `off`. */
function readStamp(b: Buffer, off: number): { p: number; t: number } {
  let i = off;
  let p = 0;
  while (b[i] !== 0x3a) p = p * 10 + (b[i++]! - 48);
  i++;
  while (b[i] !== 0x3a) i++;
  i++;
  let t = 0;
  while (b[i] !== 0x7c) t = t * 10 + (b[i++]! - 48);
  return { p, t };
}

interface Shared {
  deliveries: number;
  /** Paced phase: record latency on clients of nodes other than `pacedNode`. */
  sampling: boolean;
  pacedNode: number;
  samples: number[];
  errors: number;
}

class RawClient {
  private sock!: net.Socket;
  private carry: Buffer | undefined;
  ready = false;
  /** Set on probes: called with the publisher index of each delivery. */
  onProbe: ((p: number) => void) | undefined;
  private readyCb: (() => void) | undefined;

  constructor(
    readonly kind: Kind,
    readonly node: number,
    private readonly shared: Shared,
  ) {}

  connect(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.readyCb = resolve;
      const sock = (this.sock = net.connect(port, HOST));
      sock.setNoDelay(true);
      sock.once('error', reject);
      sock.on('close', () => {
        if (this.ready) this.shared.errors++;
      });
      sock.once('connect', () => {
        if (this.kind === 'stelar-tcp') {
          sock.write(asBuf(encodeClientConnect()));
          sock.on('data', (d: Buffer) => this.onTcp(d));
          return;
        }
        const path = this.kind === 'socketio' ? '/socket.io/?EIO=4&transport=websocket' : '/';
        sock.write(
          `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
        let head = '';
        const onHead = (d: Buffer): void => {
          head += d.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          sock.off('data', onHead);
          if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
          if (this.kind === 'stelar-ws') {
            const c = asBuf(encodeClientConnect());
            sock.write(wsFrame(0x2, c.subarray(4)));
          }
          sock.on('data', (x: Buffer) => this.onWs(x));
          const rest = Buffer.from(head.slice(end + 4), 'latin1');
          if (rest.length) this.onWs(rest);
        };
        sock.on('data', onHead);
      });
    });
  }

  send(text: string): void {
    if (this.kind === 'socketio') this.sock.write(wsFrame(0x1, Buffer.from(`42["pub","${text}"]`, 'latin1')));
    else {
      const f = asBuf(encodeJson('pub', text));
      this.sock.write(this.kind === 'stelar-tcp' ? f : wsFrame(0x2, f.subarray(4)));
    }
  }

  close(): void {
    this.ready = false;
    this.sock.destroy();
  }

  private opened(): void {
    this.ready = true;
    this.readyCb?.();
    this.readyCb = undefined;
  }

  private delivered(b: Buffer, off: number): void {
    const s = this.shared;
    s.deliveries++;
    if (this.onProbe) this.onProbe(readStamp(b, off).p);
    if (s.sampling && this.node !== s.pacedNode) s.samples.push(mono() - readStamp(b, off).t);
  }

  private take(d: Buffer): Buffer {
    if (!this.carry) return d;
    const b = Buffer.concat([this.carry, d]);
    this.carry = undefined;
    return b;
  }

  private onTcp(d: Buffer): void {
    const b = this.take(d);
    let off = 0;
    while (b.length - off >= 4) {
      const len = b.readUInt32BE(off);
      if (b.length - off < len) break;
      const type = b[off + 4];
      if (type === 0x01) {
        const ev = b.readUInt16BE(off + 5);
        if (ev === 3 && b[off + 7] === 0x66) this.delivered(b, off + 7 + ev + 1);
      } else if (type === 0x07) this.opened();
      else if (type === 0x03) this.sock.write(asBuf(encodePong(b.subarray(off + 7 + b.readUInt16BE(off + 5), off + len))));
      else if (type === 0x08 || type === 0x0b) this.shared.errors++;
      off += len;
    }
    if (off < b.length) this.carry = Buffer.from(b.subarray(off));
  }

  private onWs(d: Buffer): void {
    const b = this.take(d);
    let off = 0;
    while (b.length - off >= 2) {
      const op = b[off]! & 0x0f;
      let len = b[off + 1]! & 0x7f;
      let hl = 2;
      if (len === 126) {
        if (b.length - off < 4) break;
        len = b.readUInt16BE(off + 2);
        hl = 4;
      } else if (len === 127) {
        if (b.length - off < 10) break;
        len = b.readUInt32BE(off + 6);
        hl = 10;
      }
      if (b.length - off < hl + len) break;
      const p = off + hl;
      if (op === 0x1 || op === 0x2) this.onWsMessage(b, p, len);
      else if (op === 0x9) this.sock.write(wsFrame(0xa, Buffer.from(b.subarray(p, p + len))));
      else if (op === 0x8) this.shared.errors++;
      off = p + len;
    }
    if (off < b.length) this.carry = Buffer.from(b.subarray(off));
  }

  private onWsMessage(b: Buffer, p: number, len: number): void {
    if (this.kind === 'stelar-ws') {
      const type = b[p];
      if (type === 0x01) {
        const ev = b.readUInt16BE(p + 1);
        if (ev === 3 && b[p + 3] === 0x66) this.delivered(b, p + 3 + ev + 1);
      } else if (type === 0x07) this.opened();
      else if (type === 0x03) this.sock.write(wsFrame(0x2, asBuf(encodePong(b.subarray(p + 3 + b.readUInt16BE(p + 1), p + len))).subarray(4)));
      else if (type === 0x08 || type === 0x0b) this.shared.errors++;
      return;
    }
    // Socket.IO over engine.io: 0 open, 2 ping, 40 connected, 42 event.
    const c0 = b[p];
    if (c0 === 0x34 && b[p + 1] === 0x32) {
      if (len > SIO_FAN.length && b.compare(SIO_FAN, 0, SIO_FAN.length, p, p + SIO_FAN.length) === 0) this.delivered(b, p + SIO_FAN.length);
    } else if (c0 === 0x32) this.sock.write(wsFrame(0x1, Buffer.from('3')));
    else if (c0 === 0x30) this.sock.write(wsFrame(0x1, Buffer.from('40')));
    else if (c0 === 0x34 && b[p + 1] === 0x30) this.opened();
  }
}

interface Publisher {
  index: number;
  client: RawClient;
  sent: number;
  seen: number;
  /** Messages sent since the last `mark`. */
  running: boolean;
}

const shared: Shared = { deliveries: 0, sampling: false, pacedNode: -1, samples: [], errors: 0 };
const clients: RawClient[] = [];
const publishers: Publisher[] = [];
let size = 64;
let window = 64;
let padding = '';

function message(p: Publisher): string {
  const head = `${p.index}:${p.sent}:${mono()}|`;
  return head + padding.slice(0, Math.max(0, size - head.length));
}

function pump(p: Publisher): void {
  while (p.running && p.sent - p.seen < window) {
    p.client.send(message(p));
    p.sent++;
  }
}

serveRequests({
  /**
   * Opens `perNode[i]` clients to node i; `publishers` lists {index, node, probeNode} of the
   * publishers this generator hosts (each with a probe client on another node).
   */
  async connect(req) {
    const kind = req['kind'] as Kind;
    const ports = req['ports'] as number[];
    const perNode = req['perNode'] as number[];
    size = Number(req['size'] ?? 64);
    window = Number(req['window'] ?? 64);
    padding = 'x'.repeat(size);
    const pubs = req['publishers'] as { index: number; node: number; probeNode: number }[];
    const byNode: RawClient[][] = ports.map(() => []);
    for (let i = 0; i < ports.length; i++) {
      const batch: Promise<void>[] = [];
      for (let k = 0; k < perNode[i]!; k++) {
        const c = new RawClient(kind, i, shared);
        clients.push(c);
        byNode[i]!.push(c);
        batch.push(c.connect(ports[i]!));
        if (batch.length >= 50) await Promise.all(batch.splice(0));
      }
      await Promise.all(batch);
    }
    for (const { index, node, probeNode } of pubs) {
      const client = byNode[node]![0]!;
      const probe = byNode[probeNode]![1] ?? byNode[probeNode]![0]!;
      const p: Publisher = { index, client, sent: 0, seen: 0, running: false };
      publishers.push(p);
      const prev = probe.onProbe;
      probe.onProbe = (from) => {
        prev?.(from);
        if (from !== index) return;
        p.seen++;
        if (p.running) pump(p);
      };
    }
    return { clients: clients.length };
  },
  startPub() {
    for (const p of publishers) {
      p.running = true;
      pump(p);
    }
    return null;
  },
  stopPub() {
    for (const p of publishers) p.running = false;
    return null;
  },
  /** Every message of the publishers here has reached its probe. */
  drained() {
    return publishers.every((p) => p.seen >= p.sent);
  },
  mark() {
    return { deliveries: shared.deliveries, sent: publishers.reduce((s, p) => s + p.sent, 0), errors: shared.errors, at: mono(), cpu: process.cpuUsage() };
  },
  sampleStart(req) {
    shared.samples = [];
    shared.pacedNode = Number(req['node']);
    shared.sampling = true;
    return null;
  },
  sampleStop() {
    shared.sampling = false;
    const out = shared.samples;
    shared.samples = [];
    return out;
  },
  /** The first publisher here sends `rate` messages/s for `ms` (no window). */
  async pace(req) {
    const p = publishers[0];
    if (!p) throw new Error('no publisher here');
    const rate = Number(req['rate']);
    const ms = Number(req['ms']);
    const start = mono();
    let n = 0;
    while (mono() - start < ms * 1000) {
      const due = Math.floor(((mono() - start) / 1e6) * rate);
      while (n < due) {
        p.client.send(message(p));
        p.sent++;
        n++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    return { sent: n };
  },
  stop() {
    for (const c of clients) c.close();
    setImmediate(() => process.exit(0));
    return null;
  },
});
