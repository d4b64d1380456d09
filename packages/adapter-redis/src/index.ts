export { RedisAdapter, createRedisAdapter, RedisErrorCode, type RedisAdapterOptions, type RedisAdapterStats } from './adapter';
export { offsetOfId, idOfOffset, type RedisStreamOptions } from './stream';
export { ENVELOPE_VERSION } from '@stelar/cluster';
