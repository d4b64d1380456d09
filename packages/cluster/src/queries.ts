import { StelarError } from '@stelar/core';
import type { Target } from '@stelar/core/internal';
import { encodeControl, EnvelopeError, Kind } from './envelope';
import type { Losses } from './losses';
import type { Membership } from './membership';
import { ClusterErrorCode } from './options';
import type { Outbox } from './outbox';
import { asError, unref, within } from './util';

/** Operations a node asks of the others (`c.*`: on one connection of the asked node). */
export type Op = 'fetch' | 'count' | 'join' | 'leave' | 'disconnect' | 'emit' | 'b.request' | 'c.request' | 'c.join' | 'c.leave' | 'c.disconnect' | 'r.handover';

export interface RequestBody {
  id: number;
  op: Op;
  target?: Target;
  rooms?: string[];
  code?: number;
  reason?: string;
  event?: string;
  data?: unknown;
  ack?: boolean;
  /** A connection id (ops on one connection). */
  conn?: string;
  timeout?: number;
  /** 'b.request': the data as a JSON payload, base64 (broadcast-request.ts). */
  payload?: string;
  /** 'b.request': `false` to send uncompressed. */
  compress?: boolean;
}

export type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; code: string; message: string };

interface Pending {
  op: Op;
  label: string;
  timeout: number;
  /** The broker confirmed the request: `expected` and `unknown` are set. */
  confirmed: boolean;
  /** Known nodes that received the request and are waited for. */
  expected: Set<string>;
  /** Receivers the broker counted that this node does not know by id (yet). */
  unknown: number;
  /** Receivers found dead (not waited for). */
  gone: Set<string>;
  replies: Map<string, Reply>;
  timer: ReturnType<typeof setTimeout>;
  probeTimer: ReturnType<typeof setTimeout> | undefined;
  resolve(replies: Map<string, Reply>): void;
  reject(err: unknown): void;
}

/** What the queries need of the adapter around them. */
export interface QueryContext {
  /** This node's envelope header. */
  header(): Uint8Array;
  readonly outbox: Outbox;
  readonly members: Membership;
  readonly losses: Losses;
  /** The request channel, this node's response channel, another node's. */
  req(): string;
  res(): string;
  resOf(node: string): string;
  /** A publish's receiver count covers the whole broker (else a request to one node is probed). */
  readonly exactReceivers: boolean;
  countSubscribers(channels: readonly string[]): Promise<number[]>;
  countError(code: string): void;
  readonly requestTimeout: number;
  readonly probeInterval: number;
}

function errorOf(reply: Reply, node: string, label: string): StelarError {
  const r = reply as { code: string; message: string };
  return new StelarError(r.code, `${label}: node ${node} answered ${r.code}: ${r.message}`, { nodeId: node });
}

/**
 * Cross-node requests. Each is published with a count of its receivers: how many, the publish's
 * reply says, and which, a count of each known node's response-channel subscribers taken in the
 * same step (`Publication.probe`): so nodes not heard of yet are waited for too, and nodes
 * already gone are not. A node found gone meanwhile (goodbye, silence, or no longer subscribed:
 * checked every `probeInterval`) stops being waited for. A request rejects on the first error
 * answer, and with NODE_TIMEOUT in time.
 */
export class Queries {
  /** Queries that timed out. */
  timedOut = 0;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(private readonly ctx: QueryContext) {}

  /** With `node`, asks that node only (on its response channel). Resolves with each answer by node. */
  ask(op: Op, label: string, body: Omit<RequestBody, 'id' | 'op'>, timeout = this.ctx.requestTimeout, node?: string): Promise<Map<string, Reply>> {
    const ctx = this.ctx;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const id = this.nextId;
    let msg: Uint8Array;
    try {
      msg = encodeControl(ctx.header(), Kind.REQUEST, { id, op, ...body } satisfies RequestBody);
    } catch (err) {
      return Promise.reject(new StelarError('BAD_PAYLOAD', `${label}: data is not JSON-serialisable: ${asError(err).message}`));
    }
    const known = node === undefined ? ctx.members.ids() : [];
    const silent = node === undefined ? ctx.members.silentIds() : [];
    return new Promise<Map<string, Reply>>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(id), timeout);
      unref(timer);
      const p: Pending = { op, label, timeout, confirmed: false, expected: new Set(), unknown: 0, gone: new Set(), replies: new Map(), timer, probeTimer: undefined, resolve, reject };
      this.pending.set(id, p);
      ctx.outbox.send({
        channel: node === undefined ? ctx.req() : ctx.resOf(node),
        msg,
        // (Where a publish counts one broker node's subscribers only, the receivers of a request
        // to one node are counted across the broker instead.)
        probe: node === undefined ? [ctx.res(), ...known.map((n) => ctx.resOf(n)), ...silent.map((n) => ctx.resOf(n))] : ctx.exactReceivers ? undefined : [],
        done: (_p, receivers, counts, failure) => {
          if (this.pending.get(id) !== p) return;
          if (failure !== 0) {
            ctx.losses.lost(failure, 'query');
            this.finish(id, p, ctx.losses.error(failure, `${label}: request`));
            return;
          }
          p.confirmed = true;
          if (node !== undefined) {
            if (receivers > 0) p.expected.add(node);
          } else this.expect(p, receivers, counts ?? [], known, silent);
          this.settle(id, p);
          if (this.pending.get(id) === p) this.scheduleProbe(id, p);
        },
      });
    });
  }

  /** Who received a request: known nodes still subscribed, and a number of nodes unknown yet. */
  private expect(p: Pending, receivers: number, c: number[], known: string[], silent: string[]): void {
    const members = this.ctx.members;
    const selfSubscribed = (c[0] ?? 0) > 0;
    let others = receivers - (selfSubscribed ? 1 : 0);
    known.forEach((n, i) => {
      if ((c[1 + i] ?? 0) > 0) {
        if (members.has(n)) p.expected.add(n);
        else others--; // dropped meanwhile (silent or gone): not waited for
      } else if (members.has(n)) members.drop(n, 'gone');
    });
    silent.forEach((n, i) => {
      if ((c[1 + known.length + i] ?? 0) > 0) others--; // hung: subscribed, not answering
      else members.unsilence(n);
    });
    p.unknown = Math.max(0, others - p.expected.size);
  }

  private finish(id: number, p: Pending, err?: unknown): void {
    if (this.pending.get(id) !== p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (p.probeTimer !== undefined) clearTimeout(p.probeTimer);
    if (err !== undefined) p.reject(err);
    else p.resolve(p.replies);
  }

  /** Finishes a query once every receiver has answered or is gone. */
  private settle(id: number, p: Pending): void {
    if (!p.confirmed) return;
    let fromUnknown = 0;
    for (const n of p.replies.keys()) if (!p.expected.has(n)) fromUnknown++;
    if (fromUnknown < p.unknown) return;
    for (const n of p.expected) if (!p.replies.has(n) && !p.gone.has(n)) return;
    this.finish(id, p);
  }

  /** While a query waits: are the nodes it waits for still subscribed? */
  private scheduleProbe(id: number, p: Pending): void {
    const ctx = this.ctx;
    p.probeTimer = setTimeout(() => {
      p.probeTimer = undefined;
      if (this.pending.get(id) !== p) return;
      const waiting = [...p.expected].filter((n) => !p.replies.has(n) && !p.gone.has(n));
      if (waiting.length === 0) return; // only unknown receivers left: they answer or time out
      within(ctx.countSubscribers(waiting.map((n) => ctx.resOf(n))), ctx.probeInterval * 4, 'query probe').then(
        (counts) => {
          waiting.forEach((n, i) => {
            if (counts[i] !== 0) return;
            if (ctx.members.has(n)) ctx.members.vanished(n);
            else {
              ctx.members.unsilence(n);
              p.gone.add(n);
            }
          });
          this.settle(id, p);
          if (this.pending.get(id) === p) this.scheduleProbe(id, p);
        },
        () => {
          if (this.pending.get(id) === p) this.scheduleProbe(id, p);
        },
      );
    }, ctx.probeInterval);
    unref(p.probeTimer);
  }

  private expire(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.timedOut++;
    this.ctx.countError(ClusterErrorCode.NODE_TIMEOUT);
    const missing = [...p.expected].filter((n) => !p.replies.has(n) && !p.gone.has(n));
    let fromUnknown = 0;
    for (const n of p.replies.keys()) if (!p.expected.has(n)) fromUnknown++;
    const unidentified = Math.max(0, p.unknown - fromUnknown);
    const asked = p.expected.size + p.unknown;
    const answered = p.replies.size;
    const who = [...missing, ...(unidentified > 0 ? [`${unidentified} node${unidentified === 1 ? '' : 's'} not identified yet`] : [])];
    this.finish(
      id,
      p,
      new StelarError(
        ClusterErrorCode.NODE_TIMEOUT,
        `${p.label} timed out after ${p.timeout} ms: ${answered} of ${asked} other node${asked === 1 ? '' : 's'} answered (no answer from ${who.join(', ')})`,
        { answered, asked, missing, unidentified },
      ),
    );
  }

  /** An answer of `node`. */
  onResponse(node: string, reply: Reply): void {
    if (typeof reply !== 'object' || reply === null || typeof reply.id !== 'number') throw new EnvelopeError('bad response');
    const p = this.pending.get(reply.id);
    if (!p || p.replies.has(node)) return; // timed out already, or a duplicate
    if (!reply.ok && !p.op.startsWith('c.')) {
      this.finish(reply.id, p, errorOf(reply, node, p.label));
      return;
    }
    p.replies.set(node, reply);
    this.settle(reply.id, p);
  }

  /** `node` is no longer known alive: queries stop waiting for it. */
  nodeDropped(node: string): void {
    for (const [id, p] of this.pending) {
      if (p.expected.has(node) && !p.replies.has(node)) {
        p.gone.add(node);
        this.settle(id, p);
      }
    }
  }

  /** Rejects every pending query with ADAPTER_CLOSED. */
  close(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (p.probeTimer !== undefined) clearTimeout(p.probeTimer);
      p.reject(new StelarError(ClusterErrorCode.ADAPTER_CLOSED, `${p.label}: the adapter was closed`));
    }
  }
}
