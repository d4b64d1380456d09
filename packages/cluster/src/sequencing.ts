import { Flag, type BroadcastEnvelope } from './envelope';
import { now, randomEpoch } from './util';

/** Numbering of one stream of broadcasts (sender side). */
interface OutStream {
  epoch: number;
  seq: number;
  /** A publish of this stream reached a subscriber at least once. */
  heard: boolean;
}

/** What a receiver knows of one stream of another node. */
interface InStream {
  epoch: number;
  last: number;
}

interface PeerStreams {
  global: InStream | undefined;
  rooms: Map<string, InStream> | undefined;
  at: number;
}

/** The numbers of a stream at one point: what a heartbeat or a mark carries. */
export interface StreamMark {
  epoch: number;
  seq: number;
}

const SEQ_HALF = 0x80000000;
/** Sender-side numbering is kept for this many room streams at most (then restarted). */
const MAX_ROOM_STREAMS = 100_000;

/**
 * Broadcast sequencing and loss accounting. Each node numbers its broadcasts per stream — its
 * global stream, and in sharded mode one stream per room it publishes to — with a random epoch
 * and a sequence number. A receiver delivers a broadcast only if it is the next of its stream or
 * later (an older one is a duplicate), and counts every number it never saw: from the gap before
 * the next broadcast, or from the last number a heartbeat, hello or mark of the sender carries.
 */
export class Sequencer {
  /** Broadcasts of other nodes that never arrived here. */
  missed = 0;
  /** Copies received twice (or out of order), not delivered. */
  duplicates = 0;
  private readonly global: OutStream = { epoch: randomEpoch(), seq: 0, heard: false };
  private readonly rooms = new Map<string, OutStream>();
  /** A broadcast of the global stream failed: its number goes out with the next heartbeat. */
  private globalDirty = false;
  /**
   * Room streams with a failed publish, and since when: their mark is sent when the broker is
   * back and again whenever a node says hello (it has just resubscribed, and may have missed the
   * earlier mark). Marks are idempotent; a room is forgotten after a while (`sweep`).
   */
  private readonly dirtyRooms = new Map<string, number>();
  private readonly inStreams = new Map<string, PeerStreams>();

  /** @param onMissed called for each gap found (`n` broadcasts of `origin` never arrived). */
  constructor(private readonly onMissed: (n: number, origin: string) => void) {}

  // ── sender ──────────────────────────────────────────────────────────────────

  /** The next number of the global stream, or of a room's stream. */
  next(room?: string): StreamMark {
    const s = room === undefined ? this.global : this.roomStream(room);
    s.seq = (s.seq + 1) >>> 0;
    return { epoch: s.epoch, seq: s.seq };
  }

  private roomStream(room: string): OutStream {
    let s = this.rooms.get(room);
    if (!s) {
      if (this.rooms.size >= MAX_ROOM_STREAMS) this.rooms.clear();
      this.rooms.set(room, (s = { epoch: randomEpoch(), seq: 0, heard: false }));
    }
    return s;
  }

  /** A broadcast of this stream was lost: its receivers must learn the stream's number. */
  failed(room?: string): void {
    if (room === undefined) this.globalDirty = true;
    else this.dirtyRooms.set(room, now());
  }

  /**
   * A publish to the room's stream reached `receivers` subscribers. A stream that never had one
   * (a connection id, a room of no one) is forgotten, so addressing many ids does not grow this
   * node's memory.
   */
  delivered(room: string, receivers: number): void {
    const s = this.rooms.get(room);
    if (!s) return;
    if (receivers > 0) s.heard = true;
    else if (!s.heard) this.rooms.delete(room);
  }

  /** Whether a heartbeat or marks are owed since a failure; clears the global flag. */
  takeDirty(): boolean {
    const dirty = this.globalDirty || this.dirtyRooms.size > 0;
    this.globalDirty = false;
    return dirty;
  }

  get hasDirtyRooms(): boolean {
    return this.dirtyRooms.size > 0;
  }

  /** The last numbers of the room streams whose publish failed (what marks carry). */
  marks(): { room: string; epoch: number; seq: number }[] {
    const out: { room: string; epoch: number; seq: number }[] = [];
    for (const room of this.dirtyRooms.keys()) {
      const s = this.rooms.get(room);
      if (s) out.push({ room, epoch: s.epoch, seq: s.seq });
      else this.dirtyRooms.delete(room);
    }
    return out;
  }

  /** The global stream's numbers, for a heartbeat or hello. */
  globalMark(): StreamMark {
    return { epoch: this.global.epoch, seq: this.global.seq };
  }

  // ── receiver ────────────────────────────────────────────────────────────────

  private streamsOf(origin: string): PeerStreams {
    let s = this.inStreams.get(origin);
    if (!s) this.inStreams.set(origin, (s = { global: undefined, rooms: undefined, at: now() }));
    s.at = now();
    return s;
  }

  /**
   * Whether a received broadcast is to be delivered (false for a duplicate). Room streams are
   * followed only for rooms this node subscribes to (`follows`); a copy re-sent on the global
   * channel is checked like the original would have been.
   */
  accept(env: BroadcastEnvelope, follows: (room: string) => boolean): boolean {
    if (!(env.flags & Flag.SEQUENCED)) return true;
    const streams = this.streamsOf(env.origin);
    if (env.flags & Flag.ROOM_STREAM) {
      const room = env.rooms[0];
      if (room === undefined || !follows(room)) return true;
      return this.follow((streams.rooms ??= new Map()), room, env.origin, env.epoch, env.seq, 1);
    }
    const slot = { s: streams.global };
    const fresh = this.check(slot, env.origin, env.epoch, env.seq, 1);
    streams.global = slot.s;
    return fresh;
  }

  /** A mark: the last number of `origin`'s stream for `room`. */
  roomMark(origin: string, room: string, mark: StreamMark): void {
    const streams = this.streamsOf(origin);
    this.follow((streams.rooms ??= new Map()), room, origin, mark.epoch, mark.seq, 0);
  }

  /** A heartbeat or hello: the last number of `origin`'s global stream. */
  peerMark(origin: string, mark: StreamMark): void {
    const streams = this.streamsOf(origin);
    const slot = { s: streams.global };
    this.check(slot, origin, mark.epoch, mark.seq, 0);
    streams.global = slot.s;
  }

  private follow(rooms: Map<string, InStream>, room: string, origin: string, epoch: number, seq: number, step: 0 | 1): boolean {
    const slot = { s: rooms.get(room) };
    const fresh = this.check(slot, origin, epoch, seq, step);
    if (slot.s) rooms.set(room, slot.s);
    return fresh;
  }

  /**
   * Counts what `origin` sent on a stream and never arrived here. `step` is 1 for a broadcast
   * (its seq is the next expected) and 0 for a heartbeat or mark (its seq is the last one sent).
   * Returns false for a broadcast already received (a duplicate), which is not delivered again.
   */
  private check(slot: { s: InStream | undefined }, origin: string, epoch: number, seq: number, step: 0 | 1): boolean {
    const s = slot.s;
    if (!s || s.epoch !== epoch) {
      // First news of this stream (or the sender restarted it): a new baseline.
      slot.s = { epoch, last: seq };
      return true;
    }
    const ahead = (seq - s.last) >>> 0;
    if (step === 1 && (ahead === 0 || ahead >= SEQ_HALF)) {
      this.duplicates++;
      return false;
    }
    if (ahead === 0 || ahead >= SEQ_HALF) return true;
    const missed = ahead - step;
    if (missed > 0) {
      this.missed += missed;
      this.onMissed(missed, origin);
    }
    s.last = seq;
    return true;
  }

  /** This node left the room: its streams are no longer followed. */
  forgetRoom(room: string): void {
    for (const s of this.inStreams.values()) s.rooms?.delete(room);
  }

  /** A node said goodbye: its numbering is over. */
  forgetNode(origin: string): void {
    this.inStreams.delete(origin);
  }

  /**
   * Sequence state outlives a node's drop (so an outage's gap is still counted when it comes
   * back), but not for ever: forgotten `forget` ms after its last news (unless `alive`).
   */
  sweep(t: number, forget: number, alive: (node: string) => boolean): void {
    for (const [node, s] of this.inStreams) if (!alive(node) && t - s.at > forget) this.inStreams.delete(node);
    for (const [room, at] of this.dirtyRooms) if (t - at > forget) this.dirtyRooms.delete(room);
  }

  clear(): void {
    this.inStreams.clear();
  }
}
