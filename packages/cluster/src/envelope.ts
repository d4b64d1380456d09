import { readUtf8, utf8, utf8Length, writeUtf8 } from './utf8';

/**
 * What travels between nodes, whatever the broker. Every message starts with the same small
 * header:
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

/** A message that is not a valid envelope of this version. */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

interface Names {
  readonly rooms: readonly string[];
  readonly exceptRooms: readonly string[];
  readonly exceptIds: readonly string[];
}

/** The header bytes for one node (computed once per node). */
export function headerFor(nodeId: string): Uint8Array {
  const len = utf8Length(nodeId);
  if (len === 0 || len > 255) throw new RangeError(`node id must be 1..255 UTF-8 bytes, got ${len}`);
  const h = new Uint8Array(3 + len);
  h[0] = ENVELOPE_VERSION;
  h[1] = 0; // kind, set per message
  h[2] = len;
  writeUtf8(h, 3, nodeId);
  return h;
}

function u32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/** Bytes of a list, and each name's length (checked against the u16 fields). */
function listSize(list: readonly string[], lengths: number[]): number {
  if (list.length > 0xffff) throw new RangeError('at most 65535 names per list');
  let n = 2;
  for (const s of list) {
    const len = utf8Length(s);
    if (len > 0xffff) throw new RangeError('names are at most 65535 bytes');
    lengths.push(len);
    n += 2 + len;
  }
  return n;
}

function writeList(buf: Uint8Array, off: number, list: readonly string[], lengths: number[], at: number): number {
  buf[off] = list.length >>> 8;
  buf[off + 1] = list.length;
  off += 2;
  for (let i = 0; i < list.length; i++) {
    const len = lengths[at + i]!;
    buf[off] = len >>> 8;
    buf[off + 1] = len;
    writeUtf8(buf, off + 2, list[i]!);
    off += 2 + len;
  }
  return off;
}

/** One message: header, addressing, then a copy of the frame bytes. */
export function encodeBroadcast(header: Uint8Array, flags: number, epoch: number, seq: number, target: Names, frame: Uint8Array): Uint8Array {
  const lengths: number[] = [];
  const lists = listSize(target.rooms, lengths) + listSize(target.exceptRooms, lengths) + listSize(target.exceptIds, lengths);
  const buf = new Uint8Array(header.length + 9 + lists + frame.length);
  buf.set(header, 0);
  buf[1] = Kind.BROADCAST;
  let off = header.length;
  buf[off] = flags;
  u32(buf, off + 1, epoch >>> 0);
  u32(buf, off + 5, seq >>> 0);
  off += 9;
  off = writeList(buf, off, target.rooms, lengths, 0);
  off = writeList(buf, off, target.exceptRooms, lengths, target.rooms.length);
  off = writeList(buf, off, target.exceptIds, lengths, target.rooms.length + target.exceptRooms.length);
  buf.set(frame, off);
  return buf;
}

/** A control message; throws (TypeError) if `body` is not JSON-serialisable. */
export function encodeControl(header: Uint8Array, kind: ControlEnvelope['kind'], body?: unknown): Uint8Array {
  const json = body === undefined ? undefined : utf8(JSON.stringify(body));
  const buf = new Uint8Array(header.length + (json?.length ?? 0));
  buf.set(header, 0);
  buf[1] = kind;
  if (json) buf.set(json, header.length);
  return buf;
}

/** The message's kind, after checking the version; throws EnvelopeError on a foreign message. */
export function peekKind(msg: Uint8Array): Kind {
  if (msg.length < 4 || msg[0] !== ENVELOPE_VERSION) throw new EnvelopeError(`unknown envelope version ${msg[0] ?? 'none'}`);
  const kind = msg[1]!;
  if (kind < Kind.BROADCAST || kind > Kind.BATCH) throw new EnvelopeError(`unknown envelope kind ${kind}`);
  return kind as Kind;
}

/** A copy of an encoded broadcast with the RESENT flag set. */
export function resentCopy(msg: Uint8Array, header: Uint8Array): Uint8Array {
  const again = msg.slice();
  again[header.length] = again[header.length]! | Flag.RESENT;
  return again;
}

/** Whether the message was sent by the node whose header this is (no string decoding). */
export function isFrom(msg: Uint8Array, header: Uint8Array): boolean {
  const len = header[2]!;
  if (msg[2] !== len || msg.length < 3 + len) return false;
  for (let i = 3; i < 3 + len; i++) if (msg[i] !== header[i]) return false;
  return true;
}

function originOf(msg: Uint8Array): { origin: string; off: number } {
  const len = msg[2]!;
  if (len === 0 || msg.length < 3 + len) throw new EnvelopeError('truncated node id');
  return { origin: readUtf8(msg, 3, 3 + len), off: 3 + len };
}

function readList(msg: Uint8Array, off: number): { list: string[]; off: number } {
  if (off + 2 > msg.length) throw new EnvelopeError('truncated list');
  const n = readU16(msg, off);
  off += 2;
  const list: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    if (off + 2 > msg.length) throw new EnvelopeError('truncated list');
    const len = readU16(msg, off);
    off += 2;
    if (off + len > msg.length) throw new EnvelopeError('truncated name');
    list[i] = readUtf8(msg, off, off + len);
    off += len;
  }
  return { list, off };
}

export function decodeBroadcast(msg: Uint8Array): BroadcastEnvelope {
  const head = originOf(msg);
  let off = head.off;
  if (off + 9 > msg.length) throw new EnvelopeError('truncated broadcast');
  const flags = msg[off]!;
  const epoch = readU32(msg, off + 1);
  const seq = readU32(msg, off + 5);
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
export function encodeBatch(header: Uint8Array, msgs: readonly Uint8Array[]): Uint8Array {
  let size = header.length;
  for (const m of msgs) size += 4 + m.length;
  const buf = new Uint8Array(size);
  buf.set(header, 0);
  buf[1] = Kind.BATCH;
  let off = header.length;
  for (const m of msgs) {
    u32(buf, off, m.length);
    buf.set(m, off + 4);
    off += 4 + m.length;
  }
  return buf;
}

/** The envelopes of a batch, as views into it. */
export function decodeBatch(msg: Uint8Array): Uint8Array[] {
  const { off: start } = originOf(msg);
  const out: Uint8Array[] = [];
  for (let off = start; off < msg.length; ) {
    if (off + 4 > msg.length) throw new EnvelopeError('truncated batch');
    const len = readU32(msg, off);
    if (len < 4 || off + 4 + len > msg.length) throw new EnvelopeError('truncated batch');
    out.push(msg.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

export function decodeControl(msg: Uint8Array): ControlEnvelope {
  const kind = peekKind(msg);
  if (kind === Kind.BROADCAST || kind === Kind.BATCH) throw new EnvelopeError('not a control message');
  const head = originOf(msg);
  let body: unknown;
  if (head.off < msg.length) {
    try {
      body = JSON.parse(readUtf8(msg, head.off, msg.length)) as unknown;
    } catch {
      throw new EnvelopeError('control body is not JSON');
    }
  }
  return { kind: kind as ControlEnvelope['kind'], origin: head.origin, body };
}
