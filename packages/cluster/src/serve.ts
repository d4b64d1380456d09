import { StelarError } from '@stelar/core';
import { toErrorBody, type AdapterHost, type AnyConnection, type Target } from '@stelar/core/internal';
import { EnvelopeError } from './envelope';
import type { Reply, RequestBody } from './queries';

/** What answering another node's request needs. */
export interface ServeContext {
  /** Local open connections a target addresses. */
  localMatches(target: Target): AnyConnection[];
  /** Publishes an answer on the asking node's response channel. */
  reply(to: string, reply: Reply): void;
}

function isTarget(t: unknown): t is Target {
  if (typeof t !== 'object' || t === null) return false;
  const o = t as Record<string, unknown>;
  const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
  return strings(o['rooms']) && strings(o['exceptRooms']) && strings(o['exceptIds']);
}

function connectionFor(host: AdapterHost, req: RequestBody): AnyConnection | undefined {
  if (typeof req.conn !== 'string') throw new EnvelopeError('operation without a connection id');
  const c = host.connection(req.conn);
  return c && c.isOpen ? c : undefined;
}

const gone = (req: RequestBody): StelarError => new StelarError('DISCONNECTED', `connection ${String(req.conn)} is not open`);

/**
 * Does what another node asked of this one, on this node's connections, and answers (except a
 * server event sent without `ack`). Throws EnvelopeError on a malformed request.
 */
export function serveRequest(ctx: ServeContext, host: AdapterHost, from: string, req: RequestBody): void {
  if (typeof req !== 'object' || req === null || typeof req.id !== 'number' || typeof req.op !== 'string') throw new EnvelopeError('bad request');
  const answer = (ok: boolean, value: unknown): void => {
    if (req.op === 'emit' && !req.ack) return;
    if (ok) return ctx.reply(from, { id: req.id, ok: true, value });
    const b = toErrorBody(value);
    ctx.reply(from, { id: req.id, ok: false, code: b.code, message: b.message });
  };
  const needsTarget = !req.op.startsWith('c.') && req.op !== 'emit';
  if (needsTarget && !isTarget(req.target)) throw new EnvelopeError('request without a target');
  const conn = req.op.startsWith('c.') ? connectionFor(host, req) : undefined;
  try {
    switch (req.op) {
      case 'fetch':
        answer(true, ctx.localMatches(req.target!).map((c) => c.info()));
        return;
      case 'count':
        answer(true, ctx.localMatches(req.target!).length);
        return;
      case 'join': {
        const matches = ctx.localMatches(req.target!);
        const joined: Promise<void>[] = [];
        for (const c of matches) {
          try {
            joined.push(c.join(req.rooms ?? []));
          } catch {
            /* over its room limit: counted by that node's hub */
          }
        }
        // Answer once the new room channels are subscribed (sharded mode), so a broadcast
        // sent after the caller's await reaches them.
        Promise.all(joined).then(
          () => answer(true, matches.length),
          (err: unknown) => answer(false, err),
        );
        return;
      }
      case 'leave': {
        const matches = ctx.localMatches(req.target!);
        for (const c of matches) for (const r of req.rooms ?? []) c.leave(r);
        answer(true, matches.length);
        return;
      }
      case 'disconnect': {
        const matches = ctx.localMatches(req.target!);
        for (const c of matches) c.disconnect(req.code, req.reason ?? '');
        answer(true, matches.length);
        return;
      }
      case 'emit': {
        if (typeof req.event !== 'string') throw new EnvelopeError('server event without a name');
        host.handleServerEvent(req.event, req.data, from).then(
          (v) => answer(true, v),
          (err: unknown) => {
            if (!req.ack) host.countError(toErrorBody(err).code);
            answer(false, err);
          },
        );
        return;
      }
      case 'c.request': {
        if (typeof req.event !== 'string') throw new EnvelopeError('request without an event');
        if (!conn) return answer(false, gone(req));
        const timeout = typeof req.timeout === 'number' && req.timeout > 0 ? req.timeout : undefined;
        conn.request(req.event, req.data, timeout === undefined ? {} : { timeout }).then(
          (v: unknown) => answer(true, v),
          (err: unknown) => answer(false, err),
        );
        return;
      }
      case 'c.join': {
        if (!conn) return answer(false, gone(req));
        conn.join(req.rooms ?? []).then(
          () => answer(true, 1),
          (err: unknown) => answer(false, err),
        );
        return;
      }
      case 'c.leave': {
        if (!conn) return answer(false, gone(req));
        for (const r of req.rooms ?? []) conn.leave(r);
        answer(true, 1);
        return;
      }
      case 'c.disconnect': {
        conn?.disconnect(req.code, req.reason ?? '');
        answer(true, conn ? 1 : 0);
        return;
      }
      default:
        answer(false, new StelarError('BAD_REQUEST', `unknown operation "${String(req.op)}"`));
    }
  } catch (err) {
    if (err instanceof EnvelopeError) throw err;
    answer(false, err);
  }
}
