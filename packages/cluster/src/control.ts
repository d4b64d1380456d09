import { EnvelopeError, Kind, type ControlEnvelope } from './envelope';
import type { Heartbeat } from './heartbeat';
import type { Membership } from './membership';
import type { Sequencer } from './sequencing';

/** What the control messages of other nodes act on. */
export interface ControlContext {
  readonly seq: Sequencer;
  readonly peers: Membership;
  readonly heartbeat: Heartbeat;
  /** Whether this node has local members in `room`. */
  follows(room: string): boolean;
  /** Another node claimed the session `id` (recovery): this node's copy goes. */
  taken(id: string): void;
  /** A cross-node query or its answer. */
  query(env: ControlEnvelope): void;
}

/**
 * A control message of another node: hello and heartbeat (membership, the sequence marks they
 * carry), a room's mark, goodbye, and the requests and responses of queries (a session `moved`
 * elsewhere is one of them). Throws EnvelopeError on a malformed one.
 */
export function onControl(ctx: ControlContext, env: ControlEnvelope): void {
  const body = env.body as Record<string, unknown> | undefined;
  switch (env.kind) {
    case Kind.HELLO:
    case Kind.HEARTBEAT: {
      ctx.peers.seen(env.origin);
      // A hello also comes after a reconnection: the gap of an outage is counted here.
      const epoch = body?.['epoch'];
      const seq = body?.['seq'];
      if (typeof epoch === 'number' && typeof seq === 'number') ctx.seq.peerMark(env.origin, { epoch, seq });
      // Answer a hello at once so the newcomer knows every node without waiting a heartbeat
      // (the heartbeat carries our global stream's number: what it missed is counted).
      if (env.kind === Kind.HELLO) {
        ctx.heartbeat.soon();
        if (ctx.seq.hasDirtyRooms) ctx.heartbeat.marks();
      }
      return;
    }
    case Kind.MARK: {
      const room = body?.['room'];
      const epoch = body?.['epoch'];
      const seq = body?.['seq'];
      if (typeof room !== 'string' || typeof epoch !== 'number' || typeof seq !== 'number') throw new EnvelopeError('bad mark');
      if (ctx.follows(room)) ctx.seq.roomMark(env.origin, room, { epoch, seq });
      return;
    }
    case Kind.BYE:
      ctx.seq.forgetNode(env.origin);
      ctx.peers.bye(env.origin);
      return;
    case Kind.REQUEST:
    case Kind.RESPONSE:
      ctx.peers.seen(env.origin);
      if (body?.['op'] === 'moved') {
        if (typeof body['conn'] === 'string') ctx.taken(body['conn']);
        return;
      }
      ctx.query(env);
      return;
  }
}
