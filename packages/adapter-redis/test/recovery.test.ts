/**
 * Connection-state recovery (HubOptions.recovery) needs a log of the cluster's broadcasts that
 * no Redis mode keeps yet: a hub with recovery refuses the adapter at construction, as core does
 * for any adapter without a log, and no connection to Redis is left behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Hub } from '@stelar/core';
import { createRedisAdapter } from '../src/index';
import { RedisServer, tick } from './helpers';

let server: RedisServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('connection-state recovery', () => {
  it.each([false, true])('a hub with recovery refuses the Redis adapter (sharded: %s) at construction, and opens no Redis connection', async (sharded) => {
    server = await RedisServer.start();
    const adapter = createRedisAdapter({ url: server.url, sharded });
    expect(() => new Hub({ recovery: true, adapter })).toThrow(/^RedisAdapter does not support connection-state recovery \(HubOptions\.recovery\)/);
    await tick(100);
    const admin = new Redis(server.url);
    try {
      const names = String(await admin.call('CLIENT', 'LIST'))
        .split('\n')
        .filter(Boolean)
        .map((l) => /\bname=(\S*)/.exec(l)?.[1] ?? '');
      expect(names.filter((n) => n.startsWith('stelar-'))).toEqual([]);
    } finally {
      admin.disconnect();
    }
    await adapter.close();
  });
});
