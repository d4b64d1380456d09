/**
 * What Redis refuses is reported as such: a subscription refused at start makes `ready()`
 * reject with REDIS_SUBSCRIBE_FAILED (not REDIS_DOWN); a room subscription or a publish refused
 * later is counted and reported, and nothing waits for ever. Refusals come from an ACL user
 * allowed only some channels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { recorder } from '@stelar/test-utils';
import { Cluster, RedisServer, tick, until } from './helpers';

let server: RedisServer | undefined;
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.dispose();
  await server?.stop();
  cluster = server = undefined;
});

async function withUser(channels: string): Promise<string> {
  server = await RedisServer.start();
  const admin = new Redis(server.url);
  try {
    await admin.call('ACL', 'SETUSER', 'limited', 'on', '>pw', '~*', 'resetchannels', channels, '+@all');
  } finally {
    admin.disconnect();
  }
  return `redis://limited:pw@127.0.0.1:${server.port}`;
}

describe('refusals by Redis', () => {
  it('subscriptions refused at start: ready() rejects with REDIS_SUBSCRIBE_FAILED and Redis’s reason', async () => {
    const url = await withUser('&elsewhere*');
    cluster = new Cluster(url);
    const t0 = Date.now();
    const err = await cluster.add({ startTimeout: 5_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REDIS_SUBSCRIBE_FAILED' });
    expect((err as Error).message).toMatch(/NOPERM/);
    expect(Date.now() - t0).toBeLessThan(2_000); // at once, not after startTimeout
    expect(cluster.nodes[0]!.adapter.stats.subscribeFailures).toBeGreaterThanOrEqual(1);
  });

  it('sharded: a room channel refused: the JOIN is still answered, the failure counted and reported; a refused publish too', async () => {
    const prefix = 'refusal';
    const url = await withUser(`&{${prefix}}*`); // control channels allowed, room channels not
    cluster = new Cluster(url, prefix);
    const errors: string[] = [];
    const a = await cluster.add({ sharded: true, onError: (e) => errors.push((e as { code?: string }).code ?? e.message) });
    const c = await a.client();
    const rec = recorder(c);
    const t0 = Date.now();
    await c.join('r'); // acknowledged although the subscription failed
    expect(Date.now() - t0).toBeLessThan(1_500);
    await a.adapter.sync();
    expect(a.adapter.stats.subscribeFailures).toBe(1);
    a.hub.to('r').emit('m', 1); // local delivery; the SPUBLISH is refused (NOPERM)
    await until(() => rec.get('m')?.length === 1 && a.adapter.stats.publishFailures === 1);
    await tick(20);
    expect(a.hub.getStats().errors['REDIS_PUBLISH_FAILED']).toBe(1);
    expect(a.hub.getStats().errors['REDIS_SUBSCRIBE_FAILED']).toBe(1);
    expect(errors).toEqual(expect.arrayContaining(['REDIS_SUBSCRIBE_FAILED', 'REDIS_PUBLISH_FAILED']));
    expect(a.adapter.stats.pendingPublishes).toBe(0);
  });
});
