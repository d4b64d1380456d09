export { RedisAdapter, createRedisAdapter, RedisErrorCode, type RedisAdapterOptions, type RedisAdapterStats } from './adapter';
export { ENVELOPE_VERSION } from '@stelar/cluster';
