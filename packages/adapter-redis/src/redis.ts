import { Buffer } from 'node:buffer';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { PublishLink } from './publisher';

/** An ioredis client the adapter can work from: a single Redis, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export function isCluster(c: RedisClient): c is Cluster {
  return (c as { isCluster?: boolean }).isCluster === true;
}

/**
 * A copy of `template` with `own` options on top: `Redis#duplicate(options)`, and for a Cluster
 * `Cluster#duplicate(startupNodes, options)` with the per-node options (`redisOptions`) merged,
 * not replaced.
 */
export function duplicate(template: RedisClient, own: RedisOptions, cluster: Partial<ClusterOptions> = {}): RedisClient {
  if (!isCluster(template)) return template.duplicate(own);
  const base = template.options;
  // Per-node options of a Cluster: the ones a Cluster allows there (it manages retries and
  // offline queues of its nodes itself).
  const { retryStrategy: _r, enableOfflineQueue: _q, ...nodeOwn } = own;
  return template.duplicate([], { ...base, ...cluster, redisOptions: { ...base.redisOptions, ...nodeOwn } });
}

/** Whether commands written now go out at once. */
export function isReady(c: RedisClient | undefined): boolean {
  return c !== undefined && c.status === 'ready';
}

/** The bytes as a Buffer (ioredis sends a Buffer as is, and stringifies anything else). */
export function bufferOf(msg: Uint8Array): Buffer {
  return Buffer.isBuffer(msg) ? msg : Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
}

function numbers(reply: unknown): number[] {
  // [channel, count, channel, count, …]
  const out: number[] = [];
  if (Array.isArray(reply)) for (let i = 1; i < reply.length; i += 2) out.push(Number(reply[i]));
  return out;
}

/**
 * Subscriber counts of channels, as Redis sees them right now (PUBSUB NUMSUB / SHARDNUMSUB).
 * On a Cluster in classic mode a subscriber is counted only by the node it is connected to, so
 * the counts of every node are added up (as Socket.IO's Redis adapter does).
 */
export async function numsub(c: RedisClient, sharded: boolean, channels: readonly string[]): Promise<number[]> {
  if (channels.length === 0) return [];
  if (sharded || !isCluster(c)) return numbers(await c.call('PUBSUB', sharded ? 'SHARDNUMSUB' : 'NUMSUB', ...channels));
  const per = await Promise.all(c.nodes('all').map((n) => n.call('PUBSUB', 'NUMSUB', ...channels).then(numbers)));
  return channels.map((_, i) => per.reduce((sum, counts) => sum + (counts[i] ?? 0), 0));
}

/**
 * How the publisher reaches Redis.
 *
 * - A single Redis: one connection; the publishes of one event-loop turn after the first are
 *   corked into one write (the first goes out at once, before the local fan-out).
 * - A Cluster in sharded mode: `SPUBLISH` goes to the shard of its channel.
 * - A Cluster in classic mode: `PUBLISH` reaches every node from any node, so all of this
 *   node's publishes go through one master (the first ready one), which keeps them in order;
 *   ioredis would pick a random node for each.
 */
export function publishLink(pub: RedisClient, sharded: boolean): PublishLink {
  const cmd = sharded ? 'SHARDNUMSUB' : 'NUMSUB';
  if (!isCluster(pub)) {
    let batching = false;
    let corked: { uncork(): void } | undefined;
    const endBatch = (): void => {
      batching = false;
      const s = corked;
      corked = undefined;
      s?.uncork();
    };
    return {
      ready: () => pub.status === 'ready',
      publish(channel, bytes) {
        const msg = bufferOf(bytes);
        if (batching) {
          if (!corked && pub.stream) {
            pub.stream.cork();
            corked = pub.stream;
          }
        } else {
          batching = true;
          setImmediate(endBatch);
        }
        return (sharded ? pub.spublish(channel, msg) : pub.publish(channel, msg)) as Promise<number>;
      },
      async publishProbe(channel, bytes, probe) {
        const msg = bufferOf(bytes);
        const p = pub.pipeline().call('PUBSUB', cmd, ...probe);
        (sharded ? p.spublish(channel, msg) : p.publish(channel, msg));
        return pipelineResult(await p.exec());
      },
      reset: () => pub.disconnect(true),
    };
  }
  if (sharded) {
    return {
      ready: () => pub.status === 'ready',
      publish: (channel, msg) => pub.spublish(channel, bufferOf(msg)) as Promise<number>,
      async publishProbe(channel, msg, probe) {
        // The probed channels share the published one's hash slot (`{prefix}` tag): one shard.
        return pipelineResult(await pub.pipeline().call('PUBSUB', cmd, ...probe).spublish(channel, bufferOf(msg)).exec());
      },
      reset: () => pub.disconnect(true),
    };
  }
  let pinned: Redis | undefined;
  const master = (): Redis | undefined => {
    if (pinned && pinned.status === 'ready') return pinned;
    pinned = pub.status === 'ready' ? pub.nodes('master').find((n) => n.status === 'ready') : undefined;
    return pinned;
  };
  return {
    ready: () => master() !== undefined,
    publish(channel, msg) {
      const m = master();
      if (!m) return Promise.reject(new Error("Stream isn't writeable (no master ready)"));
      return m.publish(channel, bufferOf(msg));
    },
    async publishProbe(channel, msg, probe) {
      const counts = await numsub(pub, false, [channel, ...probe]);
      const m = master();
      if (!m) throw new Error("Stream isn't writeable (no master ready)");
      await m.publish(channel, bufferOf(msg));
      return [counts[0] ?? 0, counts.slice(1)];
    },
    reset: () => pub.disconnect(true),
  };
}

function pipelineResult(results: [Error | null, unknown][] | null): [number, number[]] {
  if (!results || results.length < 2) throw new Error('pipeline without results');
  const [probe, published] = results as [[Error | null, unknown], [Error | null, unknown]];
  if (published[0]) throw published[0];
  if (probe[0]) throw probe[0];
  return [Number(published[1]), numbers(probe[1])];
}
