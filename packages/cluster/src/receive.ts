import type { Link } from '@stelar/core/internal';
import { decodeBatch, decodeBroadcast, decodeControl, EnvelopeError, isFrom, Kind, peekKind, type BroadcastEnvelope, type ControlEnvelope } from './envelope';
import { afterCallback } from './util';

/** Where the envelopes of a received message go. */
export interface Receiver {
  broadcast(env: BroadcastEnvelope): void;
  control(env: ControlEnvelope): void;
  /** Not a valid envelope (EnvelopeError), or a receiver threw. */
  bad(err: unknown): void;
}

/**
 * Decodes a message from the broker (one envelope or a batch of them) and hands each envelope
 * on; this node's own messages (already delivered locally) are skipped. Never throws: a bad
 * envelope is reported and the others of its batch still go through.
 */
export function unpack(msg: Uint8Array, self: Uint8Array, to: Receiver): void {
  if (isFrom(msg, self)) return;
  let batch: Uint8Array[];
  try {
    if (peekKind(msg) !== Kind.BATCH) return one(msg, to);
    batch = decodeBatch(msg);
  } catch (err) {
    return to.bad(err);
  }
  for (const m of batch) one(m, to);
}

function one(msg: Uint8Array, to: Receiver): void {
  try {
    const kind = peekKind(msg);
    if (kind === Kind.BROADCAST) to.broadcast(decodeBroadcast(msg));
    else if (kind === Kind.BATCH) throw new EnvelopeError('nested batch');
    else to.control(decodeControl(msg));
  } catch (err) {
    to.bad(err);
  }
}

/**
 * Corks links while broadcasts are delivered, until the current callback has returned: the
 * broker's client hands over every message of a read in one go, and a server handles every
 * frame of a client's read in one go, so each recipient gets all the frames of such a burst in
 * one system call instead of one per frame.
 */
export class Corker {
  private readonly corked = new Set<Link>();

  cork(link: Link): void {
    if (!link.cork || this.corked.has(link)) return;
    if (this.corked.size === 0) afterCallback(this.uncorkAll);
    link.cork();
    this.corked.add(link);
  }

  private readonly uncorkAll = (): void => {
    for (const link of this.corked) link.uncork?.();
    this.corked.clear();
  };
}
