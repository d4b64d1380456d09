/**
 * @stelar/test-utils: the helpers Stelar's test suites share. Private (never published); tests
 * import it from its sources through the workspace, and no package's src may import it
 * (scripts/test/layering.test.ts).
 */
export { sleep, until } from './wait';
export { freePort } from './net';
export { cuttingProxy, type CuttingProxy } from './proxy';
export { selfSignedCert } from './tls';
export { CHROMIUM, launchChromium, launchChromiumProfile, requireChromium } from './chromium';
export { redisForTest, startRedis } from './redis';
export { spawnChild, type Child } from './child';
export { bundleSources } from './bundle';
export { disposeNodes, recorder } from './nodes';
