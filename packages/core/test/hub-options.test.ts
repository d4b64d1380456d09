import { describe, expect, it } from 'vitest';
import { hubSettings } from '../src/hub-options';
import { randomId } from '../src/ids';

describe('hubSettings', () => {
  it('fills the documented defaults', () => {
    const s = hubSettings({});
    expect(s).toEqual({
      maxRoomsPerConnection: 256,
      maxRooms: 100_000,
      handshakeTimeout: 10_000,
      heartbeat: { interval: 25_000, timeout: 20_000 },
      requestTimeout: 10_000,
      maxFrameSize: 1024 * 1024,
      maxConcurrentRequests: 64,
      maxHandlersInFlight: 10_000,
      maxQueuedFrames: 64,
      generateId: randomId,
      rateLimit: undefined,
      exposeErrors: false,
    });
  });

  it('keeps what is given; heartbeat merges with its defaults or is off; a rate limit that limits nothing is none', () => {
    expect(hubSettings({ heartbeat: { interval: 5 } }).heartbeat).toEqual({ interval: 5, timeout: 20_000 });
    expect(hubSettings({ heartbeat: false }).heartbeat).toBe(false);
    expect(hubSettings({ maxFrameSize: 100, maxQueuedFrames: 1 })).toMatchObject({ maxFrameSize: 100, maxQueuedFrames: 1 });
    expect(hubSettings({ rateLimit: {} }).rateLimit).toBeUndefined();
    expect(hubSettings({ rateLimit: { onExceeded: 'disconnect' } }).rateLimit).toBeUndefined();
    const rl = { events: { chat: { rate: 1 } } };
    expect(hubSettings({ rateLimit: rl }).rateLimit).toBe(rl);
  });
});
