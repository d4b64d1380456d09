import { Buffer } from 'node:buffer';

/**
 * What travels over Redis between nodes. Every message starts with the same small header:
 *
 * ```
 * u8  version   ENVELOPE_VERSION (a node ignores, and counts, any other)
 * u8  kind      Kind
 * u8  idLen     bytes of the origin node id
 *     nodeId    UTF-8
 * ```
 *
 * A BROADCAST goes on with the addressing and then the frame exactly as core encoded it
 * (docs/protocol.md §1, totalLen included), so a receiving node delivers those very bytes:
 *
 * ```
 * u8  flags     bit 0 volatile; bit 1 sequenced: (epoch, seq) number a stream of the origin,
 *               its global stream, or with bit 2 the stream of the one room in `rooms`;
 *               bit 3 a copy re-sent on the global channel (nobody subscribed to the room's)
 * u32 epoch     random per stream incarnation: a new one restarts the numbering
 * u32 seq       1, 2, 3… within an epoch
 * u16 n, then n × (u16 len, UTF-8)   rooms          (n = 0: everyone)
 * u16 n, then n × (u16 len, UTF-8)   except rooms
 * u16 n, then n × (u16 len, UTF-8)   except connection ids
 *     frame     the rest of the message
 * ```
 *
 * A BATCH carries several envelopes of the same node after its header, each as (u32 length,
 * envelope): the broadcasts of one event-loop turn on one channel, in one publish.
 *
 * Every other kind carries a JSON body (possibly empty) after the header: membership and
 * request/response traffic is small and rare, so readability wins there. All integers are
 * big-endian.
 */
export const ENVELOPE_VERSION = 2;

export const Kind = {
  BROADCAST: 1,
  HELLO: 2,
  HEARTBEAT: 3,
  BYE: 4,
  REQUEST: 5,
  RESPONSE: 6,
  /** The last (epoch, seq) of a room stream, sent on the room's channel after a failed publish. */
  MARK: 7,
  /** Several envelopes of one channel published at once: (u32 length, envelope)… after the header. */
  BATCH: 8,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const Flag = {
  VOLATILE: 1,
  SEQUENCED: 2,
  ROOM_STREAM: 4,
  RESENT: 8,
} as const;

export interface BroadcastEnvelope {
  origin: string;
  flags: number;
  epoch: number;
  seq: number;
  rooms: string[];
  exceptRooms: string[];
  exceptIds: string[];
  /** A view into the received message: the frame bytes, not a copy. */
  frame: Uint8Array;
}

export interface ControlEnvelope {
  kind: Exclude<Kind, typeof Kind.BROADCAST | typeof Kind.BATCH>;
  origin: string;
  body: unknown;
}

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

/** The header bytes for one node (computed once per node). */
export function headerFor(nodeId: string): Buffer {
  const id = Buffer.from(nodeId, 'utf8');
  if (id.length === 0 || id.length > 255) throw new RangeError(`node id must be 1..255 UTF-8 bytes, got ${id.length}`);
  const h = Buffer.allocUnsafe(3 + id.length);
  h[0] = ENVELOPE_VERSION;
  h[1] = 0; // kind, set per message
  h[2] = id.length;
  id.copy(h, 3);
  return h;
}

function listSize(list: readonly string[]): number {
  let n = 2;
  for (const s of list) n += 2 + Buffer.byteLength(s, 'utf8');
  return n;
}

function writeList(buf: Buffer, off: number, list: readonly string[]): number {
  if (list.length > 0xffff) throw new RangeError('at most 65535 names per list');
  buf.writeUInt16BE(list.length, off);
  off += 2;
  for (const s of list) {
    const len = buf.write(s, off + 2, 'utf8');
    if (len > 0xffff) throw new RangeError('names are at most 65535 bytes');
    buf.writeUInt16BE(len, off);
    off += 2 + len;
  }
  return off;
}

/** One buffer: header, addressing, then a copy of the frame bytes. */
export function encodeBroadcast(
  header: Buffer,
  flags: number,
  epoch: number,
  seq: number,
  target: { readonly rooms: readonly string[]; readonly exceptRooms: readonly string[]; readonly exceptIds: readonly string[] },
  frame: Uint8Array,
): Buffer {
  const size = header.length + 9 + listSize(target.rooms) + listSize(target.exceptRooms) + listSize(target.exceptIds) + frame.length;
  const buf = Buffer.allocUnsafe(size);
  header.copy(buf, 0);
  buf[1] = Kind.BROADCAST;
  let off = header.length;
  buf[off] = flags;
  buf.writeUInt32BE(epoch >>> 0, off + 1);
  buf.writeUInt32BE(seq >>> 0, off + 5);
  off += 9;
  off = writeList(buf, off, target.rooms);
  off = writeList(buf, off, target.exceptRooms);
  off = writeList(buf, off, target.exceptIds);
  buf.set(frame, off);
  return buf;
}

export function encodeControl(header: Buffer, kind: ControlEnvelope['kind'], body?: unknown): Buffer {
  const json = body === undefined ? '' : JSON.stringify(body);
  const buf = Buffer.allocUnsafe(header.length + Buffer.byteLength(json, 'utf8'));
  header.copy(buf, 0);
  buf[1] = kind;
  buf.write(json, header.length, 'utf8');
  return buf;
}

/** The message's kind, after checking the version; throws EnvelopeError on a foreign message. */
export function peekKind(msg: Buffer): Kind {
  if (msg.length < 4 || msg[0] !== ENVELOPE_VERSION) throw new EnvelopeError(`unknown envelope version ${msg[0] ?? 'none'}`);
  const kind = msg[1]!;
  if (kind < Kind.BROADCAST || kind > Kind.BATCH) throw new EnvelopeError(`unknown envelope kind ${kind}`);
  return kind as Kind;
}

/** Sets the RESENT flag of an encoded broadcast, in place. */
export function markResent(msg: Buffer, header: Buffer): void {
  msg[header.length] = msg[header.length]! | Flag.RESENT;
}

/** Whether the message was sent by the node whose header this is (no string decoding). */
export function isFrom(msg: Buffer, header: Buffer): boolean {
  const len = header[2]!;
  return msg[2] === len && msg.length >= 3 + len && msg.compare(header, 3, 3 + len, 3, 3 + len) === 0;
}

function originOf(msg: Buffer): { origin: string; off: number } {
  const len = msg[2]!;
  if (len === 0 || msg.length < 3 + len) throw new EnvelopeError('truncated node id');
  return { origin: msg.toString('utf8', 3, 3 + len), off: 3 + len };
}

function readList(msg: Buffer, off: number): { list: string[]; off: number } {
  if (off + 2 > msg.length) throw new EnvelopeError('truncated list');
  const n = msg.readUInt16BE(off);
  off += 2;
  const list: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    if (off + 2 > msg.length) throw new EnvelopeError('truncated list');
    const len = msg.readUInt16BE(off);
    off += 2;
    if (off + len > msg.length) throw new EnvelopeError('truncated name');
    list[i] = msg.toString('utf8', off, off + len);
    off += len;
  }
  return { list, off };
}

export function decodeBroadcast(msg: Buffer): BroadcastEnvelope {
  const head = originOf(msg);
  let off = head.off;
  if (off + 9 > msg.length) throw new EnvelopeError('truncated broadcast');
  const flags = msg[off]!;
  const epoch = msg.readUInt32BE(off + 1);
  const seq = msg.readUInt32BE(off + 5);
  off += 9;
  const rooms = readList(msg, off);
  const exceptRooms = readList(msg, rooms.off);
  const exceptIds = readList(msg, exceptRooms.off);
  off = exceptIds.off;
  if (msg.length - off < 7) throw new EnvelopeError('broadcast without a frame');
  return {
    origin: head.origin,
    flags,
    epoch,
    seq,
    rooms: rooms.list,
    exceptRooms: exceptRooms.list,
    exceptIds: exceptIds.list,
    frame: msg.subarray(off),
  };
}

/** One message carrying several envelopes (all from the node of `header`). */
export function encodeBatch(header: Buffer, msgs: readonly Buffer[]): Buffer {
  let size = header.length;
  for (const m of msgs) size += 4 + m.length;
  const buf = Buffer.allocUnsafe(size);
  header.copy(buf, 0);
  buf[1] = Kind.BATCH;
  let off = header.length;
  for (const m of msgs) {
    buf.writeUInt32BE(m.length, off);
    m.copy(buf, off + 4);
    off += 4 + m.length;
  }
  return buf;
}

/** The envelopes of a batch, as views into it. */
export function decodeBatch(msg: Buffer): Buffer[] {
  const { off: start } = originOf(msg);
  const out: Buffer[] = [];
  for (let off = start; off < msg.length; ) {
    if (off + 4 > msg.length) throw new EnvelopeError('truncated batch');
    const len = msg.readUInt32BE(off);
    if (len < 4 || off + 4 + len > msg.length) throw new EnvelopeError('truncated batch');
    out.push(msg.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

export function decodeControl(msg: Buffer): ControlEnvelope {
  const kind = peekKind(msg);
  if (kind === Kind.BROADCAST || kind === Kind.BATCH) throw new EnvelopeError('not a control message');
  const head = originOf(msg);
  let body: unknown;
  if (head.off < msg.length) {
    try {
      body = JSON.parse(msg.toString('utf8', head.off)) as unknown;
    } catch {
      throw new EnvelopeError('control body is not JSON');
    }
  }
  return { kind: kind as ControlEnvelope['kind'], origin: head.origin, body };
}
